"""Temporal filter quality on a synthetic hand-object sequence with ground truth, beside a fixed low-pass.

Usage: .venv/bin/python benchmarks/filter_quality.py [--frames N] [--fps F] [--seed S] [--outliers P]

Truth: the (procedural) MANO right hand moving in front of the camera for N frames: a still phase, then a
sway and reaches (wrist up to 0.7 m/s and 2.3 rad/s), the fingers opening and closing, an object held
rigidly in the hand. Estimates: the truth with per-frame noise like a monocular estimator's (wrist position
3/3/15 mm in x/y/depth, wrist rotation 3 deg, articulation 4 mm per joint, object 3/3/10 mm and 2 deg)
and a fraction P of outlier frames (hand depth off by 0.25-0.4 m, object turned by 90-180 deg).
Rows: raw estimates; a fixed exponential smoother with alpha 0.2 (dex-retargeting's own joint low-pass,
no gate); the One-Euro filter with the default FilterSettings, without and with the gate.
Columns, per quantity: error to truth (mean, mm or deg), jitter (mean frame-to-frame acceleration: norm of
the second difference, mm/frame^2 or deg/frame^2; the truth's own is printed first), added lag in frames
(the shift of the truth that best matches the filter's output on noise-free input). Last: filter time per
frame (median and p90 of `HandObjectFilter.update`, hand and object together).
"""

import argparse
import dataclasses
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from hfl_ros.filtering import FilterCounts, FilterSettings, HandObjectFilter, HandObservation, ObjectObservation
from hfl_ros.geometry.so3 import exp_map, log_map, relative_rotation_vector, rotation_angle
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.retargeting import joints_in_camera_frame
from timing import median_p90

#: Wrist-to-object offset (object frame origin in the wrist frame), m.
OBJECT_OFFSET = np.array([0.02, -0.06, 0.05])
#: Lag search: shifts of the truth tried, frames.
SHIFTS = np.arange(0.0, 8.0, 0.05)


@dataclasses.dataclass
class Sequence:
    """T frames: stamps (T,) s; joints_wrist (T, 21, 3) m; wrist (T, 4, 4) and object (T, 4, 4) camera-from-*."""

    stamps: np.ndarray
    joints_wrist: np.ndarray
    wrist: np.ndarray
    object: np.ndarray

    @property
    def joints(self) -> np.ndarray:
        return joints_in_camera_frame(self.joints_wrist, self.wrist)


def _poses(rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    poses = np.tile(np.eye(4), (len(rotations), 1, 1))
    poses[:, :3, :3], poses[:, :3, 3] = rotations, translations
    return poses


def truth_sequence(frames: int, fps: float, rng: np.random.Generator) -> Sequence:
    """Still for the first sixth, then sway and reaches; see the module docstring."""
    t = np.arange(frames) / fps
    moving = np.clip((t - t[-1] / 6) / 0.5, 0, 1)[:, None]  # 0 while still, ramps to 1 over 0.5 s
    translation = np.array([0.0, 0.02, 0.55]) + moving * np.stack((
        0.12 * np.sin(2 * np.pi * 0.4 * t) + 0.05 * np.sin(2 * np.pi * 0.9 * t),
        0.06 * np.sin(2 * np.pi * 0.3 * t + 1.0),
        0.10 * np.sin(2 * np.pi * 0.25 * t + 0.5) + 0.04 * np.sin(2 * np.pi * 1.1 * t)), axis=1)
    rotation_vector = np.array([2.2, 0.3, -0.4]) + moving * np.stack((
        0.5 * np.sin(2 * np.pi * 0.35 * t), 0.6 * np.sin(2 * np.pi * 0.5 * t + 0.3),
        0.3 * np.sin(2 * np.pi * 0.8 * t)), axis=1)
    wrist = _poses(exp_map(rotation_vector), translation)
    with tempfile.TemporaryDirectory() as directory:
        mano = load_mano(procedural_mano_dir(directory)).eval()
    open_hand, closed_hand = rng.normal(0, 0.1, 45), rng.normal(0.3, 0.15, 45)
    grip = (0.5 - 0.5 * np.cos(2 * np.pi * 0.3 * t))[:, None] * moving
    articulation = open_hand + grip * (closed_hand - open_hand)
    with torch.no_grad():
        pose = torch.from_numpy(np.concatenate((np.zeros((frames, 3)), articulation), axis=1)).float()
        joints_wrist = mano(pose, torch.zeros(frames, 10)).joints.double().numpy()
    return Sequence(t, joints_wrist, wrist, wrist @ _poses(np.eye(3)[None], OBJECT_OFFSET[None]))


def noisy_estimates(truth: Sequence, rng: np.random.Generator, outlier_fraction: float) -> Sequence:
    """The truth with estimator-like noise and outlier frames (module docstring)."""
    count = len(truth.stamps)
    wrist = truth.wrist @ _poses(exp_map(rng.normal(0, np.radians(3), (count, 3))), np.zeros((count, 3)))
    wrist[:, :3, 3] += rng.normal(0, 1, (count, 3)) * [0.003, 0.003, 0.015]
    joints_wrist = truth.joints_wrist + rng.normal(0, 0.004, truth.joints_wrist.shape)
    joints_wrist[:, 0] = 0  # the wrist pose's position is joint 0
    obj = truth.object @ _poses(exp_map(rng.normal(0, np.radians(2), (count, 3))), np.zeros((count, 3)))
    obj[:, :3, 3] += rng.normal(0, 1, (count, 3)) * [0.003, 0.003, 0.010]
    hand_outliers = rng.random(count) < outlier_fraction
    wrist[hand_outliers, 2, 3] += rng.uniform(0.25, 0.4, hand_outliers.sum())
    object_outliers = np.flatnonzero(rng.random(count) < outlier_fraction)
    for index in object_outliers:
        axis = rng.normal(size=3)
        obj[index, :3, :3] = obj[index, :3, :3] @ exp_map(axis / np.linalg.norm(axis) * rng.uniform(np.pi / 2, np.pi))
    return Sequence(truth.stamps, joints_wrist, wrist, obj)


def run_filter(estimates: Sequence, settings: FilterSettings) -> Tuple[Sequence, List[float], FilterCounts]:
    """The filtered sequence, the seconds each `HandObjectFilter.update` took, and the filter's counts."""
    hand_object_filter = HandObjectFilter(settings)
    joints_wrist, wrist, obj, seconds = [], [], [], []
    joints = estimates.joints
    for index, stamp in enumerate(estimates.stamps):
        hand = HandObservation("right", joints[index], estimates.wrist[index])
        held = ObjectObservation("object", estimates.object[index])
        start = time.perf_counter()
        frame = hand_object_filter.update(float(stamp), hand, held)
        seconds.append(time.perf_counter() - start)
        joints_wrist.append(frame.hand.joints_wrist)
        wrist.append(frame.hand.wrist_pose)
        obj.append(frame.object.pose)
    filtered = Sequence(estimates.stamps, np.array(joints_wrist), np.array(wrist), np.array(obj))
    return filtered, seconds, hand_object_filter.counts


def _shifted(values: np.ndarray, shift: float) -> np.ndarray:
    """values (T, ...) delayed by `shift` frames (linear interpolation; the first frame repeats)."""
    index = np.clip(np.arange(len(values)) - shift, 0, len(values) - 1)
    low = np.floor(index).astype(int)
    high = np.minimum(low + 1, len(values) - 1)
    weight = (index - low).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1 - weight) * values[low] + weight * values[high]


def _shifted_rotations(rotations: np.ndarray, shift: float) -> np.ndarray:
    index = np.clip(np.arange(len(rotations)) - shift, 0, len(rotations) - 1)
    low = np.floor(index).astype(int)
    high = np.minimum(low + 1, len(rotations) - 1)
    steps = relative_rotation_vector(rotations[low], rotations[high]) * (index - low)[:, None]
    return rotations[low] @ exp_map(steps)


def _position_error(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T,) mean point distance per frame, m."""
    return np.linalg.norm(estimate - truth, axis=-1).reshape(len(truth), -1).mean(axis=1)


#: name -> (values of a sequence, unit scale, unit, is a rotation)
QUANTITIES: Dict[str, Tuple[Callable[[Sequence], np.ndarray], float, str, bool]] = {
    "hand joints (camera)": (lambda s: s.joints, 1e3, "mm", False),
    "hand joints (wrist frame)": (lambda s: s.joints_wrist, 1e3, "mm", False),
    "wrist rotation": (lambda s: s.wrist[:, :3, :3], np.degrees(1.0), "deg", True),
    "object translation": (lambda s: s.object[:, :3, 3], 1e3, "mm", False),
    "object rotation": (lambda s: s.object[:, :3, :3], np.degrees(1.0), "deg", True),
}


def error(values: np.ndarray, truth: np.ndarray, rotation: bool) -> float:
    return float((rotation_angle(truth, values) if rotation else _position_error(values, truth)).mean())


def jitter(values: np.ndarray, rotation: bool) -> float:
    """Mean norm of the second difference (per point), in the values' unit per frame^2."""
    if rotation:
        steps = log_map(np.swapaxes(values[:-1], -1, -2) @ values[1:])
        return float(np.linalg.norm(np.diff(steps, axis=0), axis=-1).mean())
    return float(np.linalg.norm(np.diff(values, n=2, axis=0), axis=-1).mean())


def lag_frames(values: np.ndarray, truth: np.ndarray, rotation: bool) -> float:
    """The shift of the truth (frames) that best matches `values`, over the moving part of the sequence."""
    start = len(truth) // 5
    shifted = _shifted_rotations if rotation else _shifted
    errors = [error(values[start:], shifted(truth, shift)[start:], rotation) for shift in SHIFTS]
    return float(SHIFTS[int(np.argmin(errors))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outliers", type=float, default=0.02, help="fraction of outlier frames")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    truth = truth_sequence(args.frames, args.fps, rng)
    estimates = noisy_estimates(truth, rng, args.outliers)
    defaults = FilterSettings()
    alpha_cutoff = args.fps / (8 * np.pi)  # smoothing_factor(alpha_cutoff, 1 / fps) = 0.2
    fixed = dict(position_min_cutoff=alpha_cutoff, rotation_min_cutoff=alpha_cutoff, joints_min_cutoff=alpha_cutoff,
                 position_beta=0.0, rotation_beta=0.0, joints_beta=0.0, gating=False)
    rows: Dict[str, Optional[FilterSettings]] = {
        "raw": None,
        "fixed alpha 0.2": dataclasses.replace(defaults, **fixed),
        "one-euro, no gate": dataclasses.replace(defaults, gating=False),
        "one-euro + gate": defaults,
    }
    print(f"{args.frames} frames at {args.fps:g} fps, seed {args.seed}, outlier fraction {args.outliers:g}; "
          f"defaults: {defaults}")
    outputs, times, counts = {}, [], None
    for name, settings in rows.items():
        if settings is None:
            outputs[name] = (estimates, truth)
            continue
        filtered, seconds, frame_counts = run_filter(estimates, settings)
        outputs[name] = (filtered, run_filter(truth, settings)[0])
        if settings is defaults:
            times, counts = seconds, frame_counts
    for quantity, (get, scale, unit, rotation) in QUANTITIES.items():
        true_values = get(truth)
        print(f"\n{quantity}: truth jitter {jitter(true_values, rotation) * scale:.3f} {unit}/frame^2")
        print(f"  {'':20s} {'error ' + unit:>10s} {'jitter':>10s} {'lag frames':>10s}")
        for name, (filtered, clean) in outputs.items():
            values = get(filtered)
            print(f"  {name:20s} {error(values, true_values, rotation) * scale:10.2f} "
                  f"{jitter(values, rotation) * scale:10.3f} {lag_frames(get(clean), true_values, rotation):10.2f}")
    median, p90 = median_p90(times)
    print(f"\none-euro + gate: gated hand frames {counts.hand_gated}, object frames {counts.object_gated}; "
          f"restarts hand {counts.hand_resets}, object {counts.object_resets}")
    print(f"filter time per frame (hand + object): median {median * 1e6:.0f} us, p90 {p90 * 1e6:.0f} us")


if __name__ == "__main__":
    main()
