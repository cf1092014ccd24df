"""Known object pose -> synthetic decoder maps -> selected correspondences -> EPnP + RANSAC recovers it."""

import math
from typing import Tuple

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hfl_ros.constants import NUM_CONTROL_POINTS, ROI_SIZE
from hfl_ros.geometry import camera
from hfl_ros.geometry import object_pose as object_pose_module
from hfl_ros.geometry.control_points import control_points_from_points
from hfl_ros.geometry.object_pose import (
    ObjectPose,
    ObjectPoseSettings,
    best_control_points,
    estimate_object_pose,
    select_correspondences,
    solve_object_pose,
)

K = np.array([[615.0, 0.0, 320.0], [0.0, 615.0, 240.0], [0.0, 0.0, 1.0]])
IMAGE_SIZE = (640, 480)
CONTROL_POINTS = control_points_from_points(
    np.array([[-0.035, -0.045, -0.09], [0.035, 0.045, 0.09]])  # a mustard-bottle-sized box
)
ROTATION = Rotation.from_rotvec([0.4, -1.1, 0.7]).as_matrix()
TRANSLATION = np.array([0.04, -0.03, 0.55])
PEAK, NEIGHBOUR, BACKGROUND = 0.9, 0.7, 0.05


def _rotation_error_deg(a: np.ndarray, b: np.ndarray) -> float:
    cosine = (np.trace(a.T @ b) - 1) / 2
    return math.degrees(math.acos(np.clip(cosine, -1.0, 1.0)))


def _cell(u: float, v: float) -> Tuple[int, int]:
    """Grid cell (row, column) containing a normalised point."""
    return int(np.clip(v * ROI_SIZE, 0, ROI_SIZE - 1)), int(np.clip(u * ROI_SIZE, 0, ROI_SIZE - 1))


def _neighbourhood(row: int, col: int) -> Tuple[slice, slice]:
    return slice(max(row - 1, 0), min(row + 2, ROI_SIZE)), slice(max(col - 1, 0), min(col + 2, ROI_SIZE))


def _synthetic_maps(uv_box: np.ndarray, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoder maps: each point's cell (PEAK) and its 8 neighbours (NEIGHBOUR) all predict ``uv_box``;
    every other cell has BACKGROUND confidence and a random prediction."""
    rng = np.random.default_rng(seed)
    confidence = np.full((ROI_SIZE, ROI_SIZE, NUM_CONTROL_POINTS), BACKGROUND)
    x = rng.uniform(0, 1, size=confidence.shape)
    y = rng.uniform(0, 1, size=confidence.shape)
    for point, (u, v) in enumerate(uv_box):
        row, col = _cell(u, v)
        rows, cols = _neighbourhood(row, col)
        confidence[rows, cols, point] = NEIGHBOUR
        confidence[row, col, point] = PEAK
        x[rows, cols, point] = u
        y[rows, cols, point] = v
    return confidence, x, y


def _confident_cells(uv_box: np.ndarray) -> int:
    """How many cells the synthetic maps make confident (3 x 3 per point, fewer on the grid border)."""
    total = 0
    for u, v in uv_box:
        rows, cols = _neighbourhood(*_cell(u, v))
        total += (rows.stop - rows.start) * (cols.stop - cols.start)
    return total


def _scene() -> Tuple[np.ndarray, np.ndarray]:
    """Projected control points (21, 2) px and the object box (4,) px around them, full image."""
    uv = camera.project_points(camera.transform_points(CONTROL_POINTS, ROTATION, TRANSLATION), K)
    return uv, camera.points_box(uv)


def _assert_pose(pose: ObjectPose) -> None:
    assert pose is not None
    assert _rotation_error_deg(pose.rotation, ROTATION) < 1.0
    assert np.linalg.norm(pose.translation - TRANSLATION) < 1e-3


def test_round_trip_in_image_pixels() -> None:
    uv, box = _scene()
    uv_box = camera.normalise_in_box(uv, box)
    confidence, x, y = _synthetic_maps(uv_box)
    point_ids, selected, scores = select_correspondences(confidence, x, y)
    assert len(point_ids) == _confident_cells(uv_box)
    assert np.all(scores > 0.5)
    np.testing.assert_allclose(selected, uv_box[point_ids])
    pose = solve_object_pose(CONTROL_POINTS, point_ids, camera.denormalise_in_box(selected, box), K)
    _assert_pose(pose)
    assert pose.inliers == len(point_ids)
    assert pose.reprojection_error < 1e-3
    _assert_pose(estimate_object_pose(confidence, x, y, box, CONTROL_POINTS, K))


def test_a_solution_beyond_max_depth_is_no_pose() -> None:
    """EPnP on scattered correspondences can return a finite pose 1e30 m away; past max_depth it is refused,
    and the same correspondences within max_depth give the true pose back."""
    far = TRANSLATION + np.array([0.0, 0.0, 20.0])
    uv = camera.project_points(camera.transform_points(CONTROL_POINTS, ROTATION, far), K)
    ids = np.arange(len(CONTROL_POINTS))
    assert solve_object_pose(CONTROL_POINTS, ids, uv, K) is None  # default max_depth 10 m
    pose = solve_object_pose(CONTROL_POINTS, ids, uv, K, ObjectPoseSettings(max_depth=30.0))
    assert pose is not None and np.linalg.norm(pose.translation - far) < 1e-2


def test_round_trip_through_the_crop() -> None:
    """Solving in crop pixels with the crop's K gives the same pose as in image pixels."""
    uv, box = _scene()
    hand_box = np.array([250.0, 180.0, 360.0, 300.0])
    affine = camera.crop_affine(camera.crop_box(hand_box, box, IMAGE_SIZE))
    crop_box = camera.affine_boxes(box, affine)
    crop_uv = camera.apply_affine(uv, affine)
    # The box-normalised coordinates are the same in both images (the affine is scale + translation).
    np.testing.assert_allclose(camera.normalise_in_box(crop_uv, crop_box), camera.normalise_in_box(uv, box), atol=1e-12)
    confidence, x, y = _synthetic_maps(camera.normalise_in_box(crop_uv, crop_box))
    _assert_pose(estimate_object_pose(confidence, x, y, crop_box, CONTROL_POINTS, camera.affine_intrinsics(K, affine)))
    # Or map the crop box back to the image and use the original K.
    image_box = camera.affine_boxes(crop_box, camera.invert_affine(affine))
    _assert_pose(estimate_object_pose(confidence, x, y, image_box, CONTROL_POINTS, K))


def test_outliers_are_rejected_by_ransac() -> None:
    uv, box = _scene()
    uv_box = camera.normalise_in_box(uv, box)
    confidence, x, y = _synthetic_maps(uv_box, seed=1)
    # Three control points confidently predict a wrong location in four of their cells.
    for point in (2, 9, 17):
        row, col = _cell(*uv_box[point])
        rows, cols = _neighbourhood(row, col)
        x[rows, cols, point][:2] += 0.3
    pose = estimate_object_pose(confidence, x, y, box, CONTROL_POINTS, K)
    _assert_pose(pose)
    assert pose.inliers < _confident_cells(uv_box)


def test_noisy_predictions_still_recover_the_pose() -> None:
    uv, box = _scene()
    rng = np.random.default_rng(2)
    confidence, x, y = _synthetic_maps(camera.normalise_in_box(uv, box), seed=2)
    confident = confidence > 0.5
    width, height = box[2] - box[0], box[3] - box[1]
    x[confident] += rng.normal(scale=0.3 / width, size=confident.sum())  # 0.3 px noise
    y[confident] += rng.normal(scale=0.3 / height, size=confident.sum())
    _assert_pose(estimate_object_pose(confidence, x, y, box, CONTROL_POINTS, K))


def test_too_few_confident_cells_is_no_pose() -> None:
    uv, box = _scene()
    confidence, x, y = _synthetic_maps(camera.normalise_in_box(uv, box))
    confidence[...] = 0.4
    for point in range(5):  # 5 confident cells < 6
        confidence[10, 10, point] = 0.95
    confidence[11, 11, 5] = 0.5  # exactly the threshold: not kept
    point_ids, _, _ = select_correspondences(confidence, x, y)
    assert len(point_ids) == 5
    assert estimate_object_pose(confidence, x, y, box, CONTROL_POINTS, K) is None
    assert solve_object_pose(CONTROL_POINTS, np.zeros(0, dtype=np.int64), np.zeros((0, 2)), K) is None


def test_selection_order_top_k_and_threshold() -> None:
    uv, box = _scene()
    uv_box = camera.normalise_in_box(uv, box)
    confidence, x, y = _synthetic_maps(uv_box)
    point_ids, _, scores = select_correspondences(confidence, x, y)
    # Rank-major order: every point's best cell first.
    np.testing.assert_array_equal(point_ids[:NUM_CONTROL_POINTS], np.arange(NUM_CONTROL_POINTS))
    np.testing.assert_allclose(scores[:NUM_CONTROL_POINTS], PEAK)
    ids_top1, _, _ = select_correspondences(confidence, x, y, top_k=1)
    np.testing.assert_array_equal(ids_top1, np.arange(NUM_CONTROL_POINTS))
    ids_strict, _, scores_strict = select_correspondences(confidence, x, y, threshold=0.8)
    assert len(ids_strict) == NUM_CONTROL_POINTS and np.all(scores_strict == PEAK)
    ids_wide, _, _ = select_correspondences(confidence, x, y, top_k=12, threshold=0.0)
    assert len(ids_wide) == 12 * NUM_CONTROL_POINTS
    settings = ObjectPoseSettings(top_k=1, threshold=0.8)
    _assert_pose(estimate_object_pose(confidence, x, y, box, CONTROL_POINTS, K, settings))


def test_best_control_points_and_torch_inputs() -> None:
    uv, box = _scene()
    uv_box = camera.normalise_in_box(uv, box)
    confidence, x, y = _synthetic_maps(uv_box)
    best, scores = best_control_points(torch.tensor(confidence), torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(best, uv_box)
    np.testing.assert_allclose(scores, PEAK)
    _assert_pose(estimate_object_pose(*(torch.tensor(a, dtype=torch.float32) for a in (confidence, x, y)),
                                      torch.tensor(box), torch.tensor(CONTROL_POINTS), torch.tensor(K)))


@pytest.mark.parametrize(
    "fake_result",
    [
        (False, np.zeros(3), np.array([0.0, 0.0, 1.0]), None),                 # OpenCV reports failure
        (True, np.zeros(3), np.array([0.0, 0.0, np.nan]), np.arange(10)),     # non-finite
        (True, np.zeros(3), np.array([0.0, 0.0, -0.5]), np.arange(10)),       # behind the camera
        (True, np.zeros(3), np.array([0.0, 0.0, 0.05]), np.arange(10)),       # camera inside the object
    ],
)
def test_bad_opencv_results_are_no_pose(monkeypatch, fake_result) -> None:
    monkeypatch.setattr(object_pose_module.cv2, "solvePnPRansac", lambda *args, **kwargs: fake_result)
    uv, _ = _scene()
    assert solve_object_pose(CONTROL_POINTS, np.arange(NUM_CONTROL_POINTS), uv, K) is None


def test_opencv_exception_is_no_pose(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise cv2.error("synthetic failure")

    monkeypatch.setattr(object_pose_module.cv2, "solvePnPRansac", fail)
    uv, _ = _scene()
    assert solve_object_pose(CONTROL_POINTS, np.arange(NUM_CONTROL_POINTS), uv, K) is None


def test_non_finite_predictions_do_not_break_the_solver() -> None:
    uv, _ = _scene()
    uv[3] = np.nan
    pose = solve_object_pose(CONTROL_POINTS, np.arange(NUM_CONTROL_POINTS), uv, K)
    _assert_pose(pose)
    assert pose.inliers == NUM_CONTROL_POINTS - 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: select_correspondences(np.zeros((32, 32, 20)), np.zeros((32, 32, 20)), np.zeros((32, 32, 20))),
        lambda: select_correspondences(np.zeros((32, 32, 21)), np.zeros((32, 32, 21)), np.zeros((16, 16, 21))),
        lambda: select_correspondences(*[np.zeros((32, 32, 21))] * 3, top_k=0),
        lambda: solve_object_pose(CONTROL_POINTS, np.array([0, 21]), np.zeros((2, 2)), K),
        lambda: solve_object_pose(CONTROL_POINTS, np.arange(6), np.zeros((5, 2)), K),
        lambda: solve_object_pose(CONTROL_POINTS, np.arange(6.0), np.zeros((6, 2)), K),
        lambda: solve_object_pose(CONTROL_POINTS[:8], np.arange(6), np.zeros((6, 2)), K),
        lambda: solve_object_pose(CONTROL_POINTS, np.arange(6), np.zeros((6, 2)), np.eye(4)),
        lambda: ObjectPoseSettings(min_correspondences=3),
        lambda: ObjectPoseSettings(threshold=1.0),
        lambda: ObjectPoseSettings(reprojection_error=0.0),
        lambda: ObjectPoseSettings(max_depth=0.0),
    ],
)
def test_bad_inputs_raise(call) -> None:
    with pytest.raises(ValueError):
        call()
