"""Mesh operations: vertex normals, boundary loops and caps, decimation."""

import numpy as np
import pytest
import trimesh

from hfl_ros.geometry.mesh import boundary_cap, boundary_loops, decimate_mesh, vertex_normals


def test_vertex_normals_of_a_sphere_point_outwards_and_isolated_vertices_get_zero() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    vertices = np.vstack((sphere.vertices, [[1.0, 1.0, 1.0]]))  # one vertex no face uses
    normals = vertex_normals(vertices, sphere.faces)
    outward = sphere.vertices / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    assert (np.einsum("ij,ij->i", normals[:-1], outward) > 0.99).all()  # within 8 degrees of the radius
    np.testing.assert_array_equal(normals[-1], 0.0)
    np.testing.assert_allclose(vertex_normals(vertices, sphere.faces[:, ::-1])[:-1], -normals[:-1], atol=1e-12)


def test_boundary_cap_closes_an_open_box_with_consistent_orientation() -> None:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    top = box.vertices[box.faces].mean(axis=1)[:, 2] > 0.49
    faces = box.faces[~top]  # the box without its two top triangles: one boundary loop of 4 vertices
    loops = boundary_loops(faces)
    assert len(loops) == 1 and sorted(loops[0]) == sorted(np.flatnonzero(box.vertices[:, 2] > 0))
    cap = boundary_cap(faces)
    assert cap.shape == (4, 3) and (cap[:, 2] == len(box.vertices)).all()
    closed = trimesh.Trimesh(np.vstack((box.vertices, [[0.0, 0.0, 0.5]])), np.vstack((faces, cap)), process=False)
    assert closed.is_watertight and closed.is_winding_consistent and boundary_loops(closed.faces) == []


def test_decimate_mesh_bounds_faces_and_keeps_extent() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    vertices, faces = decimate_mesh(sphere.vertices, sphere.faces, 400)
    assert 200 <= len(faces) <= 400 and faces.max() < len(vertices)
    np.testing.assert_allclose(np.ptp(vertices, axis=0), np.ptp(sphere.vertices, axis=0), rtol=0.15)
    same_vertices, same_faces = decimate_mesh(sphere.vertices, sphere.faces, 10**6)
    assert len(same_faces) == len(sphere.faces)
    with pytest.raises(ValueError):
        decimate_mesh(sphere.vertices, sphere.faces, 2)
