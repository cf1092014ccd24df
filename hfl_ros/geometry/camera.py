"""Pinhole projection, the square input crop and its affine map, boxes and intrinsics under an affine.

Conventions
-----------
* Boxes are ``[x1, y1, x2, y2]`` in pixels; points are ``(x, y)`` pixels, x right, y down.
* An affine ``A`` is a (2, 3) matrix acting on continuous pixel coordinates: ``p' = A[:, :2] @ p + A[:, 2]``.
* The crop (HFL-Net's evaluation crop, as published in its data loaders):

  1. expand the hand box and the object box by ``CROP_HAND_EXPANSION`` / ``CROP_OBJECT_EXPANSION`` about
     their centres (the published loaders expand BOTH boxes by 1.5; the object box given here is the
     unexpanded box of the 21 projected control points);
  2. take the union of the two expanded boxes and clip it to the image: its corners are clamped to
     ``[0, W] x [0, H]`` (only the union is clipped; the final square may still extend past the image);
  3. the square's centre is the centre of the clipped union and its side is ``max(width, height)`` of it.
     With ``integer_centres=True`` (the published behaviour) every centre computed in steps 1 and 3 is
     truncated to an integer pixel (Python ``int``, i.e. towards zero) before use.

* ``crop_affine`` maps the square crop box onto ``[0, out_size]^2``: ``p' = s * (p - centre) + out_size / 2``
  with ``s = out_size / side``. The box corners go to (0, 0) and (out_size, out_size).
  To warp an image consistently with points under the usual "integer coordinates are pixel centres"
  convention, use ``cv2.warpAffine(image, A, (out_size, out_size))``. (HFL-Net warped with PIL, which puts
  pixel centres at ``k + 0.5``; that differs from the cv2 warp by ``0.5 * (1 - s)`` crop pixels.)
* Intrinsics under a scale+translation affine: ``K' = [A; 0 0 1] @ K``, so that projecting with ``K'`` equals
  applying ``A`` to the projection with ``K``.

Functions marked "numpy or torch" accept either and return the type of their first argument (which must
be an array: its type decides the result's); their other arguments follow it. The others compute in numpy
float64 and accept anything numpy can read. Argument checks: `hfl_ros.geometry.checks`.
"""

from typing import Tuple

import numpy as np
import torch

from hfl_ros.constants import CROP_HAND_EXPANSION, CROP_OBJECT_EXPANSION, CROP_SIZE
from hfl_ros.geometry.checks import ArrayLike, ArrayT, as_box, as_numpy, as_type_of, check_array, check_shape

_AFFINE_TOLERANCE = 1e-9


def _affine(affine: ArrayLike) -> np.ndarray:
    """An affine as float64 (2, 3), checked: finite."""
    return as_numpy(affine, "affine", shape="2,3", finite=True)


def project_points(points: ArrayT, K: ArrayLike) -> ArrayT:
    """Pinhole projection (numpy or torch, batched).

    points: (..., N, 3) m, camera frame (OpenCV optical); depths should be positive (no check: a
        non-positive depth gives a meaningless or infinite pixel).
    K: (..., 3, 3) intrinsics, broadcast against the batch dimensions of ``points``.
    Returns (..., N, 2) px, image.
    """
    check_array(points, "points", "*,N,3")
    K = as_type_of(K, points)
    check_shape(K, "*,3,3", "K")
    homogeneous = points @ K.swapaxes(-1, -2)
    return homogeneous[..., :2] / homogeneous[..., 2:3]


def transform_points(points: ArrayT, rotation: ArrayLike, translation: ArrayLike) -> ArrayT:
    """Rigid transform ``R @ p + t`` (numpy or torch, batched).

    points: (..., N, 3) m, source frame; rotation: (..., 3, 3) target-from-source;
    translation: (..., 3) m, target frame. Returns (..., N, 3) m, target frame.
    """
    check_array(points, "points", "*,N,3")
    rotation = as_type_of(rotation, points)
    translation = as_type_of(translation, points)
    check_shape(rotation, "*,3,3", "rotation")
    check_shape(translation, "*,3", "translation")
    return points @ rotation.swapaxes(-1, -2) + translation[..., None, :]


def points_box(points: ArrayLike, expansion: float = 1.0, integer_centre: bool = False) -> np.ndarray:
    """Axis-aligned box of 2D points, expanded about its centre.

    points: (N, 2) px, N >= 1.
    expansion: factor applied to the width and height about the centre (HFL-Net: 1.1 for the network's
        hand box from the 2D joints, 1.0 for the object box from the projected control points).
    integer_centre: truncate the centre to an integer (``int``) first, as the published loaders do.
    Returns (4,) px ``[x1, y1, x2, y2]``.
    """
    array = as_numpy(points, "points", shape="N,2", finite=True)
    if len(array) == 0:
        raise ValueError(f"points must hold at least one point, got shape {array.shape}")
    if not np.isfinite(expansion) or expansion <= 0:
        raise ValueError(f"expansion must be a positive number, got {expansion}")
    low, high = array.min(axis=0), array.max(axis=0)
    centre = (low + high) / 2
    if integer_centre:
        centre = np.trunc(centre)
    half = (high - low) * expansion / 2
    return np.concatenate((centre - half, centre + half))


def expand_box(box: ArrayLike, expansion: float, integer_centre: bool = False) -> np.ndarray:
    """A box (4,) px scaled by ``expansion`` about its centre (optionally truncated to an integer). Returns (4,) px."""
    array = as_box(box, "box")
    return points_box(array.reshape(2, 2), expansion, integer_centre)


def crop_box(
    hand_box: ArrayLike,
    object_box: ArrayLike,
    image_size: Tuple[int, int],
    hand_expansion: float = CROP_HAND_EXPANSION,
    object_expansion: float = CROP_OBJECT_EXPANSION,
    integer_centres: bool = True,
) -> np.ndarray:
    """Square crop region around the hand and the object (see the module docstring for the convention).

    hand_box: (4,) px, image, unexpanded hand box (annotation box or box of the 2D joints).
    object_box: (4,) px, image, unexpanded box of the object (of its 21 projected control points).
    image_size: (W, H) px.
    Returns (4,) px, image: the square ``[cx - side/2, cy - side/2, cx + side/2, cy + side/2]``.
    Raises ValueError when the union of the boxes does not overlap the image.
    """
    width, height = _image_size(image_size)
    hand = expand_box(hand_box, hand_expansion, integer_centres)
    obj = expand_box(object_box, object_expansion, integer_centres)
    low = np.maximum(np.minimum(hand[:2], obj[:2]), 0.0)
    high = np.minimum(np.maximum(hand[2:], obj[2:]), (width, height))
    extent = high - low
    if np.any(extent <= 0):
        raise ValueError(
            f"the union of hand box {hand} and object box {obj} does not overlap the {width}x{height} image"
        )
    centre = (low + high) / 2
    if integer_centres:
        centre = np.trunc(centre)
    half = extent.max() / 2
    return np.concatenate((centre - half, centre + half))


def _image_size(image_size: Tuple[int, int]) -> Tuple[float, float]:
    size = np.asarray(image_size, dtype=np.float64)
    if size.shape != (2,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(f"image_size must be (W, H) with positive entries, got {image_size}")
    return float(size[0]), float(size[1])


def crop_affine(box: ArrayLike, out_size: int = CROP_SIZE) -> np.ndarray:
    """Affine mapping image px onto crop px for a (square) crop box.

    box: (4,) px, image; a non-square box is treated as the square of side max(width, height) with the
        same centre (aspect ratio is always preserved).
    out_size: side of the crop, px.
    Returns (2, 3): ``crop_px = A[:, :2] @ image_px + A[:, 2]``; the box corners go to 0 and out_size.
    """
    array = as_box(box, "box")
    if out_size <= 0:
        raise ValueError(f"out_size must be positive, got {out_size}")
    side = max(array[2] - array[0], array[3] - array[1])
    if side <= 0:
        raise ValueError(f"box must have a positive size, got {array}")
    centre = (array[:2] + array[2:]) / 2
    scale = out_size / side
    offset = out_size / 2 - scale * centre
    return np.array([[scale, 0.0, offset[0]], [0.0, scale, offset[1]]])


def invert_affine(affine: ArrayLike) -> np.ndarray:
    """Inverse of an invertible affine (2, 3). Returns (2, 3). Raises ValueError if it is singular."""
    array = _affine(affine)
    linear = array[:, :2]
    determinant = np.linalg.det(linear)
    if abs(determinant) < _AFFINE_TOLERANCE * max(1.0, np.abs(linear).max() ** 2):
        raise ValueError(f"affine is not invertible (determinant {determinant}): {array.tolist()}")
    inverse = np.linalg.inv(linear)
    return np.concatenate((inverse, -inverse @ array[:, 2:]), axis=1)


def apply_affine(points: ArrayT, affine: ArrayLike) -> ArrayT:
    """Apply an affine (2, 3) to points (..., 2) px (numpy or torch). Returns (..., 2) px."""
    check_array(points, "points", "*,2")
    matrix = as_type_of(_affine(affine), points)
    return points @ matrix[:, :2].T + matrix[:, 2]


def affine_boxes(boxes: ArrayT, affine: ArrayLike) -> ArrayT:
    """Axis-aligned boxes of the four moved corners of each box (numpy or torch).

    boxes: (..., 4) px ``[x1, y1, x2, y2]``; affine: (2, 3). Returns (..., 4) px.
    """
    check_array(boxes, "boxes", "*,4")
    x1, y1, x2, y2 = (boxes[..., k] for k in range(4))
    stack = np.stack if isinstance(boxes, np.ndarray) else torch.stack
    corners = stack([stack([x1, y1], -1), stack([x2, y1], -1), stack([x1, y2], -1), stack([x2, y2], -1)], -2)
    moved = apply_affine(corners, affine)
    if isinstance(moved, np.ndarray):
        return np.concatenate((moved.min(axis=-2), moved.max(axis=-2)), axis=-1)
    return torch.cat((moved.min(dim=-2).values, moved.max(dim=-2).values), dim=-1)


def affine_intrinsics(K: ArrayLike, affine: ArrayLike) -> np.ndarray:
    """Intrinsics seen through an image affine: ``K' = [A; 0 0 1] @ K``.

    K: (3, 3) intrinsics of the source image; affine: (2, 3) scale + translation (no rotation or shear,
        otherwise K' would not be an intrinsic matrix; raises ValueError).
    Returns (3, 3) intrinsics of the warped image.
    """
    intrinsics = as_numpy(K, "K", shape="3,3")
    array = _affine(affine)
    off_diagonal = np.abs(array[[0, 1], [1, 0]])
    if np.any(off_diagonal > _AFFINE_TOLERANCE * np.abs(array[[0, 1], [0, 1]])):
        raise ValueError(f"affine must be scale + translation only, got {array.tolist()}")
    return np.vstack((array, (0.0, 0.0, 1.0))) @ intrinsics


def _in_box_arguments(points: ArrayT, box: ArrayLike) -> ArrayT:
    """Checks the in-box maps' ``points`` (..., N, 2) and ``box`` (..., 4); returns ``box`` as ``points``' type."""
    check_array(points, "points", "*,N,2")
    box = as_type_of(box, points)
    check_shape(box, "*,4", "box")
    return box


def normalise_in_box(points: ArrayT, box: ArrayLike) -> ArrayT:
    """Pixels -> coordinates normalised to [0, 1] inside a box (numpy or torch).

    points: (..., N, 2) px; box: (..., 4) px, broadcast over N. Returns (..., N, 2), (0, 0) = box corner (x1, y1).
    """
    box = _in_box_arguments(points, box)
    return (points - box[..., None, :2]) / (box[..., None, 2:] - box[..., None, :2])


def denormalise_in_box(points: ArrayT, box: ArrayLike) -> ArrayT:
    """Coordinates normalised in a box -> pixels: ``box_xy1 + points * box_size`` (numpy or torch).

    points: (..., N, 2) normalised; box: (..., 4) px, broadcast over N. Returns (..., N, 2) px.
    """
    box = _in_box_arguments(points, box)
    return box[..., None, :2] + points * (box[..., None, 2:] - box[..., None, :2])
