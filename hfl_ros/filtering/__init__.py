"""Temporal filtering of the estimates: One-Euro filters on points and on SO(3), outlier gating, the
filtered hand and object of a frame stream, and offline filtering and export of trajectories.

- `one_euro`: `OneEuroSettings`, `PointFilter`, `RotationFilter` (pure, numpy).
- `track`: `FilterSettings`, `RigidTrack` (one rigid body: filter, gate, restarts).
- `hand_object`: `HandObjectFilter` (hand and object per frame, image stamps), its result types, and
  `filtered_estimate` (an estimate with the filtered poses in place).
- `trajectory`: filtered fields of `trajectory.jsonl` records and the NumPy (.npz) export.
"""

from hfl_ros.filtering.hand_object import (
    FilterCounts, FilteredFrame, FilteredHand, FilteredObject, HandObjectFilter, HandObservation, ObjectObservation,
    filtered_estimate, observations,
)
from hfl_ros.filtering.track import FilterSettings

__all__ = [
    "FilterCounts", "FilterSettings", "FilteredFrame", "FilteredHand", "FilteredObject", "HandObjectFilter",
    "HandObservation", "ObjectObservation", "filtered_estimate", "observations",
]
