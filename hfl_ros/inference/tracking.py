"""One frame after another: boxes (`hfl_ros.detection.policy`), the optional hand detector, the network for
either hand (`hfl_ros.inference.mirroring`), the object box refined from the decoder. Shared by the ROS node
and `hfl-video`; no ROS here.

    tracker = HandObjectTracker(estimator, BoxPolicy(settings, detector=True), HandDetector())
    frame = tracker.process(image, K, stamp, object_model)
    frame.estimate            # HandObjectEstimate or None (no hand found)
    frame.hand_source, frame.object_source, frame.side, frame.passes

`process` is `detect_step` then `estimate_step`. A pipeline may run `detect_step` of the next image while
`estimate_step` of the previous one runs (another thread): the detector then searches where the track was
one frame earlier, and the policy is locked around each read and update.
"""

import threading
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.detection.policy import (
    BoxPolicy, ExternalRois, HandTarget, SourcedBox, object_box_from_estimate, refine_object_box,
)
from hfl_ros.geometry.boxes import clip_box
from hfl_ros.inference.mirroring import estimate_side
from hfl_ros.results import HandObjectEstimate
from hfl_ros.objects import ObjectModel


@dataclass(frozen=True)
class TrackedFrame:
    """What one frame gave.

    estimate: the hand and object (None when no hand was to be estimated: nothing found, nothing tracked).
    hand: the hand box, its source and side (None with estimate None); object_box: the object box the
    estimate was made with and its source; passes: network passes run (object refinement);
    detections: hands the detector found (None when it did not run); detector_time: s spent detecting.
    """

    estimate: Optional[HandObjectEstimate]
    hand: Optional[HandTarget]
    object_box: Optional[SourcedBox]
    passes: int
    detections: Optional[int]
    detector_time: float

    @property
    def hand_source(self) -> Optional[str]:
        return None if self.hand is None else self.hand.box.source

    @property
    def object_source(self) -> Optional[str]:
        return None if self.object_box is None else self.object_box.source

    @property
    def side(self) -> Optional[str]:
        return None if self.hand is None else self.hand.side


@dataclass(frozen=True)
class DetectionStep:
    """The detector's part of one frame: detections (None when it did not run), time: s spent detecting."""

    detections: Optional[List[HandDetection]]
    time: float


class HandObjectTracker:
    """Estimates hand and object frame after frame, choosing the boxes itself.

    estimator: a HandObjectEstimator (anything with its `estimate` call); policy: a BoxPolicy;
    detector: a HandDetector (anything with `detect(image, hints)`), or None without one.
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
        """Hand and object in `image` (H, W, 3) uint8 RGB with intrinsics K (3, 3), stamped `stamp` (s).

        Raises EstimationError (from the estimator) for an image or intrinsics that cannot be estimated.
        """
        return self.estimate_step(image, K, stamp, object_model, self.detect_step(image, stamp))

    def detect_step(self, image: np.ndarray, stamp: float) -> DetectionStep:
        """Run the detector on `image` (H, W, 3) uint8 RGB stamped `stamp` (s) when the policy wants it."""
        with self.lock:
            due = self.detector is not None and self.policy.detection_due(stamp)
            hints = self.policy.hints(stamp) if due else []
        if not due:
            return DetectionStep(None, 0.0)
        start = time.perf_counter()
        detections = self.detector.detect(image, hints)
        return DetectionStep(detections, time.perf_counter() - start)

    def estimate_step(self, image: np.ndarray, K: np.ndarray, stamp: float, object_model: ObjectModel,
                      detected: DetectionStep) -> TrackedFrame:
        """The boxes and the network for `image` (arguments as `process`), given its `detect_step`."""
        size = (image.shape[1], image.shape[0])
        detections = detected.detections
        count = None if detections is None else len(detections)
        with self.lock:
            hand = self.policy.choose_hand(stamp, size, detections)
            if hand is None:
                self.policy.observe(stamp, None, None, K, object_model.control_points)
                return TrackedFrame(None, None, None, 0, count, detected.time)
            start_box = self.policy.object_start(stamp, size, hand)
        settings = self.policy.settings

        def run(object_box: np.ndarray) -> HandObjectEstimate:
            return estimate_side(self.estimator, image, K, hand.box.box, object_box, object_model, hand.side)

        def box_of(estimate: HandObjectEstimate) -> Optional[np.ndarray]:
            """The refined object box, grown to min_box_size (the decoder's points may collapse to one pixel)
            and clipped to the image; None when there is none."""
            box = object_box_from_estimate(estimate.object, K, object_model.control_points,
                                           settings.refine_min_score, settings.refine_min_points)
            return None if box is None else clip_box(box, size[0], size[1], settings.min_box_size)

        estimate, object_box, passes = refine_object_box(run, start_box, box_of, settings)
        with self.lock:
            self.policy.observe(stamp, hand, estimate, K, object_model.control_points)
        return TrackedFrame(estimate, hand, object_box, passes, count, detected.time)
