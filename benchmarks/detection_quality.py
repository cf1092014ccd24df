"""Where hand boxes come from: rendered sequences with ground truth, and real clips against the landmark model.

Usage: .venv/bin/python benchmarks/detection_quality.py [--seeds 18,19,4,13,21,0,1] [--frames 40]
       [--hidden 20:26] [--size 640x480] [--real-frames 40] [--clips a.mp4,b.mp4] [--skip-rendered]

Part 1, rendered sequences (below). Part 2, real clips (test/data/real, its manifest): each clip's first
--real-frames frames through `PerceptionPipeline` with the UNTRAINED network (what a user without a
checkpoint runs; one object pass per frame, refine_max_passes 1, to keep CPU time down), two hands where the
manifest says "both". Judged against the landmark model's own boxes (`hfl_ros.evaluation.real_clips`: a
fresh full-frame Hand Landmarker, video mode, independent of the policy), over the frames where it sees a
hand: on hand (a reported hand box has IoU >= 0.5 with one of its boxes), missed (no hand reported), all
found (every hand it sees has a reported box on it), extra (a reported box on none of its hands: a wrong box,
or a hand it does not see on its own that the crop search found), per box source the frames with a box from
it and those where that box is on a hand; track ends by reason; detector (landmark) ms/frame and the rest of the frame
(network, geometry, filter) ms/frame, both wall time of the pipeline's two stages. Rows: "landmarks every
frame" (the default: detect_every 1, video mode) and "detector every 10" (the former default: the network's
joints in between, now only while plausible). Per clip also the landmark model alone on the full frame,
ms/frame: VIDEO mode following the clip's hands (landmark tracking; palm detection only when one is lost),
VIDEO mode with num_hands 2 (palm detection every frame while fewer than 2 hands are followed), IMAGE mode
(palm detection on every frame).

Sequences: per seed, one random grasp of the synthetic renderer (procedural hand + object) sweeping across
the image and swaying (`hfl_ros.evaluation.tracking_scenes.render_sequence`); on the --hidden frames the
pair is out of view (the hand leaves and comes back). The network is replaced by `BoxLimitedOracle`: the
ground truth seen only through the boxes it is given (2D joints clamped into the hand box, object control
points seen within 1.5 x the object box), so the figures measure the boxes, not an (untrained) network.

Policies (rows), all through `HandObjectTracker`:
- landmarks every frame: the detector (video mode) on every frame, its landmark box as the hand box, the
  oracle's joints only where it misses the hand (the default);
- detector every 10: MediaPipe every 10 frames, the oracle's joints (tracking) in between;
- fixed ROI (old): no detector; the initial ROI (the node's old defaults) whenever there is no track.
Hand-centred object box refined from the decoder. The oracle's hand score (fraction of true joints inside
the box) below 0.5 makes its joints implausible as a box.

Columns, over the visible frames: hand found (box IoU >= 0.5 with the true box: the true joints' box x1.1),
mean hand IoU (0 where none), object found and mean object IoU (true box: projected control points); over
all frames (a hidden hand counts as not found): track losses (found -> not found) and re-acquisitions (not
found -> found after a loss); delay: frames from the hand's return into view until it is found again (mean;
"never" when it was not); detector runs, mean detector time per run and per frame. Seeds 18, 19, 4, 13, 21 are grasps whose hand MediaPipe finds; 0 and
1 are grasps it does not (back of the hand, hidden behind the object).
"""

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml

from hfl_ros.data.synthetic import default_assets
from hfl_ros.detection.hand_detector import DetectorSettings, HandDetector
from hfl_ros.detection.policy import BoxPolicy, PolicySettings
from hfl_ros.evaluation.real_clips import judge_frame, landmark_reference, summarise
from hfl_ros.evaluation.tracking_scenes import BoxLimitedOracle, SequenceFrame, render_sequence, sequence_object_model
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.inference.estimator import HandObjectEstimator
from hfl_ros.inference.frames import default_intrinsics, iterate_frames
from hfl_ros.inference.tracking import HandObjectTracker
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.objects import ObjectRegistry
from hfl_ros.perception.pipeline import PerceptionPipeline
from hfl_ros.perception.settings import PerceptionSettings

#: The node's former initial ROIs (fractions of the image).
OLD_HAND_ROI = (0.3, 0.25, 0.7, 0.75)
OLD_OBJECT_ROI = (0.35, 0.3, 0.65, 0.7)
FOUND_IOU = 0.5
REPOSITORY = Path(__file__).resolve().parents[1]
REAL = REPOSITORY / "test" / "data" / "real"
REAL_CLIPS = ("right_hand_open.mp4", "left_hand_open_mirrored.mp4", "hand_places_bottle.mp4",
              "two_hands_grasp_bottles.mp4", "asl_sorry_signer.mkv")


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
    track_ends: Dict[str, int] = field(default_factory=dict)


def policies() -> Dict[str, PolicySettings]:
    common = dict(hand_side="right", tracking_min_hand_score=0.5)
    return {
        "landmarks every frame": PolicySettings(detect_every=1, **common),
        "detector every 10": PolicySettings(detect_every=10, **common),
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
    for reason, count in tracker.policy.counts["track_ends"].items():
        tally.track_ends[reason] = tally.track_ends.get(reason, 0) + count


def row(name: str, tally: Tally) -> str:
    hand, obj = np.array(tally.hand_iou), np.array(tally.object_iou)
    per_run = tally.detector_time / tally.detector_runs * 1e3 if tally.detector_runs else 0.0
    per_frame = tally.detector_time / max(tally.frames, 1) * 1e3
    delay = f"{np.mean(tally.delays):.1f}" if tally.delays else "never"
    return (f"{name:<22} {np.mean(hand >= FOUND_IOU):>6.1%} {hand.mean():>6.3f} {np.mean(obj >= FOUND_IOU):>6.1%} "
            f"{obj.mean():>6.3f} {tally.losses:>6d} {tally.reacquisitions:>6d} {delay:>6} {tally.detector_runs:>6d} "
            f"{per_run:>8.1f} {per_frame:>8.1f}  {_ends(tally.track_ends)}")


def _ends(ends: Dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted(ends.items())) or "-"


HEADER = (f"{'policy':<22} {'hand':>6} {'IoU':>6} {'object':>6} {'IoU':>6} {'losses':>6} {'reacq':>6} {'delay':>6} "
          f"{'det.runs':>6} {'ms/run':>8} {'ms/frame':>8}  track ends")


def real_policies() -> Dict[str, PerceptionSettings]:
    """Rows of the real-clip part: name -> the pipeline's settings but for max_hands (set per clip)."""
    one_pass = dict(refine_max_passes=1)
    return {
        "landmarks every frame": PerceptionSettings(policy=PolicySettings(**one_pass)),
        "detector every 10": PerceptionSettings(policy=PolicySettings(detect_every=10, **one_pass)),
    }


REAL_HEADER = (f"{'policy':<24} {'on hand':>7} {'missed':>6} {'all':>6} {'extra':>6}  "
               f"{'by source (frames / on hand)':<40} "
               f"{'det ms/fr':>9} {'rest ms/fr':>10}  track ends")


def run_real_clip(hands: int, estimator: HandObjectEstimator, settings: PerceptionSettings, reference,
                  clip_frames) -> str:
    """One row: the clip through the pipeline with these settings (max_hands = hands)."""
    policy = PolicySettings(**{**settings.policy.__dict__, "max_hands": hands})
    pipeline = PerceptionPipeline(estimator, PerceptionSettings(policy=policy, detector=settings.detector))
    model = ObjectRegistry.from_yaml(REPOSITORY / "config" / "objects.yaml").model("006_mustard_bottle")
    height, width = clip_frames[0].image.shape[:2]
    K = default_intrinsics(width, height)
    judged, detect_time, rest_time = [], 0.0, 0.0
    try:
        for frame, seen in zip(clip_frames, reference):
            start = time.perf_counter()
            detected = pipeline.detect(frame.image, frame.stamp)
            middle = time.perf_counter()
            result = pipeline.finish(frame.image, K, frame.stamp, model, detected)
            detect_time, rest_time = detect_time + middle - start, rest_time + time.perf_counter() - middle
            judged.append(judge_frame([h.hand_box for h in result.hands], [h.hand_source for h in result.hands],
                                      [h.side for h in result.hands], seen))
        ends = pipeline.tracking_counts["track_ends"]
    finally:
        pipeline.close()
    summary = summarise(judged)
    sources = "; ".join(f"{source} {summary[source]:.0%} / {summary[source + '_on_hand']:.0%}"
                        for source in ("detector", "tracking", "roi") if source in summary)
    count = max(len(clip_frames), 1)
    return (f"{summary['on_hand']:>7.0%} {summary['missed']:>6.0%} {summary['all_found']:>6.0%} "
            f"{summary['extra']:>6.0%}  "
            f"{sources:<40} "
            f"{detect_time / count * 1e3:>9.1f} {rest_time / count * 1e3:>10.1f}  {_ends(ends)}")


def landmark_model_cost(clip_frames, hands: int) -> str:
    """ms/frame of the full-frame landmark model alone over the frames: VIDEO mode following `hands` hands (as
    the policy asks once they are tracked), VIDEO mode with num_hands 2, IMAGE mode."""
    costs = []
    for stamped, follow in ((True, hands), (True, 2), (False, None)):
        with HandDetector(DetectorSettings(track_crop_scales=(), grid_levels=())) as detector:
            start = time.perf_counter()
            for frame in clip_frames:
                detector.detect(frame.image, stamp=frame.stamp if stamped else None, follow=follow)
            costs.append((time.perf_counter() - start) / max(len(clip_frames), 1) * 1e3)
    return (f"landmark model alone, ms/frame: VIDEO mode following {hands} {costs[0]:.1f}, VIDEO mode num_hands 2 "
            f"{costs[1]:.1f}, IMAGE mode {costs[2]:.1f}")


def real_part(clips: List[str], frames: int) -> None:
    manifest = yaml.safe_load((REAL / "manifest.yaml").read_text())
    with tempfile.TemporaryDirectory() as folder:
        estimator = HandObjectEstimator.from_files(None, procedural_mano_dir(Path(folder)))
    for name in clips:
        hands = 2 if manifest[name]["hand_side"] == "both" else 1
        clip_frames = [frame for frame, _ in zip(iterate_frames([REAL / name]), range(frames))]
        reference = landmark_reference([f.image for f in clip_frames], [f.stamp for f in clip_frames])
        seen = sum(bool(hands_seen) for hands_seen in reference)
        height, width = clip_frames[0].image.shape[:2]
        print(f"\n{name}: {len(clip_frames)} frames {width}x{height}, max_hands {hands}, the landmark model sees a "
              f"hand in {seen} (untrained network, one object pass)")
        print(landmark_model_cost(clip_frames, hands))
        print(REAL_HEADER)
        for row_name, settings in real_policies().items():
            print(f"{row_name:<24} " + run_real_clip(hands, estimator, settings, reference, clip_frames), flush=True)


def rendered_part(seeds: List[int], frames: int, hidden: range, size) -> None:
    totals = {name: Tally([], []) for name in policies()}
    with HandDetector() as detector:
        for seed in seeds:
            sequence = render_sequence(seed, frames, size, hidden=hidden)
            print(f"\nseed {seed}: {frames} frames {size[0]}x{size[1]}, out of view {hidden.start}-{hidden.stop - 1}, "
                  f"true hand box ~{np.mean([f.hand_box[2] - f.hand_box[0] for f in sequence if f.visible]):.0f} px")
            print(HEADER)
            for name, settings in policies().items():
                tally = Tally([], [])
                uses_detector = settings.initial_hand_roi is None
                run_policy(sequence, settings, detector if uses_detector else None, tally)
                print(row(name, tally), flush=True)
                total = totals[name]
                total.hand_iou += tally.hand_iou
                total.object_iou += tally.object_iou
                total.delays += tally.delays
                for key in ("losses", "reacquisitions", "detector_runs", "detector_time", "frames"):
                    setattr(total, key, getattr(total, key) + getattr(tally, key))
                for reason, count in tally.track_ends.items():
                    total.track_ends[reason] = total.track_ends.get(reason, 0) + count
    print(f"\nall seeds ({', '.join(map(str, seeds))}); found = IoU >= {FOUND_IOU} on visible frames")
    print(HEADER)
    for name, tally in totals.items():
        print(row(name, tally))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="18,19,4,13,21,0,1")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--hidden", default="20:26", help="first:last (exclusive) frames out of view")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--real-frames", type=int, default=40, help="frames from the start of each real clip")
    parser.add_argument("--clips", default=",".join(REAL_CLIPS), help="real clips (test/data/real), comma-separated")
    parser.add_argument("--skip-rendered", action="store_true", help="only the real clips")
    parser.add_argument("--skip-real", action="store_true", help="only the rendered sequences")
    args = parser.parse_args()
    start = time.perf_counter()
    if not args.skip_rendered:
        first, last = (int(value) for value in args.hidden.split(":"))
        size = tuple(int(value) for value in args.size.split("x"))
        rendered_part([int(seed) for seed in args.seeds.split(",")], args.frames, range(first, last), size)
    if not args.skip_real:
        real_part([name for name in args.clips.split(",") if name], args.real_frames)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
