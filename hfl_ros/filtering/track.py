"""One tracked rigid body over time: One-Euro filtering of its pose (and of points attached to it),
outlier gating, and the events that restart the filter.

`RigidTrack.update(stamp, identity, pose, points)` takes one observation per frame, stamped with the
image's time (seconds), and returns the filtered pose. It restarts (the observation passes through
unfiltered) when:

- ``"start"``: the first observation;
- ``"track_lost"``: the previous frame had no observation (`lose()` was called);
- ``"identity_changed"``: the identity (hand side, object name) differs from the previous one;
- ``"time_backwards"``: the stamp is not later than the previous frame's (a bag or video looped);
- ``"gap"``: more than `max_gap` seconds passed since the previous frame;
- ``"jump_accepted"``: a jump held back by the gate persisted for `gate_persist_frames` frames.

Gating: an observation whose position is more than `gate_translation` m, or whose rotation is more than
`gate_rotation_deg` degrees, away from the filtered pose is held back: the output is the last filtered
pose, flagged ``gated``, and the filter state does not change. When `gate_persist_frames` consecutive
observations agree with one another (each within the same thresholds of the one before) but not with the
filtered pose, the last of them is accepted and the filter restarts there.
"""

import math
from dataclasses import dataclass
from typing import Hashable, Optional

import numpy as np

from hfl_ros.filtering.one_euro import OneEuroSettings, PointFilter, RotationFilter
from hfl_ros.geometry.so3 import rotation_angle

RESET_REASONS = ("start", "track_lost", "identity_changed", "time_backwards", "gap", "jump_accepted")


@dataclass(frozen=True)
class FilterSettings:
    """Temporal filter and gate of the hand and the object (both use the same settings).

    One-Euro (see `hfl_ros.filtering.one_euro`), each with `derivative_cutoff` for its speed estimate:
    - position_min_cutoff (Hz), position_beta (Hz per m/s): wrist and object positions, camera frame.
    - rotation_min_cutoff (Hz), rotation_beta (Hz per rad/s): wrist and object rotations.
    - joints_min_cutoff (Hz), joints_beta (Hz per m/s): the 21 joints in the wrist frame (articulation).
    Gate: gating on/off; gate_translation (m) and gate_rotation_deg (degrees): the largest accepted jump
    from the filtered pose (Isaac ROS-like 0.2 m / 30 deg); gate_persist_frames: consecutive agreeing
    frames after which a jump is accepted (1 = accept every jump at once, restarting the filter).
    max_gap: seconds without a frame after which the filter restarts.
    The defaults come from benchmarks/filter_quality.py (30 fps, wrist up to 0.7 m/s and 2.3 rad/s,
    monocular-like noise): the filtered error is no larger than the raw one while the jitter drops 2-7
    times; raise min_cutoff / beta for less lag, lower them for less jitter.
    """

    position_min_cutoff: float = 1.0
    position_beta: float = 20.0
    rotation_min_cutoff: float = 1.0
    rotation_beta: float = 2.0
    joints_min_cutoff: float = 1.0
    joints_beta: float = 5.0
    derivative_cutoff: float = 1.0
    gating: bool = True
    gate_translation: float = 0.2
    gate_rotation_deg: float = 30.0
    gate_persist_frames: int = 3
    max_gap: float = 0.5

    def __post_init__(self) -> None:
        for name in ("position", "rotation", "joints"):
            getattr(self, name)  # validates the One-Euro settings
        for name in ("gate_translation", "gate_rotation_deg", "max_gap"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.gate_persist_frames, int) and self.gate_persist_frames >= 1):
            raise ValueError(f"gate_persist_frames must be an integer >= 1, got {self.gate_persist_frames!r}")

    @property
    def position(self) -> OneEuroSettings:
        return OneEuroSettings(self.position_min_cutoff, self.position_beta, self.derivative_cutoff)

    @property
    def rotation(self) -> OneEuroSettings:
        return OneEuroSettings(self.rotation_min_cutoff, self.rotation_beta, self.derivative_cutoff)

    @property
    def joints(self) -> OneEuroSettings:
        return OneEuroSettings(self.joints_min_cutoff, self.joints_beta, self.derivative_cutoff)


@dataclass(frozen=True)
class TrackOutput:
    """The filtered state after one observation.

    pose: (4, 4) camera-from-body, filtered (the held pose when gated).
    points: (N, 3) m, body frame, filtered; None when the track has no points.
    gated: the observation was held back by the gate.
    reset: why the filter restarted on this observation (one of RESET_REASONS), or None.
    """

    pose: np.ndarray
    points: Optional[np.ndarray]
    gated: bool
    reset: Optional[str]


def _check_pose(pose: np.ndarray) -> np.ndarray:
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise ValueError(f"pose must be a finite (4, 4) transform, got shape {pose.shape}")
    return pose


def _pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, translation
    return pose


class RigidTrack:
    """Filter and gate of one rigid body (camera-from-body pose) with optional body-frame points."""

    def __init__(self, settings: FilterSettings = FilterSettings(), points: Optional[OneEuroSettings] = None) -> None:
        """points: One-Euro settings of the attached points (None = the track has no points)."""
        self.settings = settings
        self._position = PointFilter(settings.position)
        self._rotation = RotationFilter(settings.rotation)
        self._points = PointFilter(points) if points is not None else None
        self._identity: Optional[Hashable] = None
        self._lost = False
        self._last_stamp: Optional[float] = None  # the last observation's stamp, gated or not
        self._filter_stamp: Optional[float] = None  # the stamp of the filter's state
        self._candidate: Optional[np.ndarray] = None  # the last held-back pose
        self._candidate_frames = 0
        self._output: Optional[TrackOutput] = None

    def lose(self) -> None:
        """No observation this frame: the next one restarts the filter (reason "track_lost")."""
        if self._last_stamp is not None:
            self._lost = True

    def update(self, stamp: float, identity: Hashable, pose: np.ndarray,
               points: Optional[np.ndarray] = None) -> TrackOutput:
        """stamp: s (the image's); identity: what is tracked (e.g. hand side, object name);
        pose: (4, 4) camera-from-body; points: (N, 3) m, body frame, when the track has points.
        Raises ValueError for a non-finite stamp, pose or points, or points given to a track without.
        """
        if not math.isfinite(stamp):
            raise ValueError(f"stamp must be a finite number of seconds, got {stamp!r}")
        pose = _check_pose(pose)
        if (points is None) != (self._points is None):
            raise ValueError("points must be given exactly when the track was built with point settings")
        reason = self._reset_reason(stamp, identity)
        self._identity, self._last_stamp, self._lost = identity, stamp, False
        if reason is None and self.settings.gating and self._jumps(self._output.pose, pose):
            agrees = self._candidate is not None and not self._jumps(self._candidate, pose)
            self._candidate_frames = self._candidate_frames + 1 if agrees else 1
            self._candidate = pose
            if self._candidate_frames < self.settings.gate_persist_frames:
                self._output = TrackOutput(self._output.pose, self._output.points, gated=True, reset=None)
                return self._output
            reason = "jump_accepted"
        if reason is not None:
            for part in (self._position, self._rotation, self._points):
                if part is not None:
                    part.reset()
        dt = 0.0 if reason is not None else stamp - self._filter_stamp
        self._candidate, self._candidate_frames, self._filter_stamp = None, 0, stamp
        position = self._position.update(pose[None, :3, 3], dt)[0]
        rotation = self._rotation.update(pose[:3, :3], dt)
        filtered_points = None if self._points is None else self._points.update(points, dt)
        self._output = TrackOutput(_pose(rotation, position), filtered_points, gated=False, reset=reason)
        return self._output

    def _reset_reason(self, stamp: float, identity: Hashable) -> Optional[str]:
        if self._last_stamp is None:
            return "start"
        if self._lost:
            return "track_lost"
        if identity != self._identity:
            return "identity_changed"
        if stamp <= self._last_stamp:
            return "time_backwards"
        if stamp - self._last_stamp > self.settings.max_gap:
            return "gap"
        return None

    def _jumps(self, reference: np.ndarray, pose: np.ndarray) -> bool:
        translation = np.linalg.norm(pose[:3, 3] - reference[:3, 3])
        angle = rotation_angle(reference[:3, :3], pose[:3, :3])
        return bool(translation > self.settings.gate_translation
                    or angle > math.radians(self.settings.gate_rotation_deg))
