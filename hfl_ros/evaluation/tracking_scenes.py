"""Rendered sequences with ground truth, and a ground-truth estimator, for judging where boxes come from.

`render_sequence` renders one random grasp of the synthetic renderer (procedural hand + object) moving
across the image: the pair sweeps left-right and back while it sways, and leaves the view on the `hidden`
frames (a hand that walks out of the picture and comes back).

`BoxLimitedOracle` stands in for the network when what is judged is the choice of boxes, not the
network: it knows the frame's ground truth but sees it only through the boxes it is given, as HFL-Net does.
Its 2D joints are the true ones clamped into the hand box (the hand decoder's heatmaps cannot leave the
box) and its hand score is the fraction of true joints inside the box; its object control points are the
true projections where they lie within `object_reach` x the object box about its centre (the object
decoder votes with per-cell offsets and reaches somewhat past its box), confidence 1 there and 0 elsewhere
(clamped into that reach). It gives the true object pose when all 21 points are seen, else none. With an
untrained network, tracking would follow noise; with this oracle, a policy's boxes are judged alone.
`MirroredPairOracle` is the same for a `two_hands.side_by_side` composite: the render's right hand and its
mirror, a left hand, each seen through its own boxes, and either side markable as out of view.
"""

from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.synthetic import (SceneAssets, SyntheticScene, default_assets, draw_grasp, render_moved, sway,
                                    true_boxes)
from hfl_ros.geometry.camera import project_points, transform_points
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate
from hfl_ros.objects import ObjectModel

#: Peak rotation (rad) of the sway (hfl_ros.data.synthetic.sway) about the camera's y and x axes.
SWAY_ROTATION = (0.3, 0.15)
#: The up-down shift of the sway as a fraction of the left-right one.
SWAY_RISE = 0.3
#: Where hidden frames put the pair, m along the camera's x axis (far out of any view).
HIDDEN_SHIFT = 50.0


@dataclass(frozen=True)
class SequenceFrame:
    """One rendered frame: image (H, W, 3) uint8 RGB; annotation (ground truth, camera frame);
    hand_box (4,) px: the true joints' box x HAND_BOX_EXPANSION (the network's convention);
    object_box (4,) px: the box of the projected control points; visible: False on hidden frames."""

    image: np.ndarray
    annotation: FrameAnnotation
    hand_box: np.ndarray
    object_box: np.ndarray
    visible: bool


def render_sequence(seed: int, frames: int, image_size: Tuple[int, int] = (640, 480), sweep: float = 0.25,
                    hidden: Sequence[int] = (), assets: Optional[SceneAssets] = None,
                    objects: Tuple[str, ...] = (), offset: float = 0.0) -> List[SequenceFrame]:
    """`frames` frames of one random grasp (seeded) sweeping across the image.

    sweep: half-width of the left-right sweep, as a fraction of the image width at the pair's depth;
    hidden: frame indices where the pair is out of view; objects: object names to draw from (() = default);
    offset: the pair's mean left-right shift, as a fraction of the image width at its depth (negative: left).
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    assets = assets or default_assets()
    scene = SyntheticScene(image_size=image_size, objects=objects, noise_std=(0.0, 0.0), placement=0.2)
    grasp = draw_grasp(np.random.default_rng(seed), scene, assets)
    width = image_size[0] * grasp.centre[2] / grasp.start.K[0, 0]  # m, the image width at the pair's depth
    reach = sweep * width
    rotations, shifts = sway(np.arange(frames) / frames, SWAY_ROTATION, (reach, SWAY_RISE * reach))
    hidden = set(int(index) for index in hidden)
    visible = np.array([index not in hidden for index in range(frames)])
    shifts[:, 0] += offset * width
    shifts[~visible, 0] += HIDDEN_SHIFT
    moved = render_moved(assets, grasp, rotations, shifts, frame_id=f"sequence/{seed}")
    return [SequenceFrame(image, truth, *true_boxes(truth), bool(seen)) for (image, truth), seen in zip(moved, visible)]


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    return np.all((points >= box[:2]) & (points <= box[2:]), axis=1)


class BoxLimitedOracle:
    """An estimator (same `estimate` and `estimate_batch` calls as HandObjectEstimator) that sees the ground truth through its boxes.

    Set `truth` to the frame's FrameAnnotation before each call. faces: (F, 3) hand mesh faces.
    object_reach: how far past its box the object "decoder" sees, as a scale of the box about its centre.
    """

    untrained = False

    def __init__(self, faces: np.ndarray, object_reach: float = 1.5) -> None:
        self.faces = np.asarray(faces)
        self.object_reach = float(object_reach)
        self.truth: Optional[FrameAnnotation] = None

    def estimate(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                 object_model: ObjectModel) -> HandObjectEstimate:
        truth = self.truth
        if truth is None:
            raise RuntimeError("BoxLimitedOracle.truth must be set to the frame's annotation first")
        hand_box, object_box = np.asarray(hand_box, dtype=np.float64), np.asarray(object_box, dtype=np.float64)
        joints_2d = project_points(truth.joints_3d, K)
        seen = _inside(joints_2d, hand_box)
        wrist_pose = np.eye(4)
        wrist_pose[:3, 3] = truth.joints_3d[0]
        hand = HandEstimate(
            joints=truth.joints_3d, vertices=truth.vertices_3d, faces=self.faces,
            joints_2d=np.clip(joints_2d, hand_box[:2], hand_box[2:]), wrist_pose=wrist_pose,
            mano_pose=truth.mano_pose, mano_shape=truth.mano_shape, box=hand_box, score=float(seen.mean()),
        )
        points = transform_points(truth.object_control_points, truth.object_rotation, truth.object_translation)
        uv = project_points(points, K)
        centre, half = (object_box[:2] + object_box[2:]) / 2, (object_box[2:] - object_box[:2]) * self.object_reach / 2
        reach = np.concatenate((centre - half, centre + half))
        scores = _inside(uv, reach).astype(np.float64)
        all_seen = bool(scores.all())
        obj = ObjectEstimate(
            name=object_model.name, rotation=truth.object_rotation if all_seen else None,
            translation=truth.object_translation if all_seen else None,
            control_points_2d=np.clip(uv, reach[:2], reach[2:]), control_point_scores=scores,
            inliers=len(scores) if all_seen else 0, box=object_box, score=float(scores.mean()),
        )
        return HandObjectEstimate(hand=hand, object=obj)

    def estimate_batch(self, image: np.ndarray, requests: Sequence) -> List[HandObjectEstimate]:
        """`estimate` of each request, as HandObjectEstimator.estimate_batch takes them (CropRequest: K,
        hand_box, object_box, object_model in the request's view, mirrored); the oracle reads no pixels."""
        return [self.estimate(image, request.K, request.hand_box, request.object_box, request.object_model)
                for request in requests]

    def with_truth(self, truth: FrameAnnotation) -> "BoxLimitedOracle":
        """Set the ground truth of the next frame; returns self."""
        self.truth = truth
        return self


def sequence_object_model(frame: SequenceFrame, assets: Optional[SceneAssets] = None) -> ObjectModel:
    """The ObjectModel of a sequence's object (the renderer's model, so its control points are the truth's)."""
    assets = assets or default_assets()
    model = assets.object_model(frame.annotation.object_name)
    return replace(model, control_points=frame.annotation.object_control_points)


class MirroredPairOracle:
    """A BoxLimitedOracle for `hfl_ros.data.synthetic.two_hands.side_by_side` composites of a render: the
    right hand (the render, the composite's left half) and the left hand (its mirror, the right half).

    A request that is not mirrored sees the render's truth through the render's K (the composite's left
    half is the render). A mirrored request (a left hand, estimated in the flipped composite) sees the same
    truth through the same K: the composite is its own mirror image, so the flipped view's left half is the
    render again (with a render cut at its principal point, `seam_at_principal_point`, the request's own K
    is that K within half a pixel; otherwise only the render's K carries that truth). A side set
    absent (`with_truth(..., present=...)`: its half blanked) is seen as its hand far out of view (scores 0).
    """

    untrained = False

    def __init__(self, oracle: BoxLimitedOracle) -> None:
        self.oracle = oracle
        self.K: Optional[np.ndarray] = None
        self.truth: Optional[FrameAnnotation] = None
        self.present = {"right": True, "left": True}

    def with_truth(self, truth: FrameAnnotation, K: np.ndarray,
                   present: Tuple[bool, bool] = (True, True)) -> "MirroredPairOracle":
        """The render's annotation of the next frame, the intrinsics K (3, 3) px of its (cropped) render, and
        whether the (right, left) hand is in the composite; returns self."""
        self.truth, self.K = truth, np.asarray(K, dtype=np.float64)
        self.present = {"right": bool(present[0]), "left": bool(present[1])}
        return self

    def estimate_batch(self, image: np.ndarray, requests: Sequence) -> List[HandObjectEstimate]:
        """One estimate per CropRequest, each seeing its side's truth through its boxes (see the class)."""
        if self.truth is None:
            raise RuntimeError("MirroredPairOracle.with_truth must be called with the frame's annotation first")
        estimates = []
        for request in requests:
            side = "left" if request.mirrored else "right"
            truth = self.truth if self.present[side] else _out_of_view(self.truth)
            self.oracle.truth = truth
            estimates.append(self.oracle.estimate(image, self.K, request.hand_box, request.object_box,
                                                  request.object_model))
        return estimates


def _out_of_view(truth: FrameAnnotation) -> FrameAnnotation:
    """The annotation with the hand and the object moved HIDDEN_SHIFT m along the camera's x axis."""
    shift = np.array([HIDDEN_SHIFT, 0.0, 0.0])
    return replace(truth, joints_3d=truth.joints_3d + shift, vertices_3d=truth.vertices_3d + shift,
                   object_translation=truth.object_translation + shift)
