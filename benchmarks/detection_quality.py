"""Where boxes come from, judged on rendered sequences with ground truth: built-in detector vs the old fixed ROI.

Usage: .venv/bin/python benchmarks/detection_quality.py [--seeds 18,19,4,13,21,0,1] [--frames 40]
       [--hidden 20:26] [--size 640x480]

Sequences: per seed, one random grasp of the synthetic renderer (procedural hand + object) sweeping across
the image and swaying (`hfl_ros.evaluation.tracking_scenes.render_sequence`); on the --hidden frames the
pair is out of view (the hand leaves and comes back). The network is replaced by `BoxLimitedOracle`: the
ground truth seen only through the boxes it is given (2D joints clamped into the hand box, object control
points seen within 1.5 x the object box), so the figures measure the boxes, not an (untrained) network.

Policies (rows), all through `HandObjectTracker`:
- detector: MediaPipe when there is no track and every 10 frames, tracking in between, hand-centred object
  box refined from the decoder (the new default);
- detector every frame: the same with the detector on every frame;
- fixed ROI (old): no detector; the initial ROI (the node's old defaults) whenever there is no track.
A track ends when the hand score (fraction of true joints inside the box) drops below 0.5.

Columns, over the visible frames: hand found (box IoU >= 0.5 with the true box: the true joints' box x1.1),
mean hand IoU (0 where none), object found and mean object IoU (true box: projected control points); over
all frames (a hidden hand counts as not found): track losses (found -> not found) and re-acquisitions (not
found -> found after a loss); delay: frames from the hand's return into view until it is found again (mean;
"never" when it was not); detector runs, mean detector time per run and per frame. Seeds 18, 19, 4, 13, 21 are grasps whose hand MediaPipe finds; 0 and
1 are grasps it does not (back of the hand, hidden behind the object).
"""

import argparse
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from hfl_ros.data.synthetic import default_assets
from hfl_ros.detection.hand_detector import HandDetector
from hfl_ros.detection.policy import BoxPolicy, PolicySettings
from hfl_ros.evaluation.tracking_scenes import BoxLimitedOracle, SequenceFrame, render_sequence, sequence_object_model
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.inference.tracking import HandObjectTracker

#: The node's former initial ROIs (fractions of the image).
OLD_HAND_ROI = (0.3, 0.25, 0.7, 0.75)
OLD_OBJECT_ROI = (0.35, 0.3, 0.65, 0.7)
FOUND_IOU = 0.5


@dataclass
class Tally:
    hand_iou: List[float]
    object_iou: List[float]
    losses: int = 0
    reacquisitions: int = 0
    delays: List[int] = field(default_factory=list)
    detector_runs: int = 0
    detector_time: float = 0.0
    frames: int = 0


def policies() -> Dict[str, PolicySettings]:
    common = dict(hand_side="right", tracking_min_hand_score=0.5)
    return {
        "detector": PolicySettings(detect_every=10, **common),
        "detector every frame": PolicySettings(detect_every=1, **common),
        "fixed ROI (old)": PolicySettings(initial_hand_roi=OLD_HAND_ROI, initial_object_roi=OLD_OBJECT_ROI, **common),
    }


def run_policy(sequence: List[SequenceFrame], settings: PolicySettings, detector: Optional[HandDetector],
               tally: Tally) -> None:
    oracle = BoxLimitedOracle(default_assets().faces)
    model = sequence_object_model(sequence[0])
    tracker = HandObjectTracker(oracle, BoxPolicy(settings, detector=detector is not None), detector)
    found_before, lost, returned = False, False, None
    for index, frame in enumerate(sequence):
        oracle.with_truth(frame.annotation)
        tracked = tracker.process(frame.image, frame.annotation.K, index / 30.0, model)
        tally.frames += 1
        if tracked.detections is not None:
            tally.detector_runs += 1
            tally.detector_time += tracked.detector_time
        hand = 0.0 if tracked.hand is None else box_iou(tracked.hand.box.box, frame.hand_box)
        obj = 0.0 if tracked.object_box is None else box_iou(tracked.object_box.box, frame.object_box)
        if frame.visible:
            tally.hand_iou.append(hand)
            tally.object_iou.append(obj)
        found = frame.visible and hand >= FOUND_IOU
        if frame.visible and index > 0 and not sequence[index - 1].visible:
            returned = index
        if found and returned is not None:
            tally.delays.append(index - returned)
            returned = None
        if found_before and not found:
            tally.losses += 1
            lost = True
        if found and lost:
            tally.reacquisitions += 1
            lost = False
        found_before = found


def row(name: str, tally: Tally) -> str:
    hand, obj = np.array(tally.hand_iou), np.array(tally.object_iou)
    per_run = tally.detector_time / tally.detector_runs * 1e3 if tally.detector_runs else 0.0
    per_frame = tally.detector_time / max(tally.frames, 1) * 1e3
    delay = f"{np.mean(tally.delays):.1f}" if tally.delays else "never"
    return (f"{name:<22} {np.mean(hand >= FOUND_IOU):>6.1%} {hand.mean():>6.3f} {np.mean(obj >= FOUND_IOU):>6.1%} "
            f"{obj.mean():>6.3f} {tally.losses:>6d} {tally.reacquisitions:>6d} {delay:>6} {tally.detector_runs:>6d} "
            f"{per_run:>8.1f} {per_frame:>8.1f}")


HEADER = (f"{'policy':<22} {'hand':>6} {'IoU':>6} {'object':>6} {'IoU':>6} {'losses':>6} {'reacq':>6} {'delay':>6} "
          f"{'det.runs':>6} {'ms/run':>8} {'ms/frame':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="18,19,4,13,21,0,1")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--hidden", default="20:26", help="first:last (exclusive) frames out of view")
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    first, last = (int(value) for value in args.hidden.split(":"))
    size = tuple(int(value) for value in args.size.split("x"))
    totals = {name: Tally([], []) for name in policies()}
    start = time.perf_counter()
    with HandDetector() as detector:
        for seed in seeds:
            sequence = render_sequence(seed, args.frames, size, hidden=range(first, last))
            print(f"\nseed {seed}: {args.frames} frames {size[0]}x{size[1]}, out of view {first}-{last - 1}, "
                  f"true hand box ~{np.mean([f.hand_box[2] - f.hand_box[0] for f in sequence if f.visible]):.0f} px")
            print(HEADER)
            for name, settings in policies().items():
                tally = Tally([], [])
                uses_detector = settings.initial_hand_roi is None
                run_policy(sequence, settings, detector if uses_detector else None, tally)
                print(row(name, tally))
                total = totals[name]
                total.hand_iou += tally.hand_iou
                total.object_iou += tally.object_iou
                total.delays += tally.delays
                for key in ("losses", "reacquisitions", "detector_runs", "detector_time", "frames"):
                    setattr(total, key, getattr(total, key) + getattr(tally, key))
    print(f"\nall seeds ({', '.join(map(str, seeds))}); found = IoU >= {FOUND_IOU} on visible frames")
    print(HEADER)
    for name, tally in totals.items():
        print(row(name, tally))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
