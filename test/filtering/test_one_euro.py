"""One-Euro filters on synthetic signals with known truth, against the filter's steady-state theory."""

import numpy as np
import pytest

from hfl_ros.filtering.one_euro import OneEuroSettings, PointFilter, RotationFilter
from hfl_ros.filtering.track import FilterSettings
from hfl_ros.geometry.so3 import exp_map, rotation_angle

DT = 1 / 30


def _alpha(cutoff: float) -> float:
    """Smoothing factor of a first-order low-pass with cut-off `cutoff` Hz sampled every DT (Casiez et al.)."""
    tau = 1 / (2 * np.pi * cutoff)
    return 1 / (1 + tau / DT)


def _time_constant(settings: OneEuroSettings, speed: float) -> float:
    """Seconds a first-order filter with the One-Euro cut-off at `speed` trails a ramp by."""
    return 1 / (2 * np.pi * (settings.min_cutoff + settings.beta * speed))


def test_constant_velocity_lag_is_the_time_constant_of_the_speed_raised_cutoff():
    settings = OneEuroSettings(min_cutoff=1.0, beta=2.0, d_cutoff=1.0)
    velocity = np.array([0.3, -0.1, 0.2])  # m/s
    speed = np.linalg.norm(velocity)
    point_filter = PointFilter(settings)
    start = np.array([[0.1, 0.0, 0.6], [0.0, 0.05, 0.5]])
    for step in range(150):  # 5 s: the speed estimate (1 Hz) has long converged
        truth = start + velocity * step * DT
        filtered = point_filter.update(truth, DT)
    lag_seconds = ((truth - filtered) @ velocity) / speed**2
    np.testing.assert_allclose(lag_seconds, _time_constant(settings, speed), rtol=1e-3)
    # Off the line of motion the filter adds no error.
    np.testing.assert_allclose(np.cross(truth - filtered, velocity), 0, atol=1e-9)


def test_still_point_noise_variance_shrinks_by_alpha_over_two_minus_alpha():
    settings = OneEuroSettings(min_cutoff=1.0, beta=0.0)  # fixed cut-off: a plain exponential smoother
    rng = np.random.default_rng(0)
    truth = np.array([[0.0, 0.0, 0.5]] * 21)
    point_filter = PointFilter(settings)
    errors = []
    for step in range(3000):
        errors.append(point_filter.update(truth + rng.normal(0, 0.005, truth.shape), DT) - truth)
    alpha = _alpha(settings.min_cutoff)
    ratio = np.std(errors[100:]) / 0.005
    assert ratio == pytest.approx(np.sqrt(alpha / (2 - alpha)), rel=0.05)


def test_default_joint_settings_remove_most_still_noise():
    settings = FilterSettings().joints
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 0.05, (21, 3))
    point_filter = PointFilter(settings)
    errors = [point_filter.update(truth + rng.normal(0, 0.005, truth.shape), DT) - truth for _ in range(2000)]
    ratio = np.std(errors[100:]) / 0.005
    fixed_cutoff_alpha = _alpha(settings.min_cutoff)
    # At least as noisy as the plain smoother at min_cutoff (beta only raises the cut-off), and at most half.
    assert np.sqrt(fixed_cutoff_alpha / (2 - fixed_cutoff_alpha)) * 0.95 < ratio < 0.5


def test_rotation_filter_stays_orthonormal_and_lags_the_short_way_across_pi():
    settings = OneEuroSettings(min_cutoff=1.0, beta=0.5, d_cutoff=1.0)
    axis = np.array([1.0, 2.0, -2.0]) / 3
    rate = 2.0  # rad/s; the angle about `axis` goes 1.0 -> 5.0 rad, through pi (the axis-angle flip) at 1.07 s
    rotation_filter = RotationFilter(settings)
    expected_lag_angle = rate * _time_constant(settings, rate)
    errors = []
    for step in range(60):
        truth = exp_map(axis * (1.0 + rate * step * DT))
        filtered = rotation_filter.update(truth, DT)
        np.testing.assert_allclose(filtered @ filtered.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(filtered) == pytest.approx(1.0, abs=1e-9)
        errors.append(rotation_angle(truth, filtered))
    # After the speed estimate settles (about 1 s), the error is the steady lag, also while crossing pi.
    assert max(errors[30:]) < expected_lag_angle * 1.05
    assert errors[-1] == pytest.approx(expected_lag_angle, rel=0.02)


def test_still_rotation_noise_shrinks_by_alpha_over_two_minus_alpha():
    settings = OneEuroSettings(min_cutoff=1.0, beta=0.0)
    rng = np.random.default_rng(2)
    truth = exp_map(np.array([0.3, -1.2, 2.9]))
    rotation_filter = RotationFilter(settings)
    errors = [rotation_angle(truth, rotation_filter.update(truth @ exp_map(rng.normal(0, 0.02, 3)), DT))
              for _ in range(3000)]
    alpha = _alpha(settings.min_cutoff)
    # Small angles: the error vector's RMS norm scales with the per-axis standard deviation.
    ratio = np.sqrt(np.mean(np.square(errors[100:]))) / (0.02 * np.sqrt(3))
    assert ratio == pytest.approx(np.sqrt(alpha / (2 - alpha)), rel=0.05)


def test_first_sample_passes_through_and_bad_steps_are_rejected():
    point_filter = PointFilter(OneEuroSettings(1.0, 0.0))
    first = np.array([[0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(point_filter.update(first, 0.0), first)
    with pytest.raises(ValueError, match="dt"):
        point_filter.update(first, 0.0)
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroSettings(min_cutoff=0.0, beta=1.0)
