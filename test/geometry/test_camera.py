"""Projection, crop box and affine round trips, boxes and intrinsics under the crop affine."""

import numpy as np
import pytest
import torch

from hfl_ros.constants import CROP_SIZE
from hfl_ros.geometry import camera

K = np.array([[615.0, 0.0, 321.5], [0.0, 612.0, 238.25], [0.0, 0.0, 1.0]])
IMAGE_SIZE = (640, 480)


def _points(seed: int, count: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform((-0.2, -0.15, 0.4), (0.2, 0.15, 0.9), size=(count, 3))


def test_project_points_known_values_numpy_and_torch() -> None:
    points = np.array([[0.0, 0.0, 1.0], [0.1, -0.2, 0.5]])
    expected = np.array([[321.5, 238.25], [321.5 + 615 * 0.2, 238.25 - 612 * 0.4]])
    np.testing.assert_allclose(camera.project_points(points, K), expected)
    projected = camera.project_points(torch.tensor(points, dtype=torch.float32), K)
    assert isinstance(projected, torch.Tensor) and projected.dtype == torch.float32
    np.testing.assert_allclose(projected.numpy(), expected, rtol=1e-6)


def test_project_points_batched_with_per_sample_K() -> None:
    points = np.stack((_points(0), _points(1)))
    Ks = np.stack((K, K * np.array([[2.0], [2.0], [1.0]])))
    projected = camera.project_points(points, Ks)
    assert projected.shape == (2, 50, 2)
    np.testing.assert_allclose(projected[1], camera.project_points(points[1], Ks[1]))


def test_transform_points_matches_explicit_formula() -> None:
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    translation = np.array([0.1, 0.2, 0.3])
    points = _points(2)
    expected = (rotation @ points.T).T + translation
    np.testing.assert_allclose(camera.transform_points(points, rotation, translation), expected)
    stacked = torch.tensor(np.stack((points, points)))
    batched = camera.transform_points(stacked, np.stack((rotation, rotation.T)), np.zeros((2, 3)))
    np.testing.assert_allclose(batched[1].numpy(), points @ rotation)


def test_points_box_expansion_and_integer_centre() -> None:
    points = np.array([[10.0, 20.0], [30.0, 60.0], [15.0, 25.0]])
    np.testing.assert_allclose(camera.points_box(points), [10, 20, 30, 60])
    np.testing.assert_allclose(camera.points_box(points, 1.5), [5, 10, 35, 70])
    odd = np.array([[10.0, 20.0], [31.0, 61.0]])  # centre (20.5, 40.5) truncates to (20, 40)
    np.testing.assert_allclose(camera.points_box(odd, 1.0, integer_centre=True), [9.5, 19.5, 30.5, 60.5])


def test_crop_box_is_the_square_around_the_expanded_union() -> None:
    hand = np.array([100.0, 100.0, 200.0, 180.0])   # x1.5 -> [75, 80, 225, 200]
    obj = np.array([180.0, 150.0, 260.0, 210.0])    # x1.5 -> [160, 135, 280, 225]
    box = camera.crop_box(hand, obj, IMAGE_SIZE)
    # Union [75, 80, 280, 225]: centre (177.5, 152.5) -> (177, 152); side max(205, 145) = 205.
    np.testing.assert_allclose(box, [177 - 102.5, 152 - 102.5, 177 + 102.5, 152 + 102.5])
    exact = camera.crop_box(hand, obj, IMAGE_SIZE, integer_centres=False)
    np.testing.assert_allclose(exact, [75, 50, 280, 255])
    assert np.isclose(box[2] - box[0], box[3] - box[1])


def test_crop_box_clips_only_the_union_to_the_image() -> None:
    hand = np.array([-40.0, 400.0, 60.0, 470.0])  # x1.5 -> [-65, 382.5, 85, 487.5]
    obj = np.array([20.0, 420.0, 40.0, 440.0])    # x1.5 -> [15, 415, 45, 445]
    box = camera.crop_box(hand, obj, IMAGE_SIZE, integer_centres=False)
    # Clipped union [0, 382.5, 85, 480]: side max(85, 97.5) = 97.5 about centre (42.5, 431.25).
    np.testing.assert_allclose(box, [42.5 - 48.75, 431.25 - 48.75, 42.5 + 48.75, 431.25 + 48.75])
    assert box[0] < 0  # the square itself may leave the image


def test_crop_box_rejects_boxes_outside_the_image() -> None:
    with pytest.raises(ValueError, match="does not overlap"):
        camera.crop_box(np.array([700.0, 10, 720, 30]), np.array([710.0, 10, 730, 30]), IMAGE_SIZE)
    with pytest.raises(ValueError, match="x1 <= x2"):
        camera.crop_box(np.array([50.0, 10, 20, 30]), np.array([10.0, 10, 30, 30]), IMAGE_SIZE)
    with pytest.raises(ValueError, match="image_size"):
        camera.crop_box(np.array([10.0, 10, 20, 30]), np.array([10.0, 10, 30, 30]), (0, 480))


def test_crop_affine_maps_box_corners_to_crop_corners_and_round_trips() -> None:
    box = np.array([110.5, 60.0, 350.5, 300.0])
    affine = camera.crop_affine(box)
    corners = camera.apply_affine(box.reshape(2, 2), affine)
    np.testing.assert_allclose(corners, [[0, 0], [CROP_SIZE, CROP_SIZE]], atol=1e-12)
    points = np.random.default_rng(3).uniform(0, 640, size=(100, 2))
    back = camera.apply_affine(camera.apply_affine(points, affine), camera.invert_affine(affine))
    np.testing.assert_allclose(back, points, atol=1e-9)
    tensor_back = camera.apply_affine(torch.tensor(points), affine)
    np.testing.assert_allclose(tensor_back.numpy(), camera.apply_affine(points, affine))


def test_crop_affine_agrees_with_opencv_warp() -> None:
    cv2 = pytest.importorskip("cv2")
    image = np.zeros((480, 640), dtype=np.float32)
    image[200, 300] = 1.0  # a single bright pixel centred at (300, 200)
    affine = camera.crop_affine(np.array([236.0, 136.0, 364.0, 264.0]), out_size=128)  # scale 1
    crop = cv2.warpAffine(image, affine, (128, 128), flags=cv2.INTER_NEAREST)
    row, col = np.unravel_index(np.argmax(crop), crop.shape)
    np.testing.assert_allclose(camera.apply_affine(np.array([300.0, 200.0]), affine), [col, row])


def test_affine_intrinsics_reproject_like_warped_points() -> None:
    points = _points(4)
    box = camera.crop_box(np.array([200.0, 150.0, 330.0, 260.0]), np.array([280.0, 200.0, 380.0, 300.0]), IMAGE_SIZE)
    affine = camera.crop_affine(box)
    crop_K = camera.affine_intrinsics(K, affine)
    np.testing.assert_allclose(crop_K[2], [0, 0, 1])
    assert crop_K[0, 1] == 0 and crop_K[1, 0] == 0
    warped = camera.apply_affine(camera.project_points(points, K), affine)
    np.testing.assert_allclose(camera.project_points(points, crop_K), warped, atol=1e-9)


def test_affine_intrinsics_rejects_rotation() -> None:
    rotation = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0]])
    with pytest.raises(ValueError, match="scale \\+ translation"):
        camera.affine_intrinsics(K, rotation)


def test_affine_boxes_move_the_corners() -> None:
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 1.0]])
    affine = np.array([[2.0, 0.0, 5.0], [0.0, 0.5, -1.0]])
    np.testing.assert_allclose(camera.affine_boxes(boxes, affine), [[25, 9, 65, 29], [5, -1, 7, -0.5]])
    flip = np.array([[-1.0, 0.0, 100.0], [0.0, 1.0, 0.0]])  # mirror: still an ordered box
    np.testing.assert_allclose(camera.affine_boxes(boxes[0], flip), [70, 20, 90, 60])
    rotated = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(camera.affine_boxes(torch.tensor(boxes[:1]), rotated).numpy(), [[-60, 10, -20, 30]])


def test_normalise_and_denormalise_in_box_are_inverse() -> None:
    box = np.array([100.0, 50.0, 164.0, 82.0])
    points = np.array([[100.0, 50.0], [164.0, 82.0], [132.0, 66.0]])
    normalised = camera.normalise_in_box(points, box)
    np.testing.assert_allclose(normalised, [[0, 0], [1, 1], [0.5, 0.5]])
    np.testing.assert_allclose(camera.denormalise_in_box(normalised, box), points)
    batched = camera.denormalise_in_box(torch.rand(3, 21, 2, dtype=torch.float64), torch.tensor(np.stack([box] * 3)))
    assert batched.shape == (3, 21, 2)


def test_invert_affine_rejects_singular() -> None:
    with pytest.raises(ValueError, match="not invertible"):
        camera.invert_affine(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: camera.project_points(np.zeros((5, 2)), K),
        lambda: camera.project_points(np.zeros((5, 3)), np.eye(4)),
        lambda: camera.apply_affine(np.zeros((5, 3)), np.zeros((2, 3))),
        lambda: camera.apply_affine(np.zeros((5, 2)), np.zeros((3, 3))),
        lambda: camera.points_box(np.zeros((0, 2))),
        lambda: camera.points_box(np.zeros((4, 2)), expansion=0.0),
        lambda: camera.crop_affine(np.zeros(3)),
        lambda: camera.affine_boxes(np.zeros((2, 3)), np.zeros((2, 3))),
        lambda: camera.affine_intrinsics(np.eye(2), np.zeros((2, 3))),
    ],
)
def test_bad_inputs_raise_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_non_arrays_raise_type_error() -> None:
    with pytest.raises(TypeError):
        camera.project_points([[0.0, 0.0, 1.0]], K)
    with pytest.raises(TypeError):
        camera.apply_affine(torch.zeros(3, 2, dtype=torch.int64), np.zeros((2, 3)))
