"""`PerceptionPipeline`: the per-frame logic of the ROS node and `hfl-video`, in one place (no ROS here).

It owns the hand detector, the box policy and its tracker (`hfl_ros.inference.tracking`), the choice of
the frame's object (an external ROI's class, else the caller's), the finiteness check, the quality gate
and one temporal filter per hand side (`hfl_ros.filtering`). A frame runs in two stages, which a caller may
overlap on two threads (the node's pipeline: stage 1 of the newest frame while stage 2 of the previous one
runs):

1. `detect(image, stamp)`: the hand detector, when the policy wants it;
2. `finish(image, K, stamp, object_model, detected)`: boxes, the network for every hand (left ones
   mirrored, all hands in one call per refinement pass), finiteness check, quality gate, filters.

Each hand side has its own filter, gate and restarts: a new track of a side (a new `track_id`) restarts that
side's filter, and a side without a hand in a frame does not touch the other side's. An object held by
both hands is one object: when the two hands' final object boxes overlap with IoU >= SHARED_OBJECT_IOU,
both hands carry the estimate of the one whose object score is higher (the same pose, box and
`object_track_id`), so that consumers see one object attached to both hands. Each side keeps its own object
identity meanwhile: when the boxes part, each hand's object has its own `object_track_id` again (two objects
that came close are never left with one id).

`process` is both in a row. Every frame gives a `FrameResult`; a frame that cannot be estimated (the
estimator refuses it, or an estimate holds NaN / infinity) is a skipped frame with its reason, never an
exception, and every side's filter restarts at its next observation.

    pipeline = PerceptionPipeline(estimator, PerceptionSettings())
    result = pipeline.process(image, K, stamp, object_model)
    result.skipped, result.hand.output, result.hand.filtered, [hand.side for hand in result.hands]
    pipeline.close()
"""

import dataclasses
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.detection.hand_detector import HandDetector
from hfl_ros.detection.policy import BoxPolicy, ExternalRois, frame_object_name
from hfl_ros.filtering import FilterCounts, HandObjectFilter, filtered_estimate, observations
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.inference.estimator import EstimationError
from hfl_ros.inference.tracking import DetectionStep, HandObjectTracker, TrackedFrame, TrackedHand
from hfl_ros.objects import ObjectModel, ObjectRegistry
from hfl_ros.perception.results import FrameResult, HandResult
from hfl_ros.perception.settings import GateSettings, PerceptionSettings
from hfl_ros.results import HandObjectEstimate

#: Skip reasons of the pipeline (FrameResult.skipped; the node's /diagnostics keys).
SKIP_ESTIMATION = "estimation failed"
SKIP_NON_FINITE = "non-finite estimate"
#: IoU of two hands' object boxes above which they hold one object.
SHARED_OBJECT_IOU = 0.5

__all__ = ["DetectionStep", "PerceptionPipeline", "SKIP_ESTIMATION", "SKIP_NON_FINITE", "non_finite_fields",
           "shown_parts"]


def non_finite_fields(estimate: HandObjectEstimate) -> List[str]:
    """Names of the estimate's arrays / scores that hold NaN or infinity (empty when all are finite)."""
    hand, obj = estimate.hand, estimate.object
    fields = {
        "hand.joints": hand.joints, "hand.vertices": hand.vertices, "hand.joints_2d": hand.joints_2d,
        "hand.wrist_pose": hand.wrist_pose, "hand.mano_pose": hand.mano_pose, "hand.mano_shape": hand.mano_shape,
        "hand.box": hand.box, "hand.score": hand.score,
        "object.control_points_2d": obj.control_points_2d, "object.control_point_scores": obj.control_point_scores,
        "object.box": obj.box, "object.score": obj.score,
    }
    if obj.has_pose:
        fields.update({"object.rotation": obj.rotation, "object.translation": obj.translation})
    return [name for name, value in fields.items() if not np.all(np.isfinite(np.asarray(value, dtype=np.float64)))]


def shared_object(hands: Sequence[TrackedHand]) -> Tuple[Optional[int], List[TrackedHand]]:
    """One object held by two hands: (index of the hand whose object estimate both keep, the hands with that
    object in each), or (None, the hands unchanged) when their object boxes overlap less than SHARED_OBJECT_IOU."""
    hands = list(hands)
    if len(hands) != 2:
        return None, hands
    first, second = hands
    if box_iou(first.object_box.box, second.object_box.box) < SHARED_OBJECT_IOU:
        return None, hands
    owner = 0 if first.estimate.object.score >= second.estimate.object.score else 1
    kept = hands[owner]
    other = hands[1 - owner]
    hands[1 - owner] = dataclasses.replace(other, estimate=dataclasses.replace(other.estimate,
                                                                               object=kept.estimate.object),
                                           object_box=kept.object_box)
    return owner, hands


def shown_parts(estimate: HandObjectEstimate, gate: GateSettings) -> Tuple[bool, bool]:
    """The quality gate: whether the hand and the object of an estimate are good enough for the outputs and
    the filter (hand score >= min_hand_score; an object pose with min_object_score and min_object_inliers)."""
    obj = estimate.object
    return (estimate.hand.score >= gate.min_hand_score,
            obj.has_pose and obj.score >= gate.min_object_score and obj.inliers >= gate.min_object_inliers)


@dataclass
class _SideState:
    """What the pipeline remembers of one side between frames: its filter, and its object's identity."""

    filter: Optional[HandObjectFilter]
    track_id: Optional[int] = None  # the hand track of the previous frame with this side
    object_track_id: int = -1
    object_key: Optional[Tuple[str, int]] = None  # (object name, hand track id) of the previous frame's object


class PerceptionPipeline:
    """Hands and objects, frame after frame; see the module docstring.

    estimator: a HandObjectEstimator (anything with its `estimate_batch`, `untrained`, `device`);
    settings: PerceptionSettings; detector: a HandDetector to use (None: one is made from settings.detector,
    when that is not None; closed by `close`); registry: the object registry that an external ROI's object
    class is looked up in (None: the caller's object model always).
    """

    def __init__(self, estimator, settings: PerceptionSettings = PerceptionSettings(), detector=None,
                 registry: Optional[ObjectRegistry] = None) -> None:
        if not isinstance(settings, PerceptionSettings):
            raise TypeError(f"settings must be a PerceptionSettings, got {type(settings).__name__}")
        if detector is None and settings.detector is not None:
            detector = HandDetector(settings.detector)
        self.settings = settings
        self.registry = registry
        self.tracker = HandObjectTracker(estimator, BoxPolicy(settings.policy, detector=detector is not None),
                                         detector)
        self._sides: Dict[str, _SideState] = {}
        self._next_object_id = 1  # object track ids start at 1 (0 in messages: none)
        self._frames = 0
        self._scene: Optional[tuple] = None  # (camera, width, height, object name) of the last frame
        self._pending: Optional[ExternalRois] = None  # ROIs handed over by set_external, applied at finish
        self._pending_lock = threading.Lock()
        self._finish_lock = threading.Lock()  # stage 2 of one frame at a time

    # ------------------------------------------------------------------------------------------ parts
    @property
    def estimator(self):
        return self.tracker.estimator

    @property
    def detector(self):
        return self.tracker.detector

    @property
    def policy(self) -> BoxPolicy:
        return self.tracker.policy

    @property
    def tracking_counts(self) -> Dict[str, int]:
        """The box policy's counters (detector runs, track losses, ...), a copy."""
        with self.tracker.lock:
            return dict(self.policy.counts)

    @property
    def filter_counts(self) -> Optional[FilterCounts]:
        """Frames filtered, and gated frames and filter restarts summed over the sides (None: filter off)."""
        if self.settings.filter is None:
            return None
        hand_gated = object_gated = 0
        hand_resets: Counter = Counter()
        object_resets: Counter = Counter()
        for state in list(self._sides.values()):
            counts = state.filter.counts
            hand_gated += counts.hand_gated
            object_gated += counts.object_gated
            hand_resets.update(counts.hand_resets)
            object_resets.update(counts.object_resets)
        return FilterCounts(self._frames, hand_gated, object_gated, dict(hand_resets), dict(object_resets))

    # ------------------------------------------------------------------------------------------ control
    def set_external(self, rois: ExternalRois) -> None:
        """The latest ROIs of an external detector; they apply from the next `finish` on (any thread)."""
        with self._pending_lock:
            self._pending = rois

    def reset(self) -> None:
        """Forget every track, filter and pending ROI (a new scene)."""
        with self._finish_lock, self.tracker.lock:
            self.policy.reset()
            self._sides = {}
            self._scene = None
            with self._pending_lock:
                self._pending = None

    def lose(self, stamp: float) -> None:
        """A frame stamped `stamp` (s) that gave no observation (e.g. it could not be decoded): every side's
        filter restarts at its next observation."""
        with self._finish_lock:
            self._frames += 1
            self._lose_all(stamp)

    def close(self) -> None:
        """Release the detector and the estimator (the pipeline is unusable afterwards)."""
        detector = self.tracker.detector
        if detector is not None:
            detector.close()
        self.tracker.detector = None
        self.tracker.estimator = None
        self._sides = {}

    # ------------------------------------------------------------------------------------------ frames
    def process(self, image: np.ndarray, K: np.ndarray, stamp: float, object_model: ObjectModel,
                camera: str = "") -> FrameResult:
        """Both stages on `image` (H, W, 3) uint8 RGB with intrinsics K (3, 3) px, stamped `stamp` (s)."""
        return self.finish(image, K, stamp, object_model, self.detect(image, stamp), camera)

    def detect(self, image: np.ndarray, stamp: float) -> DetectionStep:
        """Stage 1: the hand detector on `image` (H, W, 3) uint8 RGB stamped `stamp` (s), when it is due."""
        return self.tracker.detect_step(image, stamp)

    def finish(self, image: np.ndarray, K: np.ndarray, stamp: float, object_model: ObjectModel,
               detected: DetectionStep, camera: str = "") -> FrameResult:
        """Stage 2 of `image` (as `process`) given its stage 1.

        object_model: the object in the hands unless the frame's external ROI names another registered one.
        camera: the camera's name (a frame_id); a change of camera, image size or object restarts the tracks.
        """
        with self._finish_lock:
            self._frames += 1
            model, notes = self._frame_object(stamp, camera, image.shape[1], image.shape[0], object_model)
            count = None if detected.detections is None else len(detected.detections)
            try:
                tracked = self.tracker.estimate_step(image, K, stamp, model, detected)
            except EstimationError as error:
                return self._skipped(stamp, SKIP_ESTIMATION, str(error), count, detected.time, notes)
            for hand in tracked.hands:
                bad = non_finite_fields(hand.estimate)
                if bad:
                    return self._skipped(stamp, SKIP_NON_FINITE, f"{hand.target.side} hand: estimate has non-finite "
                                         f"values in {', '.join(bad)}", count, detected.time, notes)
            owner, shared = shared_object(tracked.hands)
            hands = [self._hand_result(stamp, hand, model) for hand in shared]
            if owner is not None:  # one object in both hands: one identity
                for index, hand in enumerate(hands):
                    if index != owner:
                        hands[index] = dataclasses.replace(hand, object_track_id=hands[owner].object_track_id)
            seen = {hand.side for hand in hands}
            for side, state in self._sides.items():
                if side not in seen:
                    self._lose_side(stamp, state)
            # the hands share each batched call: its time is every estimate's timings["network"]
            network_time = max((float(hand.estimate.timings.get("network", 0.0)) for hand in hands), default=0.0)
            return FrameResult(stamp, tuple(hands), None, "", count, detected.time, network_time, notes)

    # ------------------------------------------------------------------------------------------ helpers
    def _frame_object(self, stamp: float, camera: str, width: int, height: int,
                      default: ObjectModel) -> Tuple[ObjectModel, Tuple[str, ...]]:
        """The frame's object (an external ROI's registered class, else `default`), and notes (an unregistered
        class); applies the pending external ROIs and restarts the tracks when the scene changed."""
        with self._pending_lock:
            rois, self._pending = self._pending, None
        with self.tracker.lock:  # stage 1 reads the policy too
            if rois is not None:
                self.policy.set_external(rois)
            external = self.policy.external(stamp)
            name, warning = default.name, None
            if self.registry is not None:
                name, warning = frame_object_name(external, default.name, self.registry.names)
            scene = (camera, width, height, name)
            if self._scene is not None and scene != self._scene:
                self.policy.reset()
                if external is not None:  # made for this very image
                    self.policy.set_external(external)
        self._scene = scene
        model = default if name == default.name else self.registry.model(name)
        return model, (() if warning is None else (warning,))

    def _hand_result(self, stamp: float, tracked: TrackedHand, model: ObjectModel) -> HandResult:
        target, estimate = tracked.target, tracked.estimate
        side = target.side
        state = self._sides.get(side)
        if state is None:
            state = _SideState(None if self.settings.filter is None else HandObjectFilter(self.settings.filter))
            self._sides[side] = state
        track_id = int(target.track_id)
        if state.track_id is not None and state.track_id != track_id:  # a new hand: its filter restarts
            self._lose_side(stamp, state)
        state.track_id = track_id
        hand_ok, object_ok = shown_parts(estimate, self.settings.gate)
        filtered = None
        if state.filter is not None:
            hand, obj = observations(estimate)
            filtered = state.filter.update(stamp, hand if hand_ok else None, obj if object_ok else None)
        output = estimate
        if filtered is not None and self.settings.outputs_filtered:
            output = filtered_estimate(estimate, filtered)
        key = (model.name, track_id)
        if state.object_key != key:
            state.object_track_id, self._next_object_id = self._next_object_id, self._next_object_id + 1
        state.object_key = key
        detection = target.detection
        return HandResult(
            side=side, track_id=track_id, hand_box=np.asarray(target.box.box, dtype=np.float64),
            hand_source=target.box.source,
            hand_score=float(detection.score if detection is not None else estimate.hand.score),
            object_name=model.name, object_box=np.asarray(tracked.object_box.box, dtype=np.float64),
            object_source=tracked.object_box.source, object_track_id=state.object_track_id, estimate=estimate,
            filtered=filtered, output=output, passes=tracked.passes,
            gated=filtered is not None and filtered.gated, hand_shown=hand_ok, object_shown=object_ok,
        )

    def _skipped(self, stamp: float, reason: str, detail: str, detections: Optional[int], detector_time: float,
                 notes: Tuple[str, ...]) -> FrameResult:
        self._lose_all(stamp)
        return FrameResult(stamp, (), reason, detail, detections, detector_time, 0.0, notes)

    def _lose_all(self, stamp: float) -> None:
        for state in self._sides.values():
            self._lose_side(stamp, state)

    @staticmethod
    def _lose_side(stamp: float, state: _SideState) -> None:
        if state.filter is not None:
            state.filter.update(stamp, None, None)
        state.object_key = state.track_id = None
