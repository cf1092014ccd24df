"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for points and for rotations on SO(3).

A first-order low-pass filter whose cut-off frequency rises with the signal's speed: still signals are
smoothed hard (little jitter), fast ones lightly (little lag). Per sample, with ``dt`` seconds since the
previous one:

    alpha(f) = 1 / (1 + 1 / (2 pi f dt))                       smoothing factor of cut-off f (Hz)
    v_hat    = v_hat_prev + alpha(d_cutoff) (v - v_hat_prev)   v = (x - x_prev) / dt
    f        = min_cutoff + beta |v_hat|
    x_hat    = x_hat_prev + alpha(f) (x - x_hat_prev)

(x_prev is the previous raw sample, as in the authors' reference implementation.)

At a constant velocity ``v`` the output trails the input by ``1 / (2 pi f)`` seconds once ``v_hat`` has
converged; a still input with white noise keeps ``alpha / (2 - alpha)`` of the noise variance (beta = 0).

`PointFilter` filters (N, 3) points, each point with its own cut-off from its own speed (the norm of its
velocity, so the result does not depend on the axes). `RotationFilter` applies the same rule on SO(3):
differences are rotation vectors (the short way round, at most pi; `hfl_ros.geometry.so3`), the speed is
the angular speed, and the update is a slerp from the filtered rotation towards the new one by
``alpha(f)``.
"""

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from hfl_ros.geometry.so3 import exp_map, log_map, relative_rotation_vector


@dataclass(frozen=True)
class OneEuroSettings:
    """min_cutoff: Hz, the cut-off of a still signal (lower = smoother, more lag when slow).
    beta: cut-off increase per unit speed, Hz per (m/s) for points and Hz per (rad/s) for rotations
        (higher = less lag when fast).
    d_cutoff: Hz, the cut-off of the speed estimate itself.
    """

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of Hz, got {value!r}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be finite and >= 0, got {self.beta!r}")


def smoothing_factor(cutoff: np.ndarray, dt: float) -> np.ndarray:
    """alpha in (0, 1] of an exponential smoother with cut-off `cutoff` (Hz, any shape) at step `dt` (s)."""
    return 1.0 / (1.0 + 1.0 / (2 * np.pi * np.asarray(cutoff, dtype=np.float64) * dt))


def _check_dt(dt: float) -> None:
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")


class PointFilter:
    """One-Euro filter of N points (N, 3), m; the first sample (and the first after `reset`) passes through."""

    def __init__(self, settings: OneEuroSettings) -> None:
        self.settings = settings
        self._value: Optional[np.ndarray] = None
        self._raw: Optional[np.ndarray] = None
        self._velocity: Optional[np.ndarray] = None

    def reset(self) -> None:
        self._value = self._raw = self._velocity = None

    def update(self, points: np.ndarray, dt: float) -> np.ndarray:
        """points: (N, 3) m; dt: s since the previous sample (ignored for the first). Returns (N, 3) m."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
            raise ValueError(f"points must be finite with shape (N, 3), got shape {points.shape}")
        if self._value is None:
            self._value, self._raw, self._velocity = points.copy(), points, np.zeros_like(points)
            return self._value.copy()
        if points.shape != self._value.shape:
            raise ValueError(f"points changed shape from {self._value.shape} to {points.shape}; reset first")
        _check_dt(dt)
        s = self.settings
        velocity = (points - self._raw) / dt
        self._raw = points
        self._velocity = self._velocity + smoothing_factor(s.d_cutoff, dt) * (velocity - self._velocity)
        cutoff = s.min_cutoff + s.beta * np.linalg.norm(self._velocity, axis=1, keepdims=True)
        self._value = self._value + smoothing_factor(cutoff, dt) * (points - self._value)
        return self._value.copy()


class RotationFilter:
    """One-Euro filter of a rotation (3, 3) that stays on SO(3); the first sample passes through."""

    def __init__(self, settings: OneEuroSettings) -> None:
        self.settings = settings
        self._value: Optional[np.ndarray] = None
        self._raw: Optional[np.ndarray] = None
        self._angular_velocity: Optional[np.ndarray] = None

    def reset(self) -> None:
        self._value = self._raw = self._angular_velocity = None

    def update(self, rotation: np.ndarray, dt: float) -> np.ndarray:
        """rotation: (3, 3); dt: s since the previous sample (ignored for the first). Returns (3, 3)."""
        rotation = np.asarray(rotation, dtype=np.float64)
        if rotation.shape != (3, 3):
            raise ValueError(f"rotation must have shape (3, 3), got {rotation.shape}")
        if self._value is None:
            self._value = self._raw = exp_map(log_map(rotation))  # exactly a rotation; checks finiteness
            self._angular_velocity = np.zeros(3)
            return self._value.copy()
        _check_dt(dt)
        s = self.settings
        # (3,) rad/s, camera frame: the step from the previous sample turned out of that sample's frame.
        angular_velocity = self._raw @ relative_rotation_vector(self._raw, rotation) / dt
        self._raw = rotation
        self._angular_velocity = self._angular_velocity + smoothing_factor(s.d_cutoff, dt) * (
            angular_velocity - self._angular_velocity)
        cutoff = s.min_cutoff + s.beta * np.linalg.norm(self._angular_velocity)
        step = relative_rotation_vector(self._value, rotation)  # (3,) rad, filtered frame, |step| <= pi
        self._value = self._value @ exp_map(smoothing_factor(cutoff, dt) * step)
        return self._value.copy()
