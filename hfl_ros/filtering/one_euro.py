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
from abc import ABC, abstractmethod
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


class _OneEuroFilter(ABC):
    """The One-Euro update, once; subclasses give the signal's space (check, difference, speed, step)."""

    def __init__(self, settings: OneEuroSettings) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget the signal: the next sample passes through."""
        self._value: Optional[np.ndarray] = None
        self._raw: Optional[np.ndarray] = None
        self._velocity: Optional[np.ndarray] = None

    def update(self, sample: np.ndarray, dt: float) -> np.ndarray:
        """sample: the new value; dt: s since the previous sample (ignored for the first). Returns the
        filtered value (a copy)."""
        sample = self._checked(sample)
        if self._value is None:
            self._value = self._raw = sample
            self._velocity = np.zeros_like(self._difference(sample, sample))
            return self._value.copy()
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        s = self.settings
        velocity = self._difference(self._raw, sample) / dt
        self._raw = sample
        self._velocity = self._velocity + smoothing_factor(s.d_cutoff, dt) * (velocity - self._velocity)
        cutoff = s.min_cutoff + s.beta * self._speed(self._velocity)
        self._value = self._step(self._value, sample, smoothing_factor(cutoff, dt))
        return self._value.copy()

    @abstractmethod
    def _checked(self, sample: np.ndarray) -> np.ndarray:
        """The sample as a float64 array; raises ValueError for a bad shape or non-finite values."""

    @abstractmethod
    def _difference(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """end - start in the signal's tangent space."""

    @abstractmethod
    def _speed(self, velocity: np.ndarray) -> np.ndarray:
        """The speed(s) that raise the cut-off, broadcastable against the sample."""

    @abstractmethod
    def _step(self, start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """The point `fraction` of the way from start to end."""


class PointFilter(_OneEuroFilter):
    """One-Euro filter of N points (N, 3), m; `update(points (N, 3), dt) -> (N, 3)`. Each point's cut-off
    follows its own speed; the first sample (and the first after `reset`) passes through."""

    def _checked(self, sample: np.ndarray) -> np.ndarray:
        points = np.asarray(sample, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
            raise ValueError(f"points must be finite with shape (N, 3), got shape {points.shape}")
        if self._value is not None and points.shape != self._value.shape:
            raise ValueError(f"points changed shape from {self._value.shape} to {points.shape}; reset first")
        return points

    def _difference(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        return end - start

    def _speed(self, velocity: np.ndarray) -> np.ndarray:
        return np.linalg.norm(velocity, axis=1, keepdims=True)  # (N, 1) m/s

    def _step(self, start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        return start + fraction * (end - start)


class RotationFilter(_OneEuroFilter):
    """One-Euro filter of a rotation (3, 3) that stays on SO(3); `update(rotation (3, 3), dt) -> (3, 3)`.
    The first sample passes through (made exactly a rotation)."""

    def _checked(self, sample: np.ndarray) -> np.ndarray:
        rotation = np.asarray(sample, dtype=np.float64)
        if rotation.shape != (3, 3):
            raise ValueError(f"rotation must have shape (3, 3), got {rotation.shape}")
        return exp_map(log_map(rotation)) if self._value is None else rotation  # log_map checks finiteness

    def _difference(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        # (3,) rad, camera frame: the shortest rotation from start to end, turned out of start's frame.
        return start @ relative_rotation_vector(start, end)

    def _speed(self, velocity: np.ndarray) -> np.ndarray:
        return np.linalg.norm(velocity)  # rad/s

    def _step(self, start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        # Slerp: `fraction` of the way along the geodesic (at most pi long) from start to end.
        return start @ exp_map(fraction * relative_rotation_vector(start, end))
