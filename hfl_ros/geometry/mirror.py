"""Left-right mirroring of a camera view: image, intrinsics, pixels, boxes, 3D points, rotations and poses.

HFL-Net estimates right hands only. A left hand is estimated as DexYCB's protocol does it: flip the image
left-right, estimate the right hand seen in the flipped image, and mirror the results back.

Conventions (the same as `hfl_ros.data.dexycb`)
-----------------------------------------------
* The image flip maps pixel column ``u`` to ``W - 1 - u`` (integer coordinates are pixel centres), so a
  continuous x coordinate ``u`` becomes ``W - 1 - u`` and a box ``[x1, y1, x2, y2]`` becomes
  ``[W - 1 - x2, y1, W - 1 - x1, y2]``. The intrinsics follow: ``cx -> W - 1 - cx`` (fx, fy, cy unchanged).
* In the camera frame the flip is the reflection ``MIRROR = diag(-1, 1, 1)`` (x -> -x): projecting
  ``MIRROR @ p`` with the mirrored intrinsics gives the flipped pixel of ``p``.
* A rotation ``R`` (e.g. camera-from-object) becomes ``MIRROR @ R @ MIRROR``, still a proper rotation
  (det +1); a pose ``[R | t]`` becomes ``[MIRROR R MIRROR | MIRROR t]``. This is the pose of the MIRRORED
  body (its points mirrored in its own frame) in the mirrored camera. Mirroring twice is the identity.
* A MANO axis-angle ``(x, y, z)`` becomes ``(x, -y, -z)`` (the left MANO model mirrors the right one).
* A mirrored mesh keeps its vertices' order but its triangles turn inside out: reverse each face's winding.
"""

from typing import Tuple

import numpy as np

from hfl_ros.geometry.checks import as_numpy

#: Reflection of the camera frame about its y-z plane (x -> -x).
MIRROR = np.diag([-1.0, 1.0, 1.0])
#: Per-component sign of an axis-angle under MIRROR (a rotation R becomes MIRROR R MIRROR).
MIRROR_AXIS_ANGLE = np.array([1.0, -1.0, -1.0])


def _width(width: int) -> int:
    if int(width) != width or width < 1:
        raise ValueError(f"width must be a positive integer number of pixels, got {width}")
    return int(width)


def mirror_image(image: np.ndarray) -> np.ndarray:
    """The left-right flip of an image (H, W, ...) (a contiguous copy)."""
    image = np.asarray(image)
    if image.ndim < 2:
        raise ValueError(f"image must have shape (H, W, ...), got {image.shape}")
    return np.ascontiguousarray(image[:, ::-1])


def mirror_intrinsics(K: np.ndarray, width: int) -> np.ndarray:
    """K (3, 3) px of the left-right flipped image of `width` px: principal point cx -> width - 1 - cx."""
    mirrored = as_numpy(K, "K", shape="3,3").copy()
    mirrored[0, 2] = _width(width) - 1 - mirrored[0, 2]
    return mirrored


def mirror_pixels(points: np.ndarray, width: int) -> np.ndarray:
    """Pixels (..., 2) of an image `width` px wide -> the same points in the flipped image (u -> W - 1 - u)."""
    mirrored = as_numpy(points, "points", shape="*,2").copy()
    mirrored[..., 0] = _width(width) - 1 - mirrored[..., 0]
    return mirrored


def mirror_box(box: np.ndarray, width: int) -> np.ndarray:
    """A box (4,) px [x1, y1, x2, y2] -> the same region in the flipped image (still x1 <= x2)."""
    box = as_numpy(box, "box", shape="4")
    right = _width(width) - 1
    return np.array([right - box[2], box[1], right - box[0], box[3]])


def mirror_points(points: np.ndarray) -> np.ndarray:
    """Points (..., 3) m -> their reflection by MIRROR (x -> -x), in the same frame."""
    points = as_numpy(points, "points", shape="*,3")
    return points * np.diag(MIRROR)


def mirror_rotation(rotation: np.ndarray) -> np.ndarray:
    """Rotation (..., 3, 3) -> MIRROR R MIRROR (a proper rotation again)."""
    rotation = as_numpy(rotation, "rotation", shape="*,3,3")
    return MIRROR @ rotation @ MIRROR


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """Rigid transform (4, 4) [R | t] -> [MIRROR R MIRROR | MIRROR t]."""
    pose = as_numpy(pose, "pose", shape="4,4")
    mirrored = pose.copy()
    mirrored[:3, :3] = mirror_rotation(pose[:3, :3])
    mirrored[:3, 3] = mirror_points(pose[:3, 3])
    return mirrored


def mirror_axis_angles(pose: np.ndarray) -> np.ndarray:
    """(..., 3k) stacked axis-angles rad -> their images under MIRROR: (x, y, z) -> (x, -y, -z)."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape[-1] % 3:
        raise ValueError(f"pose's last dimension must be a multiple of 3, got {pose.shape}")
    return (pose.reshape(pose.shape[:-1] + (-1, 3)) * MIRROR_AXIS_ANGLE).reshape(pose.shape)


def mirror_faces(faces: np.ndarray) -> np.ndarray:
    """Triangles (F, 3) of a mesh whose vertices were mirrored: the same triangles, winding reversed."""
    faces = as_numpy(faces, "faces", shape="F,3", dtype=None)
    return np.ascontiguousarray(faces[:, ::-1])


def mirror_view(image: np.ndarray, K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The flipped image (H, W, C) and its intrinsics (3, 3)."""
    return mirror_image(image), mirror_intrinsics(K, image.shape[1])
