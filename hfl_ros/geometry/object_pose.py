"""Object decoder maps -> 2D control points -> 6-DoF pose by EPnP inside RANSAC, or "no pose".

The decoder gives, per cell (row i, column j) of a 32 x 32 grid and per control point k, a confidence in
[0, 1] and a prediction (x, y) of the control point normalised to [0, 1] inside the object box. As in the
published HFL-Net evaluation, each control point contributes its ``top_k`` most confident cells whose
confidence exceeds ``threshold``; those 2D-3D correspondences go to ``cv2.solvePnPRansac`` with
``SOLVEPNP_EPNP``. Fewer than ``min_correspondences`` (6) means no pose (``None``).
"""

import logging
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from hfl_ros.constants import NUM_CONTROL_POINTS, ROI_SIZE
from hfl_ros.geometry.camera import denormalise_in_box, transform_points
from hfl_ros.geometry.checks import ArrayLike, as_numpy

LOGGER = logging.getLogger(__name__)

#: Shape of each decoder map of one sample: grid rows, grid columns, control points.
_MAP_SHAPE = (ROI_SIZE, ROI_SIZE, NUM_CONTROL_POINTS)


@dataclass(frozen=True)
class ObjectPoseSettings:
    """How decoder maps become a pose (defaults = HFL-Net's evaluation and OpenCV's RANSAC defaults).

    top_k: cells kept per control point; threshold: minimum confidence (strictly greater);
    min_correspondences: fewer kept cells than this = no pose;
    reprojection_error: RANSAC inlier threshold, px in the image the correspondences are expressed in;
    iterations: RANSAC iterations; confidence: RANSAC success probability;
    max_depth: m, a solution with a control point farther from the camera plane than this is no pose (EPnP
    on scattered correspondences can return finite, far-off solutions, e.g. 1e30 m).
    """

    top_k: int = 10
    threshold: float = 0.5
    min_correspondences: int = 6
    reprojection_error: float = 8.0
    iterations: int = 100
    confidence: float = 0.99
    max_depth: float = 10.0

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold}")
        if self.min_correspondences < 4:
            raise ValueError(f"min_correspondences must be >= 4 (EPnP needs 4), got {self.min_correspondences}")
        if self.reprojection_error <= 0:
            raise ValueError(f"reprojection_error must be positive, got {self.reprojection_error}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if not self.max_depth > 0:
            raise ValueError(f"max_depth must be positive (m), got {self.max_depth}")


@dataclass(frozen=True)
class ObjectPose:
    """A solved object pose.

    rotation: (3, 3) camera-from-object; translation: (3,) m, camera frame (OpenCV optical);
    inliers: number of RANSAC inlier correspondences; reprojection_error: mean over the inliers, px.
    """

    rotation: np.ndarray
    translation: np.ndarray
    inliers: int
    reprojection_error: float


def _decoder_maps(confidence: ArrayLike, x: ArrayLike, y: ArrayLike) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three (32, 32, 21) decoder maps of one sample as float64."""
    named = (("confidence", confidence), ("x", x), ("y", y))
    return tuple(as_numpy(value, name, shape=_MAP_SHAPE) for name, value in named)


def select_correspondences(
    confidence: ArrayLike, x: ArrayLike, y: ArrayLike, top_k: int = 10, threshold: float = 0.5,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` most confident cells of every control point whose confidence exceeds ``threshold``.

    confidence: (32, 32, 21) probabilities, cell (row i, column j) per control point.
    x, y: (32, 32, 21) control-point predictions normalised to [0, 1] inside the object box.
    Returns ``point_ids`` (M,) int64 control-point index, ``uv_box`` (M, 2) normalised (x, y) in the object
    box, ``scores`` (M,) confidence; ordered by rank first (every point's best cell, then every point's
    second best, ...), then by control point, as the published evaluation orders them. Ties in confidence
    go to the lower flat cell index (row-major).
    """
    conf, xs, ys = _decoder_maps(confidence, x, y)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    cells = ROI_SIZE * ROI_SIZE
    flat_conf = conf.reshape(cells, NUM_CONTROL_POINTS)
    ranked = np.argsort(-flat_conf, axis=0, kind="stable")[: min(top_k, cells)]  # (top_k, 21) cell indices
    point_grid = np.broadcast_to(np.arange(NUM_CONTROL_POINTS), ranked.shape)
    scores = flat_conf[ranked, point_grid]
    keep = scores > threshold
    uv = np.stack(
        [values.reshape(cells, NUM_CONTROL_POINTS)[ranked, point_grid] for values in (xs, ys)], axis=-1
    )
    return point_grid[keep].astype(np.int64), uv[keep], scores[keep]


def best_control_points(confidence: ArrayLike, x: ArrayLike, y: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """The most confident cell's prediction of every control point (for drawing).

    confidence, x, y: (32, 32, 21) as in ``select_correspondences``.
    Returns ``uv`` (21, 2) normalised (x, y) in the object box and ``scores`` (21,) their confidence.
    """
    conf, xs, ys = _decoder_maps(confidence, x, y)
    cells = ROI_SIZE * ROI_SIZE
    flat_conf = conf.reshape(cells, NUM_CONTROL_POINTS)
    best = flat_conf.argmax(axis=0)
    points = np.arange(NUM_CONTROL_POINTS)
    uv = np.stack((xs.reshape(cells, -1)[best, points], ys.reshape(cells, -1)[best, points]), axis=-1)
    return uv, flat_conf[best, points]


def solve_object_pose(
    control_points: ArrayLike,
    point_ids: ArrayLike,
    uv_px: ArrayLike,
    K: ArrayLike,
    settings: ObjectPoseSettings = ObjectPoseSettings(),
) -> Optional[ObjectPose]:
    """EPnP + RANSAC pose from 2D-3D control-point correspondences.

    control_points: (21, 3) m, object frame. point_ids: (M,) int index into ``control_points``.
    uv_px: (M, 2) px, in the image ``K`` describes (the full image, or the crop with the crop's K).
    K: (3, 3) intrinsics (no distortion). settings: thresholds (``top_k``/``threshold`` are not used here).
    Returns ObjectPose, or None when there are fewer than ``settings.min_correspondences`` correspondences,
    OpenCV fails, the result is not finite, or any control point would lie at non-positive depth or beyond
    ``settings.max_depth``.
    """
    points_3d = as_numpy(control_points, "control_points", shape=(NUM_CONTROL_POINTS, 3))
    ids = as_numpy(point_ids, "point_ids", shape="M", dtype=None)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"point_ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= NUM_CONTROL_POINTS):
        raise ValueError(f"point_ids must lie in [0, {NUM_CONTROL_POINTS}), got range [{ids.min()}, {ids.max()}]")
    uv = as_numpy(uv_px, "uv_px", shape=(len(ids), 2))
    intrinsics = as_numpy(K, "K", shape="3,3")

    if len(ids) < settings.min_correspondences:
        LOGGER.debug("no object pose: %d correspondences < %d", len(ids), settings.min_correspondences)
        return None
    object_points = np.ascontiguousarray(points_3d[ids])
    image_points = np.ascontiguousarray(uv)
    try:
        success, rvec, tvec, inliers = cv2.solvePnPRansac(
            object_points, image_points, intrinsics, None,
            iterationsCount=settings.iterations,
            reprojectionError=float(settings.reprojection_error),
            confidence=float(settings.confidence),
            flags=cv2.SOLVEPNP_EPNP,
        )
    except cv2.error as error:
        LOGGER.debug("no object pose: OpenCV failed: %s", error)
        return None
    if not success or inliers is None or len(inliers) == 0:
        LOGGER.debug("no object pose: RANSAC found no consensus")
        return None
    rvec, tvec = np.asarray(rvec, dtype=np.float64).reshape(3), np.asarray(tvec, dtype=np.float64).reshape(3)
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        LOGGER.debug("no object pose: non-finite solution")
        return None
    rotation = cv2.Rodrigues(rvec)[0]
    camera_points = transform_points(points_3d, rotation, tvec)
    if np.any(camera_points[:, 2] <= 0):
        LOGGER.debug("no object pose: solution puts the object behind the camera")
        return None
    if np.any(camera_points[:, 2] > settings.max_depth):
        LOGGER.debug("no object pose: solution puts the object %.3g m away (max_depth %.3g m)",
                     camera_points[:, 2].max(), settings.max_depth)
        return None
    inlier_ids = np.asarray(inliers).reshape(-1)
    projected = camera_points[ids[inlier_ids]] @ intrinsics.T
    residuals = projected[:, :2] / projected[:, 2:] - uv[inlier_ids]
    return ObjectPose(
        rotation=rotation,
        translation=tvec,
        inliers=int(len(inlier_ids)),
        reprojection_error=float(np.linalg.norm(residuals, axis=1).mean()),
    )


def estimate_object_pose(
    confidence: ArrayLike,
    x: ArrayLike,
    y: ArrayLike,
    object_box: ArrayLike,
    control_points: ArrayLike,
    K: ArrayLike,
    settings: ObjectPoseSettings = ObjectPoseSettings(),
) -> Optional[ObjectPose]:
    """Decoder maps of one sample -> pose: select correspondences, map them to pixels, solve.

    confidence, x, y: (32, 32, 21) as in ``select_correspondences``.
    object_box: (4,) px, the object box the network saw, in the image ``K`` describes.
    control_points: (21, 3) m, object frame. K: (3, 3).
    Returns ObjectPose or None (see ``solve_object_pose``).
    """
    point_ids, uv_box, _ = select_correspondences(confidence, x, y, settings.top_k, settings.threshold)
    uv_px = denormalise_in_box(uv_box, as_numpy(object_box, "object_box", shape="4"))
    return solve_object_pose(control_points, point_ids, uv_px, K, settings)
