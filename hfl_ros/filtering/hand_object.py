"""The filtered hand and object of a stream of frames: one `RigidTrack` each, driven by image stamps.

The hand track filters the wrist pose (camera-from-wrist) and, attached to it, the 21 joints in the wrist
frame (the articulation); the filtered camera-frame joints are those wrist-frame joints placed by the
filtered wrist pose, so all three stay consistent. The hand is gated on its wrist pose and held whole.
The object track filters the camera-from-object pose. Identity: the hand's side, the object's name.

    hand_object_filter = HandObjectFilter(FilterSettings())
    frame = hand_object_filter.update_estimate(stamp, estimate)   # estimate None = nothing this frame
    frame.hand.joints, frame.hand.joints_wrist, frame.hand.wrist_pose, frame.object.pose, frame.gated
    filtered_estimate(estimate, frame)   # the estimate with the filtered poses (for single-pose outputs)
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Tuple

import numpy as np

from hfl_ros.constants import NUM_JOINTS
from hfl_ros.filtering.track import FilterSettings, RigidTrack, TrackOutput
from hfl_ros.geometry.camera import transform_points
from hfl_ros.results import HandObjectEstimate
from hfl_ros.retargeting import joints_in_camera_frame, joints_in_wrist_frame


@dataclass(frozen=True)
class HandObservation:
    """side: "right" or "left"; joints: (21, 3) m, camera frame; wrist_pose: (4, 4) camera-from-wrist."""

    side: str
    joints: np.ndarray
    wrist_pose: np.ndarray


@dataclass(frozen=True)
class ObjectObservation:
    """name: the object model's registry name; pose: (4, 4) camera-from-object, m."""

    name: str
    pose: np.ndarray


@dataclass(frozen=True)
class FilteredHand:
    """joints: (21, 3) m, camera frame; joints_wrist: (21, 3) m, wrist frame; wrist_pose: (4, 4)
    camera-from-wrist; all filtered (held when gated). reset: why the filter restarted here, or None."""

    side: str
    joints: np.ndarray
    joints_wrist: np.ndarray
    wrist_pose: np.ndarray
    gated: bool
    reset: Optional[str]


@dataclass(frozen=True)
class FilteredObject:
    """pose: (4, 4) camera-from-object, filtered (held when gated). reset: as FilteredHand.reset."""

    name: str
    pose: np.ndarray
    gated: bool
    reset: Optional[str]


@dataclass(frozen=True)
class FilteredFrame:
    """The filtered hand and object at image time `stamp` (s); None where the frame observed none."""

    stamp: float
    hand: Optional[FilteredHand]
    object: Optional[FilteredObject]

    @property
    def gated(self) -> bool:
        """The hand or the object of this frame was held back by the gate."""
        return bool((self.hand is not None and self.hand.gated) or (self.object is not None and self.object.gated))


@dataclass(frozen=True)
class FilterCounts:
    """Frames seen, frames gated and filter restarts by reason (hfl_ros.filtering.track.RESET_REASONS),
    for the hand and the object, since the filter was made."""

    frames: int = 0
    hand_gated: int = 0
    object_gated: int = 0
    hand_resets: Dict[str, int] = field(default_factory=dict)
    object_resets: Dict[str, int] = field(default_factory=dict)


def observations(estimate: HandObjectEstimate) -> Tuple[HandObservation, Optional[ObjectObservation]]:
    """The hand and (when PnP found one) the object pose of an estimate, as filter observations."""
    hand, obj = estimate.hand, estimate.object
    object_observation = None
    if obj.has_pose:
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = obj.rotation, obj.translation
        object_observation = ObjectObservation(obj.name, pose)
    return HandObservation(hand.side, hand.joints, hand.wrist_pose), object_observation


def filtered_estimate(estimate: HandObjectEstimate, frame: FilteredFrame) -> HandObjectEstimate:
    """`estimate` with the filtered poses of `frame` in place of the raw ones, for outputs that show one pose:
    the hand's joints and wrist pose (its mesh moved rigidly with the wrist: the mesh's articulation stays
    raw) and the object pose. A part without a filtered value in `frame` stays raw, as do the 2D fields,
    scores and boxes."""
    hand, obj = estimate.hand, estimate.object
    if frame.hand is not None:
        move = frame.hand.wrist_pose @ np.linalg.inv(hand.wrist_pose)
        hand = replace(hand, joints=frame.hand.joints, wrist_pose=frame.hand.wrist_pose,
                       vertices=transform_points(hand.vertices, move[:3, :3], move[:3, 3]))
    if frame.object is not None:
        obj = replace(obj, rotation=frame.object.pose[:3, :3], translation=frame.object.pose[:3, 3])
    return replace(estimate, hand=hand, object=obj)


class HandObjectFilter:
    """Temporal filter and outlier gate of one hand and one object; see the module docstring."""

    def __init__(self, settings: FilterSettings = FilterSettings()) -> None:
        self.settings = settings
        self._hand = RigidTrack(settings, points=settings.joints)
        self._object = RigidTrack(settings)
        self._frames = 0
        self._gated = Counter()
        self._resets = {"hand": Counter(), "object": Counter()}

    def update(self, stamp: float, hand: Optional[HandObservation],
               obj: Optional[ObjectObservation]) -> FilteredFrame:
        """stamp: s, the image's; hand / obj: this frame's observations, None when there is none (the
        track is lost and restarts at the next observation). Raises ValueError for bad shapes or values."""
        self._frames += 1
        filtered_hand = None
        if hand is None:
            self._hand.lose()
        else:
            joints = np.asarray(hand.joints, dtype=np.float64)
            if joints.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(joints)):
                raise ValueError(f"hand joints must be finite with shape ({NUM_JOINTS}, 3), got {joints.shape}")
            out = self._count("hand", self._hand.update(
                stamp, hand.side, hand.wrist_pose, joints_in_wrist_frame(joints, hand.wrist_pose)))
            filtered_hand = FilteredHand(hand.side, joints_in_camera_frame(out.points, out.pose), out.points,
                                         out.pose, out.gated, out.reset)
        filtered_object = None
        if obj is None:
            self._object.lose()
        else:
            out = self._count("object", self._object.update(stamp, obj.name, obj.pose))
            filtered_object = FilteredObject(obj.name, out.pose, out.gated, out.reset)
        return FilteredFrame(stamp, filtered_hand, filtered_object)

    def update_estimate(self, stamp: float, estimate: Optional[HandObjectEstimate]) -> FilteredFrame:
        """`update` with the observations of an estimate (None: no hand and no object this frame)."""
        if estimate is None:
            return self.update(stamp, None, None)
        return self.update(stamp, *observations(estimate))

    @property
    def counts(self) -> FilterCounts:
        return FilterCounts(self._frames, self._gated["hand"], self._gated["object"],
                            dict(self._resets["hand"]), dict(self._resets["object"]))

    def _count(self, part: str, out: TrackOutput) -> TrackOutput:
        self._gated[part] += int(out.gated)
        if out.reset is not None:
            self._resets[part][out.reset] += 1
        return out
