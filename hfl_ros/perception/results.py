"""Typed results of one frame of the perception pipeline (hfl_ros.perception.pipeline): per hand, per frame.

Boxes are [x1, y1, x2, y2] px of the full image; stamps and times are seconds.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from hfl_ros.filtering import FilteredFrame
from hfl_ros.results import HandObjectEstimate


@dataclass(frozen=True)
class HandResult:
    """One hand of a frame and the object attached to it.

    side: "right" or "left"; track_id: the policy's track of this side (-1: no track, e.g. an external ROI).
    hand_box: (4,) px, the box the network saw; hand_source: where it came from (detection.policy sources).
    hand_score: in [0, 1], the detector's confidence when a detection gave the box, else the network's score.
    object_name: registry name of the object; object_box: (4,) px the estimate was made with (None: none);
    object_source: its source; object_track_id: stable while this side's object box is tracked, a new id
    after it was lost or reset and found again.
    estimate: the network's raw estimate; filtered: the temporal filter's frame (None: the filter is off);
    output: what single-pose outputs (TF, poses, joints) carry: the filtered poses where the filter gave
    them and `outputs_filtered` is on, else the raw ones.
    passes: network passes run for this hand (object refinement); gated: the filter held back a jump.
    hand_shown / object_shown: whether the hand / the object pass the quality gate (scores, PnP inliers):
    outputs show only parts that pass, and the filter sees only those.
    """

    side: str
    track_id: int
    hand_box: np.ndarray
    hand_source: str
    hand_score: float
    object_name: str
    object_box: Optional[np.ndarray]
    object_source: Optional[str]
    object_track_id: int
    estimate: HandObjectEstimate
    filtered: Optional[FilteredFrame]
    output: HandObjectEstimate
    passes: int
    gated: bool
    hand_shown: bool = True
    object_shown: bool = False


@dataclass(frozen=True)
class FrameResult:
    """What one frame gave.

    stamp: s, the image's. hands: primary first (empty: no hand found, or the frame was skipped).
    skipped: why the frame was not processed (a reason key such as "non-finite estimate"), None when it was;
    detail: the reason's details ("" when processed). detections: hands the detector found (None: it did
    not run); detector_time, network_time: s spent in the detector and in the network's last pass (one
    batched call for all hands); notes: conditions worth a warning that did not skip the frame (an unregistered ROI object class).
    """

    stamp: float
    hands: Tuple[HandResult, ...] = ()
    skipped: Optional[str] = None
    detail: str = ""
    detections: Optional[int] = None
    detector_time: float = 0.0
    network_time: float = 0.0
    notes: Tuple[str, ...] = ()

    @property
    def hand(self) -> Optional[HandResult]:
        """The primary hand (None without one)."""
        return self.hands[0] if self.hands else None

    def side(self, side: str) -> Optional[HandResult]:
        """The hand of side `side` ("right" / "left"), None when the frame has none."""
        return next((hand for hand in self.hands if hand.side == side), None)
