"""One frame after another: boxes (`hfl_ros.detection.policy`), the optional hand detector, the network for
each hand (either side, `hfl_ros.inference.mirroring`), each hand's object box refined from the decoder.
Used by `hfl_ros.perception.PerceptionPipeline` (node and `hfl-video`); no ROS here.

    tracker = HandObjectTracker(estimator, BoxPolicy(settings, detector=True), HandDetector())
    frame = tracker.process(image, K, stamp, object_model)
    frame.hands               # one TrackedHand per hand the policy chose (primary first); empty: none
    frame.estimate            # the primary hand's HandObjectEstimate, or None

`process` is `detect_step` then `estimate_step`. A pipeline may run `detect_step` of the next image while
`estimate_step` of the previous one runs (another thread): the detector then searches where the tracks were
one frame earlier, and the policy is locked around each read and update.

Several hands refine their object boxes in lockstep: each refinement pass runs the network once for every
hand still refining (`refine_object_boxes`), so hands never wait for each other's passes.
"""

import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.detection.policy import (
    SOURCE_HAND, SOURCE_REFINED, BoxPolicy, ExternalRois, HandTarget, PolicySettings, SourcedBox,
    object_box_from_estimate,
)
from hfl_ros.geometry.boxes import box_iou, clip_box
from hfl_ros.inference.estimator import EstimationError
from hfl_ros.inference.mirroring import SideRequest, estimate_sides
from hfl_ros.objects import ObjectModel
from hfl_ros.results import HandObjectEstimate


@dataclass(frozen=True)
class TrackedHand:
    """One hand of a frame: target (its box, source, side), estimate (the network's last pass), object_box
    (the box that pass was made with, and its source), passes (network passes run for this hand)."""

    target: HandTarget
    estimate: HandObjectEstimate
    object_box: SourcedBox
    passes: int


@dataclass(frozen=True)
class TrackedFrame:
    """What one frame gave: hands (primary first; empty when no hand was to be estimated), detections
    (hands the detector found; None when it did not run), detector_time (s spent detecting). The other
    properties are the primary hand's (None / 0 without one)."""

    hands: Tuple[TrackedHand, ...]
    detections: Optional[int]
    detector_time: float

    @property
    def primary(self) -> Optional[TrackedHand]:
        return self.hands[0] if self.hands else None

    @property
    def estimate(self) -> Optional[HandObjectEstimate]:
        return None if not self.hands else self.hands[0].estimate

    @property
    def hand(self) -> Optional[HandTarget]:
        return None if not self.hands else self.hands[0].target

    @property
    def object_box(self) -> Optional[SourcedBox]:
        return None if not self.hands else self.hands[0].object_box

    @property
    def passes(self) -> int:
        return 0 if not self.hands else self.hands[0].passes

    @property
    def hand_source(self) -> Optional[str]:
        return None if not self.hands else self.hands[0].target.box.source

    @property
    def object_source(self) -> Optional[str]:
        return None if not self.hands else self.hands[0].object_box.source

    @property
    def side(self) -> Optional[str]:
        return None if not self.hands else self.hands[0].target.side


@dataclass(frozen=True)
class DetectionStep:
    """The detector's part of one frame: detections (None when it did not run), time: s spent detecting."""

    detections: Optional[List[HandDetection]]
    time: float


def refine_object_boxes(run: Callable[[Sequence[int], Sequence[np.ndarray]], Sequence[HandObjectEstimate]],
                        starts: Sequence[SourcedBox],
                        box_of: Callable[[HandObjectEstimate], Optional[np.ndarray]],
                        settings: PolicySettings) -> List[Tuple[HandObjectEstimate, SourcedBox, int]]:
    """Run the network for several hands at once, refining each hand-centred or refined object box in the frame.

    run(indices, object_boxes (4,) px each) -> one estimate per index, in one network call; starts: each
    hand's first object box; box_of(estimate) -> the object box (4,) px it predicts, or None. A hand gets
    another pass with its predicted box (source "refined") while that box's IoU with the box used is below
    `refine_min_iou`, at most `refine_max_passes` passes; boxes from other sources get one pass. Each pass
    runs all hands still refining together. Returns (last estimate, its box, passes) per hand.
    """
    boxes = list(starts)
    results: List[Optional[Tuple[HandObjectEstimate, SourcedBox, int]]] = [None] * len(starts)
    active = list(range(len(starts)))
    passes = 0
    while active:
        estimates = run(active, [boxes[i].box for i in active])
        passes += 1
        still = []
        for index, estimate in zip(active, estimates):
            box = boxes[index]
            results[index] = (estimate, box, passes)
            if box.source not in (SOURCE_HAND, SOURCE_REFINED) or passes >= settings.refine_max_passes:
                continue
            predicted = box_of(estimate)
            if predicted is None or box_iou(predicted, box.box) >= settings.refine_min_iou:
                continue
            boxes[index] = SourcedBox(predicted, SOURCE_REFINED)
            still.append(index)
        active = still
    return results


class _HandRefused(Exception):
    """The estimator refused one hand of several (`target`: its index among the frame's targets)."""

    def __init__(self, target: int) -> None:
        super().__init__(f"hand {target} refused")
        self.target = target


class HandObjectTracker:
    """Estimates hands and objects frame after frame, choosing the boxes itself.

    estimator: a HandObjectEstimator (anything with its `estimate` call); policy: a BoxPolicy;
    detector: a HandDetector (anything with `run(image, DetectionRequest)`), or None without one.
    """

    def __init__(self, estimator, policy: BoxPolicy, detector=None) -> None:
        if detector is not None and not policy.detector:
            raise ValueError("the policy was made without a detector (BoxPolicy(..., detector=True)) but one is given")
        if detector is None and policy.detector:
            raise ValueError("the policy expects a detector (detector=True) but none is given")
        self.estimator = estimator
        self.policy = policy
        self.detector = detector
        #: held around every use of the policy (the steps of two frames may run on two threads)
        self.lock = threading.RLock()

    def set_external(self, rois: ExternalRois) -> None:
        with self.lock:
            self.policy.set_external(rois)

    def process(self, image: np.ndarray, K: np.ndarray, stamp: float, object_model: ObjectModel) -> TrackedFrame:
        """Hands and objects in `image` (H, W, 3) uint8 RGB with intrinsics K (3, 3), stamped `stamp` (s).

        Raises EstimationError (from the estimator) for an image or intrinsics that cannot be estimated (or a
        single hand that cannot be); of several hands, one the estimator refuses is left out of the frame.
        """
        return self.estimate_step(image, K, stamp, object_model, self.detect_step(image, stamp))

    def detect_step(self, image: np.ndarray, stamp: float) -> DetectionStep:
        """Run the detector on `image` (H, W, 3) uint8 RGB stamped `stamp` (s) when the policy wants it."""
        if self.detector is None:
            return DetectionStep(None, 0.0)
        with self.lock:
            request = self.policy.detection_request(stamp)
        if request is None:
            return DetectionStep(None, 0.0)
        start = time.perf_counter()
        detections = self.detector.run(image, request)
        return DetectionStep(detections, time.perf_counter() - start)

    def estimate_step(self, image: np.ndarray, K: np.ndarray, stamp: float, object_model: ObjectModel,
                      detected: DetectionStep) -> TrackedFrame:
        """The boxes and the network for `image` (arguments as `process`), given its `detect_step`."""
        size = (image.shape[1], image.shape[0])
        detections = detected.detections
        count = None if detections is None else len(detections)
        with self.lock:
            targets = self.policy.choose_hands(stamp, size, detections)
            if not targets:
                return TrackedFrame((), count, detected.time)
            starts = [self.policy.object_start(stamp, size, target) for target in targets]
        settings = self.policy.settings

        def run(indices: Sequence[int], object_boxes: Sequence[np.ndarray]) -> List[HandObjectEstimate]:
            requests = [SideRequest(targets[i].box.box, box, targets[i].side) for i, box in zip(indices, object_boxes)]
            try:
                return estimate_sides(self.estimator, image, K, requests, object_model)
            except EstimationError as error:
                if error.index is None or len(targets) < 2:
                    raise
                raise _HandRefused(indices[error.index]) from error

        def box_of(estimate: HandObjectEstimate) -> Optional[np.ndarray]:
            """The refined object box, grown to min_box_size (the decoder's points may collapse to one pixel)
            and clipped to the image; None when there is none."""
            box = object_box_from_estimate(estimate.object, K, object_model.control_points,
                                           settings.refine_min_score, settings.refine_min_points)
            return None if box is None else clip_box(box, size[0], size[1], settings.min_box_size)

        while True:  # a hand the estimator refuses (EstimationError.index) is dropped; the others go on
            try:
                refined = refine_object_boxes(run, starts, box_of, settings)
                break
            except _HandRefused as refused:
                del targets[refused.target], starts[refused.target]
        hands = tuple(TrackedHand(target, estimate, box, passes)
                      for target, (estimate, box, passes) in zip(targets, refined))
        with self.lock:
            self.policy.observe_hands(stamp, [(hand.target, hand.estimate) for hand in hands], K,
                                      object_model.control_points)
        return TrackedFrame(hands, count, detected.time)
