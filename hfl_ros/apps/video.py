"""`hfl-video INPUT... --output DIR`: hand and object on every frame of videos, images, folders, globs or ROS 2 bags.

The same per-frame pipeline as the ROS node (`hfl_ros.perception.PerceptionPipeline`): the built-in hand
detector (the `detector` extra) finds and follows up to `--max-hands` hands (one right, one left), each
hand's object box starts around the hand and is refined from the object decoder, left hands are mirrored
through the right-hand network (all hands in one batched call), non-finite estimates are skipped frames,
the quality gate and one temporal filter per side run as in the node. Writes into DIR:

- `trajectory.jsonl`: one JSON object per frame: `frame` (index), `source` (file), `stamp` (s), `hand` (null
  when no hand was found: `side`, `box` [x1, y1, x2, y2] px, `box_source`, `score`, `joints` 21 x 3 m camera
  frame, `joints_2d`, `wrist_pose` 4 x 4 camera-from-wrist, MANO pose and shape, `filtered`), `object` (null
  without a hand: `name`, `box`, `box_source`, `score`, `pose` 4 x 4 camera-from-object or null when PnP
  found none, `rotation`/`translation`, control points, `filtered`), `gated`, `passes`, `detections`,
  `hands` (every hand of the frame, primary first: the keys of `hand`, `track_id`, and its `object`;
  `hand` / `object` are the first's) and `skipped` (the reason, for a frame that could not be estimated);
- `trajectory.npz`: the same as arrays (hfl_ros.filtering.trajectory);
- `overlay/`: the drawn estimates, `<video>.mp4` per video and `<image>.png` per image. A resumed run
  continues a video's overlay in the same file (the earlier frames are re-encoded into it); only when the
  earlier file is unreadable (the run was killed, not interrupted) does the rest go to
  `<video>.from<N>.mp4`, and the closing lines list it;
- `run.json`: the run's settings; a later run with the same inputs and settings resumes after the last
  complete frame of trajectory.jsonl (`--overwrite` starts again). Ctrl-C stops a run after the frame in
  progress with one line saying how many frames are done, exit status 130: run the same command to resume;
- with `--mcap`: `outputs.mcap`, the node's messages of every frame at the image stamps, for `ros2 bag play`
  (`hfl_ros.ros.recording`; needs the ROS environment; a resumed run writes `outputs.from<N>.mcap`);
- with `--lerobot`: `lerobot/`, the run as a LeRobot v3.0 dataset, one episode per input
  (`hfl_ros.apps.lerobot_export`, the `lerobot` extra; rewritten whole at the end of every run).

Progress: frames done of the total (the videos' frame counts, the bags' message counts) and the time left.
The closing lines give the whole run (every frame of trajectory.jsonl) and this run apart.

Bags (a rosbag2 folder, a .db3 or .mcap file; the `bags` extra, no ROS needed): the frames of the image topic
(`--image-topic`, default the only one; raw or compressed) at their header stamps; the intrinsics of its
camera_info topic (`--camera-info-topic`, default the only one or the one beside the image topic), checked
against the images. `--ray` runs each input as its own run under DIR/<input name>/ on Ray workers
(`hfl_ros.apps.batch`, the `ray` extra).

Intrinsics: `--camera-info` (ROS camera_info YAML), `--fx --fy --cx --cy`, else the bags' camera_info, else a
default (`hfl_ros.inference.frames.default_intrinsics`, 60 degrees horizontal field of view) for each frame
size, with a warning once per size. Given intrinsics must fit every frame's size.
Without --checkpoint the network is UNTRAINED and the output says so.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from hfl_ros.apps.batch import add_batch_arguments, check_batch_arguments, main_batch
from hfl_ros.apps.lerobot_export import LEROBOT_DIR, export_run
from hfl_ros.apps.options import add_inference_arguments, inference_config
from hfl_ros.data.io import write_rgb
from hfl_ros.detection.hand_detector import DetectorSettings, DetectorUnavailableError, HandDetector
from hfl_ros.detection.policy import HAND_SELECTIONS, HAND_SIDES, PolicySettings
from hfl_ros.filtering import FilterSettings
from hfl_ros.filtering.trajectory import read_trajectory, save_trajectory_npz, with_filtered
from hfl_ros.inference.bags import BagTopics, bags_intrinsics, open_bag
from hfl_ros.inference.estimator import HandObjectEstimator
from hfl_ros.inference.frames import (
    Frame, InputError, check_intrinsics, default_intrinsics, expand_inputs, explicit_intrinsics, is_bag, is_video,
    iterate_frames, read_camera_info_yaml,
)
from hfl_ros.inference.overlay import draw_hands
from hfl_ros.results import estimate_to_dict
from hfl_ros.perception import FrameResult, GateSettings, HandResult, PerceptionSettings
from hfl_ros.perception.pipeline import PerceptionPipeline
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.objects import ObjectModel, ObjectRegistry
from hfl_ros.resources import package_config_file

LOG = logging.getLogger("hfl_ros.video")
DEFAULT_REGISTRY = package_config_file("objects.yaml")
DEFAULT_OBJECT = "006_mustard_bottle"
TRAJECTORY = "trajectory.jsonl"
RUN_FILE = "run.json"
OVERLAY_DIR = "overlay"
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
UNTRAINED_WARNING = "UNTRAINED WEIGHTS (no --checkpoint): outputs are meaningless"
#: The camera frame_id of the messages of video and image inputs (a bag's frames carry their own).
DEFAULT_FRAME_ID = "camera_optical_frame"
#: How the default intrinsics are named in messages (made per frame size).
DEFAULT_INTRINSICS = "default intrinsics"
#: run.json keys that must match for a run to resume.
RESUME_KEYS = ("inputs", "K", "checkpoint", "mano_dir", "object", "side", "selection", "fps", "filter", "roi",
               "max_hands", "detect_every", "bag_topics")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-video", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video file, image, folder of images, glob, or ROS 2 bag (folder, .db3 or .mcap)")
    parser.add_argument("--output", type=Path, required=True, help="directory for trajectory.jsonl and overlays")
    parser.add_argument("--checkpoint", type=Path, help="HFL-Net checkpoint (published or ours)")
    parser.add_argument("--mano-dir", type=Path, help="directory with MANO_RIGHT.pkl (default: procedural hand)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--object", default=DEFAULT_OBJECT, help=f"registry name of the object (default {DEFAULT_OBJECT})")
    parser.add_argument("--object-registry", type=Path, default=DEFAULT_REGISTRY, help="object registry YAML")
    parser.add_argument("--camera-info", type=Path, help="ROS camera_info YAML of the camera")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, help=f"intrinsics {name}, px (all four together)")
    parser.add_argument("--fps", type=float, default=30.0, help="stamps of image inputs (and of videos without a rate)")
    parser.add_argument("--side", choices=HAND_SIDES, default="auto",
                        help="hand side: auto (the detector's handedness), right or left")
    parser.add_argument("--select", choices=HAND_SELECTIONS, default="larger", help="which hand to follow")
    parser.add_argument("--max-hands", type=int, choices=(1, 2), default=1,
                        help="hands followed at once: 1 (the one --select picks) or 2 (one right and one left)")
    parser.add_argument("--detect-every", type=int, default=PolicySettings.detect_every,
                        help="frames between detector runs while every hand is tracked (1: the landmarks box the "
                             "hand in every frame)")
    parser.add_argument("--roi", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"),
                        help="last-resort hand box, fractions of the image (default: none, the frame has no hand)")
    parser.add_argument("--no-filter", action="store_true", help="leave the filtered fields null")
    parser.add_argument("--no-overlay", action="store_true", help="write no overlay")
    parser.add_argument("--overwrite", action="store_true", help="start again even when DIR holds a run")
    parser.add_argument("--image-topic", help="bags: the image topic (default: the bag's only image topic)")
    parser.add_argument("--camera-info-topic",
                        help="bags: the camera_info topic (default: the only one, or the one beside the image topic)")
    parser.add_argument("--mcap", action="store_true",
                        help="also write DIR/outputs.mcap: the node's messages of every frame (needs ROS sourced)")
    parser.add_argument("--lerobot", action="store_true",
                        help="also write DIR/lerobot: a LeRobot v3.0 dataset, one episode per input")
    add_batch_arguments(parser)
    add_inference_arguments(parser)
    args = parser.parse_args(argv)
    problem = check_batch_arguments(args)
    if problem is not None:
        parser.error(problem)
    return args


def resolve_intrinsics(args: argparse.Namespace, frame: Frame, from_bags=None):
    """(K (3, 3), expected size (W, H) or None, description) for the run; from_bags: `bags_intrinsics` of the
    inputs (used without explicit intrinsics); warns for the default."""
    explicit = [getattr(args, name) for name in ("fx", "fy", "cx", "cy")]
    if args.camera_info is not None and any(value is not None for value in explicit):
        raise InputError("give either --camera-info or --fx --fy --cx --cy, not both")
    if args.camera_info is not None:
        K, size = read_camera_info_yaml(args.camera_info)
        return K, size, str(args.camera_info)
    if any(value is not None for value in explicit):
        if any(value is None for value in explicit):
            raise InputError("--fx, --fy, --cx and --cy go together: give all four")
        return explicit_intrinsics(*explicit), None, "--fx --fy --cx --cy"
    if from_bags is not None:
        return from_bags
    height, width = frame.image.shape[:2]
    return _warned_default_intrinsics(width, height), None, DEFAULT_INTRINSICS


def _warned_default_intrinsics(width: int, height: int) -> np.ndarray:
    LOG.warning("no --camera-info or --fx/--fy/--cx/--cy: using default intrinsics for %dx%d (60 deg horizontal "
                "field of view); metric depths and translations scale with the true focal length", width, height)
    return default_intrinsics(width, height)


class RunIntrinsics:
    """The K (3, 3) px of each frame of a run. Given intrinsics (--camera-info, --fx --fy --cx --cy, the bags'
    camera_info) are one K for every frame, checked against each frame's size (the size they name, else the
    first frame's); the default ones are made for each frame size, with a warning once per size (stills of
    different sizes each get their own)."""

    def __init__(self, K: np.ndarray, expected: Optional[Tuple[int, int]], where: str, first: Frame) -> None:
        first_size = (first.image.shape[1], first.image.shape[0])
        self.K, self.where, self.expected = K, where, expected or first_size
        self._defaults: Optional[Dict[Tuple[int, int], np.ndarray]] = \
            {first_size: K} if where == DEFAULT_INTRINSICS else None
        self.of(first)

    def of(self, frame: Frame) -> np.ndarray:
        """K (3, 3) px for `frame`; raises InputError when given intrinsics do not fit its size."""
        size = (frame.image.shape[1], frame.image.shape[0])
        if self._defaults is None:
            check_intrinsics(self.K, size, self.expected, self.where, frame.source)
            return self.K
        if size not in self._defaults:
            self._defaults[size] = _warned_default_intrinsics(*size)
        return self._defaults[size]


def perception_settings(args: argparse.Namespace) -> PerceptionSettings:
    """The perception pipeline's settings of a run (the node's parameters map to the same type)."""
    try:
        policy = PolicySettings(hand_selection=args.select, hand_side=args.side, detect_every=args.detect_every,
                                initial_hand_roi=args.roi, max_hands=args.max_hands)
    except ValueError as error:
        raise InputError(str(error)) from error
    return PerceptionSettings(policy=policy, detector=DetectorSettings(),
                              filter=None if args.no_filter else FilterSettings(), gate=GateSettings())


def hand_record(hand: HandResult, filtering: bool) -> Dict[str, Any]:
    """One hand of a frame: {"hand": ..., "object": ...} as the trajectory writes them (module docstring)."""
    parts = estimate_to_dict(hand.estimate)
    obj = hand.estimate.object
    pose = None
    if obj.has_pose:
        matrix = np.eye(4)
        matrix[:3, :3], matrix[:3, 3] = obj.rotation, obj.translation
        pose = matrix.round(6).tolist()
    record = {"hand": dict(parts["hand"], box_source=hand.hand_source, track_id=hand.track_id),
              "object": dict(parts["object"], box_source=hand.object_source, pose=pose,
                             track_id=hand.object_track_id)}
    return with_filtered(record, hand.filtered if filtering else None)


def frame_record(frame: Frame, result: FrameResult, filtering: bool) -> Dict[str, Any]:
    """The trajectory record of one frame (see the module docstring); filtering: the filter is on."""
    primary = result.hand
    record: Dict[str, Any] = {"frame": frame.index, "source": frame.source, "stamp": round(frame.stamp, 6),
                              "hand": None, "object": None, "passes": 0 if primary is None else primary.passes,
                              "detections": result.detections, "gated": False if filtering else None}
    if result.skipped is not None:
        record["skipped"] = result.skipped
    hands = [hand_record(hand, filtering) for hand in result.hands]
    record["hands"] = [dict(part["hand"], object=part["object"]) for part in hands]
    if primary is None:
        return record
    record.update(hand=hands[0]["hand"], object=hands[0]["object"], gated=hands[0]["gated"])
    timings = estimate_to_dict(primary.estimate)["timings_s"]
    record["timings_s"] = dict(timings, detector=round(result.detector_time, 6))
    return record


def draw_frame(image: np.ndarray, K: np.ndarray, result: FrameResult, object_model: ObjectModel,
               banner: str) -> np.ndarray:
    """The overlay of one frame: every hand's estimate (image (H, W, 3) uint8 RGB, K (3, 3) px)."""
    return draw_hands(image, K, [(hand.side, hand.estimate, object_model) for hand in result.hands], banner)


def _complete_records(path: Path) -> int:
    """Rewrite `path` to its complete JSON lines (a run stopped mid-line loses that line); their count."""
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines(keepends=True)
    complete = []
    for line in lines:
        if not line.endswith("\n"):
            break
        try:
            json.loads(line)
        except json.JSONDecodeError:
            break
        complete.append(line)
    if len(complete) != len(lines):
        path.write_text("".join(complete))
    return len(complete)


class OverlayWriter:
    """Overlays under DIR/overlay: a video per video input (fps of the stamps), a PNG per image input.

    done: source -> frames of it that an earlier (interrupted) run already drew. A resumed video continues
    its overlay in one file: the earlier frames are copied (re-encoded) into a new file, which replaces
    `<video>.mp4` when the video is done. When the earlier overlay cannot give those frames (the run was
    killed before it closed the file), the rest goes to `<video>.from<N>.mp4` instead (`split` lists them).
    """

    def __init__(self, directory: Path, fps: float, done: Optional[Dict[str, int]] = None) -> None:
        self.directory = directory
        self.fps = fps
        self.done = dict(done or {})
        self.split: List[Path] = []
        self._video: Optional[cv2.VideoWriter] = None
        self._source: Optional[str] = None
        self._replace: Optional[Tuple[Path, Path]] = None  # (file being written, the file it replaces)
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        source = Path(frame.source)
        if not is_video(source):
            write_rgb(self.directory / f"{source.stem}.png", image)
            return
        if self._source != frame.source:
            self.close()
            self._open(source, frame, image.shape[1], image.shape[0])
        self._video.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def _open(self, source: Path, frame: Frame, width: int, height: int) -> None:
        target = self.directory / f"{source.stem}.mp4"
        earlier = self.done.get(frame.source, 0)
        path = target
        if earlier and target.exists():
            path = self.directory / f"{source.stem}.resumed.mp4"
            self._start(path, width, height)
            copied = 0
            capture = cv2.VideoCapture(str(target))
            while copied < earlier:
                ok, image = capture.read()
                if not ok or image is None or image.shape[:2] != (height, width):
                    break
                self._video.write(image)
                copied += 1
            capture.release()
            if copied == earlier:
                self._replace = (path, target)
            else:
                self._video.release()
                path.unlink()
                path = self.directory / f"{source.stem}.from{frame.index}.mp4"
                LOG.warning("overlay %s holds %d of the %d frames drawn before: the rest goes to %s", target,
                            copied, earlier, path.name)
                self.split.append(path)
                self._start(path, width, height)
        else:
            self._start(path, width, height)
        self._source = frame.source

    def _start(self, path: Path, width: int, height: int) -> None:
        self._video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
        if self._replace is not None:
            written, target = self._replace
            written.replace(target)
        self._video, self._source, self._replace = None, None, None


def total_frames(files: List[Path], topics: BagTopics) -> Optional[int]:
    """Frames in all inputs (a video's frame count as its container states it), None when one is unknown."""
    total = 0
    for path in files:
        if is_bag(path):
            total += open_bag(path, topics).frames
        elif is_video(path):
            capture = cv2.VideoCapture(str(path))
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            capture.release()
            if count <= 0:
                return None
            total += count
        else:
            total += 1
    return total


class Interrupted(Exception):
    """The run was stopped (Ctrl-C) after `frames` complete frames of `trajectory`."""

    def __init__(self, trajectory: Path, frames: int) -> None:
        super().__init__(f"interrupted: {frames} frames in {trajectory}; run the same command again to resume")
        self.trajectory, self.frames = trajectory, frames


def _object_model(args: argparse.Namespace) -> ObjectModel:
    try:
        return ObjectRegistry.from_yaml(args.object_registry).model(args.object)
    except (ValueError, FileNotFoundError, ImportError) as error:
        raise InputError(f"object {args.object!r} ({args.object_registry}): {error}") from error


class _Recorder:
    """--mcap: the node's messages of each frame (hfl_ros.ros.recording.FrameRecorder), stamped like the images."""

    def __init__(self, path: Path, object_registry: Path, max_hands: int) -> None:
        try:
            from hfl_ros.ros import recording
        except ImportError as error:
            raise InputError(f"--mcap needs the ROS 2 environment and the `bags` extra: {error}") from error
        self._recording, self._path, self._registry = recording, path, ObjectRegistry.from_yaml(object_registry)
        self._writer, self._max_hands = None, max_hands

    def configure(self, estimator: HandObjectEstimator) -> None:
        self._writer = self._recording.FrameRecorder(self._path, self._registry.model, estimator.untrained,
                                                     estimator.pose_settings,
                                                     settings=self._recording.OutputSettings(max_hands=self._max_hands))

    def write(self, frame: Frame, result: FrameResult, K: np.ndarray, processing_time: float) -> None:
        stamp_ns = frame.stamp_ns if frame.stamp_ns is not None else int(round(frame.stamp * 1e9))
        height, width = frame.image.shape[:2]
        self._writer.write(result, stamp_ns, frame.frame_id or DEFAULT_FRAME_ID, K, (width, height), processing_time)

    def close(self) -> None:
        if self._writer is not None:
            path = self._writer.close()
            if path is not None:
                print(f"node messages in {path}")


def _recorder(args: argparse.Namespace, output: Path, start: int) -> _Recorder:
    """The --mcap recorder of a run from frame `start`: outputs.mcap (earlier bags removed when the run starts
    from frame 0), outputs.from<start>.mcap for a resumed run."""
    if start == 0:
        for old in output.glob("outputs*.mcap"):
            old.unlink()
    name = "outputs.mcap" if start == 0 else f"outputs.from{start}.mcap"
    (output / name).unlink(missing_ok=True)
    return _Recorder(output / name, args.object_registry, args.max_hands)


def load_estimator(args: argparse.Namespace, output: Optional[Path] = None) -> HandObjectEstimator:
    """The network of the run (--checkpoint, --mano-dir or the procedural hand under `output`, --device and the
    inference options); loaded once per worker by `hfl-video --ray`."""
    mano_dir = args.mano_dir or procedural_mano_dir(Path(output or args.output) / "procedural_mano")
    return HandObjectEstimator.from_files(args.checkpoint, mano_dir, device=args.device,
                                          inference=inference_config(args))


def run(args: argparse.Namespace, estimator: Optional[HandObjectEstimator] = None) -> int:
    """One run over args.inputs into args.output; `estimator`: an already loaded network (else loaded here)."""
    files = expand_inputs(args.inputs)
    topics = BagTopics(args.image_topic, args.camera_info_topic)
    opening = iterate_frames(files[:1], args.fps, bag_topics=topics)
    first = next(opening)
    opening.close()
    intrinsics = RunIntrinsics(*resolve_intrinsics(args, first, bags_intrinsics(files, topics)), first)
    object_model = _object_model(args)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    settings = {
        "inputs": [str(path) for path in files], "K": np.round(intrinsics.K, 6).tolist(),
        "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
        "mano_dir": None if args.mano_dir is None else str(args.mano_dir), "object": args.object,
        "side": args.side, "selection": args.select, "fps": args.fps, "filter": not args.no_filter,
        "roi": args.roi, "max_hands": args.max_hands, "detect_every": args.detect_every,
        "bag_topics": [args.image_topic, args.camera_info_topic] if any(map(is_bag, files)) else None,
    }
    perception = perception_settings(args)
    trajectory, run_file = output / TRAJECTORY, output / RUN_FILE
    start = 0
    if not args.overwrite and trajectory.exists():
        previous = json.loads(run_file.read_text()) if run_file.is_file() else {}
        if any(previous.get(key) != settings[key] for key in RESUME_KEYS):
            raise InputError(f"{output} holds a run with other inputs or settings ({run_file}); "
                             "use another --output or --overwrite")
        start = _complete_records(trajectory)
    elif trajectory.exists():
        trajectory.unlink()
    run_file.write_text(json.dumps(settings, indent=1))
    recorder = _recorder(args, output, start) if args.mcap else None

    try:
        detector = HandDetector(perception.detector)  # before the network: a missing extra fails at once
    except DetectorUnavailableError as error:
        raise SystemExit(f"hfl-video: {error}") from error
    try:
        estimator = estimator or load_estimator(args, output)
    except BaseException:
        detector.close()
        raise
    if recorder is not None:
        recorder.configure(estimator)
    pipeline = PerceptionPipeline(estimator, perception, detector)
    filtering = perception.filter is not None
    done: Dict[str, int] = {}
    for record in read_trajectory(trajectory) if start else []:
        done[record["source"]] = done.get(record["source"], 0) + 1
    overlays = None if args.no_overlay else OverlayWriter(output / OVERLAY_DIR, args.fps, done)
    banner = UNTRAINED_WARNING if estimator.untrained else ""
    found = written = 0
    try:
        with trajectory.open("a", encoding="utf-8") as stream:
            for frame in tqdm(iterate_frames(files, args.fps, start, bag_topics=topics), desc="hfl-video",
                              unit="frame", initial=start, total=total_frames(files, topics)):
                K = intrinsics.of(frame)
                started = time.perf_counter()
                result = pipeline.process(frame.image, K, frame.stamp, object_model)
                if result.skipped is not None:
                    LOG.warning("%s frame %d: skipped (%s: %s)", frame.source, frame.index, result.skipped,
                                result.detail)
                if overlays is not None:  # first: the overlay never has fewer frames than the trajectory
                    overlays.write(frame, draw_frame(frame.image, K, result, object_model, banner))
                if recorder is not None:
                    recorder.write(frame, result, K, time.perf_counter() - started)
                stream.write(json.dumps(frame_record(frame, result, filtering)) + "\n")
                stream.flush()
                written += 1
                found += result.hand is not None
    except KeyboardInterrupt:
        raise Interrupted(trajectory, start + written) from None
    finally:
        pipeline.close()
        if overlays is not None:
            overlays.close()
        if recorder is not None:
            recorder.close()
    if start + written == 0:
        raise InputError(f"{', '.join(args.inputs)}: no frames")
    records = read_trajectory(trajectory)
    save_trajectory_npz(output / "trajectory.npz", records)
    if args.lerobot:
        print(f"LeRobot dataset in {export_run(args.inputs, records, output / LEROBOT_DIR, args.fps, topics)}")
    if estimator.untrained:
        print(f"WARNING: {UNTRAINED_WARNING}", file=sys.stderr)
    print(summary(trajectory, records, start, written, found))
    if overlays is not None:
        print(f"overlays in {output / OVERLAY_DIR}" + "".join(f"\n  {path.name} (continues the overlay "
                                                              "of an interrupted run)" for path in overlays.split))
    return 0


def summary(trajectory: Path, records: List[Dict[str, Any]], start: int, written: int, found: int) -> str:
    """The closing lines: the whole run (every record of `trajectory`), then this run (`written` frames from
    frame `start`, `found` with a hand)."""
    whole = sum(record.get("hand") is not None for record in records)
    lines = [f"wrote {trajectory}: whole run {len(records)} frames, a hand in {whole}"]
    if written:
        lines.append(f"this run: {written} frames from frame {start}, a hand in {found}")
    else:
        lines.append("this run: nothing left to do (an earlier run had finished every frame)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return main_batch(args) if args.ray else run(args)
    except InputError as error:
        print(f"hfl-video: {error}", file=sys.stderr)
        return 2
    except Interrupted as stopped:
        print(f"\nhfl-video: {stopped}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\nhfl-video: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
