"""sensor_msgs/CameraInfo -> validated pinhole intrinsics (pure functions, no ROS)."""

from typing import Sequence

import numpy as np

#: Which CameraInfo matrix gives the intrinsics of the subscribed image.
INTRINSICS_SOURCES = ("k", "p")


class IntrinsicsError(ValueError):
    """CameraInfo that cannot serve as the intrinsics of a frame; the message says why."""


def intrinsics_from_camera_info(k: Sequence[float], p: Sequence[float], source: str = "k") -> np.ndarray:
    """The (3, 3) intrinsic matrix K, px, of a CameraInfo.

    k: CameraInfo.k, 9 values row-major (the raw image's intrinsics);
    p: CameraInfo.p, 12 values row-major (its left 3x3 = the rectified image's intrinsics);
    source: "k" for a raw (distorted) image topic, "p" for a rectified one (image_rect).
    Raises IntrinsicsError unless K is finite with fx, fy > 0 and last row (0, 0, 1).
    """
    if source not in INTRINSICS_SOURCES:
        raise ValueError(f"source must be one of {INTRINSICS_SOURCES}, got {source!r}")
    values = np.asarray(k if source == "k" else p, dtype=np.float64).reshape(-1)
    expected = 9 if source == "k" else 12
    if values.size != expected:
        raise IntrinsicsError(f"camera_info.{source} must have {expected} values, got {values.size}")
    matrix = values.reshape(3, 3) if source == "k" else values.reshape(3, 4)[:, :3]
    if not np.all(np.isfinite(matrix)):
        raise IntrinsicsError(f"camera_info.{source} has non-finite values: {matrix.tolist()}")
    if matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        raise IntrinsicsError(f"camera_info.{source} focal lengths must be > 0, got fx={matrix[0, 0]}, "
                              f"fy={matrix[1, 1]} (uncalibrated camera?)")
    if not np.allclose(matrix[2], (0.0, 0.0, 1.0)):
        raise IntrinsicsError(f"camera_info.{source} last row must be (0, 0, 1), got {matrix[2].tolist()}")
    return matrix.copy()


def check_image_size(info_width: int, info_height: int, image_width: int, image_height: int) -> None:
    """Raise IntrinsicsError when a calibrated size (non-zero) differs from the image's size, px."""
    if info_width == 0 and info_height == 0:
        return
    if (info_width, info_height) != (image_width, image_height):
        raise IntrinsicsError(f"camera_info is for {info_width}x{info_height} but the image is "
                              f"{image_width}x{image_height}")
