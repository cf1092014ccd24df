"""Two hands from one render: a rendered right-hand frame and its mirror image (a left hand) side by side.

`side_by_side(image, K)` returns the composite ``[image | mirror_image(image)]`` (H, 2W, 3) and K unchanged.

Which half holds what, and which ground truth stays valid:

* The LEFT half (columns 0 .. W-1) is the render itself: the right hand and its object, seen through the
  render's K. The render's annotation (3D joints, object pose, 2D projections, boxes) is valid as is for
  this half, under the returned K.
* The RIGHT half (columns W .. 2W-1) is the render flipped left-right: a LEFT hand holding the mirrored
  object. Its 2D truth is the render's mirrored about the composite's centre column W - 1/2:
  ``mirror_pixels(uv, 2W)`` for points and ``mirror_box(box, 2W)`` for boxes (`hfl_ros.geometry.mirror`).
  Its 3D truth (``mirror_points`` of the render's, x -> -x) projects onto those pixels through
  ``mirror_intrinsics(K, 2W)`` (cx -> 2W - 1 - cx), NOT through the returned K: the composite is two
  pinhole views glued together, not one camera, so for the right half only the 2D truth (pixels, boxes,
  which side) holds under the returned K.
* The composite is its own mirror image (``mirror_image(composite) == composite``): the left-right flipped
  view of the composite, in which a left hand is estimated as a right one, shows the left hand exactly as
  the render shows the right hand, so the render's annotation with the render's K is that view's truth.

For one consistent camera, cut the render at its principal point first (`seam_at_principal_point`): its K
then has cx = W - 1/2 (moved by at most half a pixel), ``mirror_intrinsics(K, 2W) == K``, and the composite
is one pinhole view of the scene and its mirror image about the camera's y-z plane: the right half's 3D
truth is ``mirror_points`` of the render's (poses: ``mirror_pose``) under the returned K, as a consumer that
projects a left hand's 3D pose with the frame's K (the pipeline's object boxes) needs. The render's hand
must then lie left of its principal point (`render_sequence(..., offset=...)` shifts it there).
"""

from typing import Tuple

import numpy as np

from hfl_ros.geometry.checks import as_numpy
from hfl_ros.geometry.mirror import mirror_image

#: The composite's half that holds the render (the right hand); the other holds its mirror (the left hand).
RENDER_HALF = "left"
MIRROR_HALF = "right"


def seam_at_principal_point(image: np.ndarray, K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The render's columns left of its principal point, and its K with cx on the cut (see the module docstring).

    image: (H, W, 3) uint8 RGB; K: (3, 3) px with 0 < cx < W - 1. Returns (image (H, W', 3) with
    W' = round(cx + 1/2), K (3, 3) px with cx = W' - 1/2).
    """
    image = np.asarray(image)
    K = as_numpy(K, "K", shape="3,3").copy()
    if image.ndim != 3 or not 0 < K[0, 2] < image.shape[1] - 1:
        raise ValueError(f"K's cx {K[0, 2]} must lie inside the image (H, W, 3), got shape {image.shape}")
    width = int(round(K[0, 2] + 0.5))
    K[0, 2] = width - 0.5
    return np.ascontiguousarray(image[:, :width]), K


def side_by_side(image: np.ndarray, K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The composite of a right-hand render and its mirror (see the module docstring).

    image: (H, W, 3) uint8 RGB, the render (a right hand); K: (3, 3) px, its intrinsics.
    Returns (composite (H, 2W, 3) uint8 RGB, K (3, 3) px: the render's intrinsics, valid for the left half).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}")
    K = as_numpy(K, "K", shape="3,3").copy()
    return np.ascontiguousarray(np.concatenate((image, mirror_image(image)), axis=1)), K
