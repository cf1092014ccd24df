"""side_by_side: the render on the left half and its flip on the right, K kept; the composite is its own mirror,
the right half's true pixels are the render's mirrored about the centre column, and its mirrored 3D truth
projects there through the mirrored intrinsics (not through K); a render cut at its principal point makes one
camera for both halves; bad input is refused by name."""

import numpy as np
import pytest

from hfl_ros.data.synthetic.two_hands import seam_at_principal_point, side_by_side
from hfl_ros.geometry.camera import project_points
from hfl_ros.geometry.mirror import mirror_image, mirror_intrinsics, mirror_pixels, mirror_points

H, W = 4, 6
K = np.array([[500.0, 0.0, 2.5], [0.0, 500.0, 1.5], [0.0, 0.0, 1.0]])


@pytest.fixture()
def image():
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_left_half_is_the_render_right_half_its_flip_and_K_is_kept(image):
    composite, K_pair = side_by_side(image, K)
    assert composite.shape == (H, 2 * W, 3) and composite.dtype == np.uint8
    np.testing.assert_array_equal(composite[:, :W], image)
    np.testing.assert_array_equal(composite[:, W:], image[:, ::-1])
    np.testing.assert_array_equal(K_pair, K)
    np.testing.assert_array_equal(mirror_image(composite), composite)


def test_right_half_truth_pixels_are_mirrored_about_the_centre_column(image):
    composite, K_pair = side_by_side(image, K)
    rows, columns = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    uv = np.stack((columns.ravel(), rows.ravel()), axis=1).astype(np.float64)
    mirrored = mirror_pixels(uv, 2 * W).astype(int)
    np.testing.assert_array_equal(composite[mirrored[:, 1], mirrored[:, 0]], image[rows.ravel(), columns.ravel()])
    points = np.array([[0.01, -0.02, 0.5], [-0.03, 0.01, 0.6]])
    truth_uv = project_points(points, K_pair)
    mirrored_uv = project_points(mirror_points(points), mirror_intrinsics(K_pair, 2 * W))
    np.testing.assert_allclose(mirrored_uv, mirror_pixels(truth_uv, 2 * W), atol=1e-9)
    # the composite's K does not carry the mirrored 3D truth: two glued views, not one camera
    assert not np.allclose(project_points(mirror_points(points), K_pair), mirrored_uv, atol=1.0)


@pytest.mark.parametrize("bad", [np.zeros((H, W), np.uint8), np.zeros((H, W, 4), np.uint8),
                                 np.zeros((H, W, 3), np.float32)])
def test_refuses_an_image_that_is_not_uint8_rgb(bad):
    with pytest.raises(ValueError, match="image must be"):
        side_by_side(bad, K)


def test_refuses_bad_intrinsics(image):
    with pytest.raises(ValueError, match="K"):
        side_by_side(image, np.eye(2))


def test_a_render_cut_at_its_principal_point_makes_one_camera_for_both_halves(image):
    cut, K_cut = seam_at_principal_point(image, K)  # cx 2.5 -> the cut keeps 3 columns, cx 2.5 on the seam
    assert cut.shape == (H, 3, 3) and K_cut[0, 2] == 2.5
    np.testing.assert_array_equal(cut, image[:, :3])
    composite, K_pair = side_by_side(cut, K_cut)
    np.testing.assert_array_equal(mirror_intrinsics(K_pair, composite.shape[1]), K_pair)
    points = np.array([[-0.01, -0.02, 0.5], [-0.03, 0.01, 0.6]])
    np.testing.assert_allclose(project_points(mirror_points(points), K_pair),
                               mirror_pixels(project_points(points, K_pair), composite.shape[1]), atol=1e-9)


def test_seam_refuses_a_principal_point_outside_the_image(image):
    outside = K.copy()
    outside[0, 2] = W + 10.0
    with pytest.raises(ValueError, match="cx"):
        seam_at_principal_point(image, outside)
