"""Settings of the perception pipeline: one type that the node's parameters (hfl_ros.ros.parameters) and
hfl-video's options (hfl_ros.apps.video) both map to."""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from hfl_ros.detection.hand_detector import DetectorSettings
from hfl_ros.detection.policy import PolicySettings
from hfl_ros.filtering import FilterSettings


@dataclass(frozen=True)
class GateSettings:
    """What a hand or object needs to be shown (outputs) and to reach the temporal filter.

    min_hand_score: network hand score (in [0, 1]); min_object_score: mean control-point confidence;
    min_object_inliers: PnP inliers of the object pose (an object without a pose is never shown).
    """

    min_hand_score: float = 0.0
    min_object_score: float = 0.0
    min_object_inliers: int = 4

    def __post_init__(self) -> None:
        for name in ("min_hand_score", "min_object_score"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        if int(self.min_object_inliers) != self.min_object_inliers or self.min_object_inliers < 0:
            raise ValueError(f"min_object_inliers must be an integer >= 0, got {self.min_object_inliers}")


@dataclass(frozen=True)
class PerceptionSettings:
    """policy: where boxes come from and how many hands (hfl_ros.detection.policy); detector: the built-in
    hand detector's settings (None = no built-in detector: external ROIs, tracking and the initial ROI only);
    filter: the temporal filter (None = off); gate: the quality gate; outputs_filtered: HandResult.output
    carries the filtered poses (False: always the raw ones)."""

    policy: PolicySettings = field(default_factory=PolicySettings)
    detector: Optional[DetectorSettings] = field(default_factory=DetectorSettings)
    filter: Optional[FilterSettings] = field(default_factory=FilterSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    outputs_filtered: bool = True
