"""Z-buffered rasteriser: coverage, depth, barycentrics, occlusion and back-face culling."""

import numpy as np

from hfl_ros.data.synthetic.raster import rasterize

K = np.array([[100.0, 0.0, 20.0], [0.0, 100.0, 15.0], [0.0, 0.0, 1.0]])


def _square(depth: float, half: float) -> tuple:
    """A square facing the camera (counter-clockwise seen from the camera = outward towards it)."""
    vertices = np.array([[-half, -half, depth], [-half, half, depth], [half, half, depth], [half, -half, depth]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def test_square_covers_its_projection_with_exact_depth() -> None:
    vertices, faces = _square(1.0, 0.055)  # projects to x in [14.5, 25.5], y in [9.5, 20.5]
    raster = rasterize(vertices, faces, K, (40, 30))
    covered = raster.face >= 0
    expected = np.zeros((30, 40), bool)
    expected[10:21, 15:26] = True
    np.testing.assert_array_equal(covered, expected)
    np.testing.assert_allclose(raster.depth[covered], 1.0, rtol=1e-6)
    assert np.isinf(raster.depth[~covered]).all()
    np.testing.assert_allclose(raster.barycentric.sum(axis=1), 1.0, atol=1e-6)
    # Barycentric interpolation of the vertices gives back the 3D point on each pixel's ray.
    corners = vertices[faces[raster.face.reshape(-1)[raster.pixels]]]
    points = np.einsum("pk,pkc->pc", raster.barycentric, corners)
    ys, xs = np.divmod(raster.pixels, 40)
    np.testing.assert_allclose(points[:, 0] * 100 / points[:, 2] + 20, xs, atol=1e-3)
    np.testing.assert_allclose(points[:, 1] * 100 / points[:, 2] + 15, ys, atol=1e-3)


def test_nearer_surface_wins_and_back_faces_can_be_culled() -> None:
    far, far_faces = _square(2.0, 0.2)
    near, near_faces = _square(1.0, 0.03)
    vertices = np.vstack((far, near))
    faces = np.vstack((far_faces, near_faces + 4))
    raster = rasterize(vertices, faces, K, (40, 30))
    assert raster.face[15, 20] in (2, 3) and raster.face[12, 12] in (0, 1) and raster.face[2, 2] == -1
    assert abs(raster.depth[15, 20] - 1.0) < 1e-5 and abs(raster.depth[12, 12] - 2.0) < 1e-5
    flipped = faces[:, ::-1]
    assert (rasterize(vertices, flipped, K, (40, 30), cullable=np.ones(4, bool)).face < 0).all()
    assert (rasterize(vertices, faces, K, (40, 30), cullable=np.ones(4, bool)).face >= 0).any()


def test_faces_behind_the_camera_are_skipped() -> None:
    vertices, faces = _square(-1.0, 0.1)
    assert (rasterize(vertices, faces, K, (40, 30)).face < 0).all()
