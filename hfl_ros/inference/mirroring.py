"""Left hands: mirror the view, run the right-hand network, mirror the estimate back.

`estimate_sides(estimator, image, K, requests, object_model)` estimates several hands of one image
(`SideRequest`: boxes and side of each), all crops in ONE batched network call
(`HandObjectEstimator.estimate_batch`); `estimate_side(...)` is its one-request case, for either hand.
One request is bit-equal to the network run on its crop alone; in a batch of two each hand gets what its
single call gives up to the summation order of batched convolutions (measured on the bundled frame, plain
and default paths: joints 2e-7 m, 2D joints 5e-5 px, control points equal). `benchmarks/two_hands.py`
measures what the batch saves against two single calls.
For ``side="left"``:

1. the image, its intrinsics and both boxes are flipped left-right (`hfl_ros.geometry.mirror`);
2. the network sees a right hand; the object's control points are mirrored too (``MIRROR @ points``), as in
   HFL-Net's DexYCB training on mirrored left-hand frames, so PnP solves the pose of the mirrored object in
   the mirrored camera, ``(R', t')``;
3. everything is mirrored back: joints, mesh (faces re-wound), 2D joints, wrist pose, MANO pose, boxes, and
   the object pose ``R = MIRROR R' MIRROR``, ``t = MIRROR t'``.

What this means for the object pose. Mirroring is a reflection, not a rotation: the object in the flipped
image is the mirror image of the real one. Solving PnP with the mirrored control points keeps every pose a
proper rotation (det +1): mirrored back, ``(R, t)`` is the pose of the REAL (unmirrored) object model, the
one registered, and it is published as such. (Solving with the unmirrored points and mirroring back with
``MIRROR @ R'`` would give a matrix of det -1, which is no pose.) The control points are the corners of the
model's box, so the pose is exact for the box; for a chiral object (a mug's handle, a drill) the network sees
the mirror twin of the object it was trained on when the checkpoint saw no mirrored frames (HO3D is right
hands only; DexYCB training mirrors its left-hand frames and so includes mirrored objects): expect lower
object accuracy on left hands with an HO3D checkpoint. The hand is the left MANO hand: its MANO pose is in
the left model's convention (axis-angles ``(x, -y, -z)`` of the right hand's) and its mesh is the mirrored
right mesh.
"""

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from hfl_ros.constants import SIDES
from hfl_ros.geometry.mirror import (
    mirror_axis_angles, mirror_box, mirror_faces, mirror_intrinsics, mirror_pixels, mirror_points, mirror_pose,
    mirror_rotation,
)
from hfl_ros.inference.estimator import CropRequest, check_image
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate
from hfl_ros.objects import ObjectModel


def check_side(side: str) -> str:
    """`side` if it is "right" or "left", else ValueError naming it."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    return side


def mirror_object_model(model: ObjectModel) -> ObjectModel:
    """The mirror twin of an object model: vertices and control points x -> -x, faces re-wound."""
    return dataclasses.replace(
        model, control_points=mirror_points(model.control_points), vertices=mirror_points(model.vertices),
        faces=mirror_faces(model.faces) if len(model.faces) else model.faces,
    )


def mirror_hand(hand: HandEstimate, width: int, side: str) -> HandEstimate:
    """A hand estimated in the flipped view of an image `width` px wide, seen in the original view as `side`."""
    return dataclasses.replace(
        hand, joints=mirror_points(hand.joints), vertices=mirror_points(hand.vertices),
        faces=mirror_faces(hand.faces), joints_2d=mirror_pixels(hand.joints_2d, width),
        wrist_pose=mirror_pose(hand.wrist_pose), mano_pose=mirror_axis_angles(hand.mano_pose),
        box=mirror_box(hand.box, width), side=check_side(side),
    )


def mirror_object(obj: ObjectEstimate, width: int) -> ObjectEstimate:
    """An object estimated in the flipped view (with the mirrored model) -> the real object in the original view."""
    return dataclasses.replace(
        obj,
        rotation=None if obj.rotation is None else mirror_rotation(obj.rotation),
        translation=None if obj.translation is None else mirror_points(obj.translation),
        control_points_2d=mirror_pixels(obj.control_points_2d, width), box=mirror_box(obj.box, width),
    )


def mirror_estimate(estimate: HandObjectEstimate, width: int) -> HandObjectEstimate:
    """An estimate made on the flipped view of an image `width` px wide, mirrored back (hand side flipped)."""
    side = "left" if estimate.hand.side == "right" else "right"
    return dataclasses.replace(estimate, hand=mirror_hand(estimate.hand, width, side),
                               object=mirror_object(estimate.object, width))


@dataclass(frozen=True)
class SideRequest:
    """One hand of a frame to estimate: hand_box, object_box (4,) px, image (unmirrored); side "right" / "left";
    object_model: the (unmirrored) object this hand holds, None = the one `estimate_sides` is given."""

    hand_box: np.ndarray
    object_box: np.ndarray
    side: str = "right"
    object_model: Optional[ObjectModel] = None


def side_crops(K: np.ndarray, width: int, requests: Sequence[SideRequest],
               object_model: ObjectModel) -> List[CropRequest]:
    """The estimator's crop of each request (`HandObjectEstimator.prepare_batch`), in request order: as given
    for a right hand; for a left one the flipped view's K and boxes, the mirrored model, `mirrored=True`.

    K: (3, 3) px of the image, `width` px wide; object_model: the registered (unmirrored) model of the
    requests that name none. Raises ValueError for an unknown side.
    """
    mirrored: Dict[int, ObjectModel] = {}  # id(model) -> its mirror twin, made once per call
    crops = []
    for request in requests:
        model = object_model if request.object_model is None else request.object_model
        if check_side(request.side) == "right":
            crops.append(CropRequest(K, request.hand_box, request.object_box, model))
            continue
        if id(model) not in mirrored:
            mirrored[id(model)] = mirror_object_model(model)
        crops.append(CropRequest(mirror_intrinsics(K, width), mirror_box(request.hand_box, width),
                                 mirror_box(request.object_box, width), mirrored[id(model)], mirrored=True))
    return crops


def estimate_sides(estimator, image: np.ndarray, K: np.ndarray, requests: Sequence[SideRequest],
                   object_model: ObjectModel) -> List[HandObjectEstimate]:
    """`estimator.estimate_batch` (a HandObjectEstimator) for right and left hands: one estimate per request,
    all crops in ONE network call of batch len(requests).

    image: (H, W, 3) uint8 RGB; K: (3, 3) px; requests: the hands (boxes in the unmirrored image);
    object_model: the registered (unmirrored) model of every request that names none. A left request is cropped
    from the flipped image with the flipped K and boxes and the mirrored model, and its estimate mirrored back.
    Returns the estimates in request order, in the original image and camera frame, `hand.side` = its side.
    Raises ValueError for an unknown side or no request, EstimationError (`index`: the request at fault,
    when one is) for inputs that cannot be estimated.
    """
    if not requests:
        raise ValueError("estimate_sides needs at least one SideRequest")
    check_image(image)
    width = image.shape[1]
    estimates = estimator.estimate_batch(image, side_crops(K, width, requests, object_model))
    return [mirror_estimate(estimate, width) if request.side == "left" else estimate
            for request, estimate in zip(requests, estimates)]


def estimate_side(estimator, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                  object_model: ObjectModel, side: str = "right") -> HandObjectEstimate:
    """`estimator.estimate` (a HandObjectEstimator) for a right or a left hand: `estimate_sides` of one request.

    image: (H, W, 3) uint8 RGB; K: (3, 3) px; hand_box, object_box: (4,) px, image (unmirrored);
    object_model: the registered (unmirrored) model; side: "right" or "left".
    Returns the estimate in the original image and camera frame, `hand.side` = side.
    """
    return estimate_sides(estimator, image, K, [SideRequest(hand_box, object_box, side)], object_model)[0]
