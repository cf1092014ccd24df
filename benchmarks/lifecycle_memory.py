"""Resident memory of the perception node over lifecycle cycles, and what each part it configures leaves behind.

    source .venv/ros_env.sh && .venv/bin/python benchmarks/lifecycle_memory.py [--cycles 40] [--frames 3]
        [--parts node network detector onnx] [--allocators glibc arena2 jemalloc tcmalloc] [--json out.json]

Every (allocator, part) runs in a fresh child process (so no part inherits another's memory) that repeats
`cycles` times: create the part, run it on `frames` real-hand frames (test/data/real/right_hand_open.mp4,
a new frame each time), release it, gc.collect(); then reads its RSS (VmRSS), calls glibc's malloc_trim(0)
and reads RSS again. Parts:
- node: the PerceptionNode itself, in process with real rclpy: configure, activate, frames published on
  image + camera_info and each awaited on hand_object, deactivate, cleanup (the cycle of issue 14 item 6);
- network: HandObjectEstimator.from_files (untrained, procedural MANO, torch inference path) + estimate_batch;
- detector: HandDetector (MediaPipe Hand Landmarker, video mode) + detect, close;
- onnx: the estimator on ONNX Runtime (runtime "onnx": one InferenceSession per estimator; the export is
  made once, before the first measurement, into a temporary cache).
Allocators: glibc (default), arena2 (glibc with MALLOC_ARENA_MAX=2), jemalloc / tcmalloc (LD_PRELOAD of the
system library when installed: apt-get install libjemalloc2 libtcmalloc-minimal4; skipped otherwise).

Printed per (allocator, part): RSS before the first cycle, after the first and the last release, the growth
from the first to the last release (what repeated cycles add), the slope over the last half of the cycles
(MB per cycle: about 0 is a plateau, a steady slope a leak), the same after malloc_trim (what glibc still
holds as free memory is gone there), the process's thread count (threads a part fails to stop stay), and
the live Python objects of the parts' classes after the last release (a part kept alive would show here).
"""

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PARTS = ("node", "network", "detector", "onnx")
CLIP = REPO / "test" / "data" / "real" / "right_hand_open.mp4"
#: Shared libraries of the other allocators (Debian's paths), preloaded into a child.
ALLOCATOR_LIBRARIES = {
    "jemalloc": ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2"),
    "tcmalloc": ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                 "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4"),
}
#: Environment of each allocator's child (glibc's default has one arena per core x 8 on 64-bit).
ALLOCATOR_ENV = {"glibc": {}, "arena2": {"MALLOC_ARENA_MAX": "2"}}
#: Frame rate the stamps of the clip's frames follow, Hz.
CLIP_FPS = 30.0
#: Object box given to the network: a square around the hand box, this many times its larger side.
OBJECT_BOX_SCALE = 1.5
#: Pinhole focal length, px, of the clip's frames (any plausible camera: memory does not depend on it).
FOCAL_PX = 500.0
#: DDS domains the node part runs on: DOMAIN_BASE + pid % DOMAIN_SPAN.
DOMAIN_BASE, DOMAIN_SPAN = 1, 100
#: s, longest wait for the node's result of one frame.
RESULT_TIMEOUT_S = 120.0
MIB = 1024 * 1024
#: Classes whose live instances are counted after each release (0 after cleanup: nothing of them is kept).
LIVE_TYPES = ("PerceptionPipeline", "HandObjectEstimator", "HFLNet", "OnnxNetwork", "InferenceSession",
              "HandDetector", "HandLandmarker", "Tensor", "Parameter")
#: Packages those classes come from (rclpy has a Parameter too).
LIVE_MODULES = ("hfl_ros", "torch", "onnxruntime", "mediapipe")


# ---------------------------------------------------------------------------------------------- measuring
def _status_field(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def rss_mb() -> float:
    """This process's resident set, MiB."""
    return _status_field("VmRSS") * 1024 / MIB


def malloc_trim() -> None:
    """Give glibc's free heap memory back to the system (a no-op under another allocator's malloc)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def clip_frames() -> list:
    """Every frame of the clip, RGB (H, W, 3) uint8."""
    import cv2

    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise RuntimeError(f"no frames in {CLIP}")
    return frames


def intrinsics(image) -> "object":
    import numpy as np

    height, width = image.shape[:2]
    return np.array([[FOCAL_PX, 0.0, (width - 1) / 2], [0.0, FOCAL_PX, (height - 1) / 2], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------------------------------------- parts
class Part:
    """One thing configure creates: `create`, `use` on frames, `release`. Frames are (index in the clip,
    RGB image); stamps are s, increasing over the whole run."""

    def setup(self, workdir: Path) -> None:
        """Once, before the baseline is measured."""

    def create(self) -> None:
        raise NotImplementedError

    def use(self, frames: list, stamps: list) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class NetworkPart(Part):
    """The estimator (network on the torch inference path, or ONNX Runtime), on the hand the detector found."""

    def __init__(self, runtime: str) -> None:
        self.runtime = runtime
        self.estimator = None

    def setup(self, workdir: Path) -> None:
        from hfl_ros.apps.demo import BUNDLED_SCENE
        from hfl_ros.data.synthetic import read_scene_object
        from hfl_ros.detection.hand_detector import HandDetector
        from hfl_ros.inference.estimator import InferenceConfig
        from hfl_ros.mano.procedural import procedural_mano_dir

        self.mano_dir = procedural_mano_dir(workdir / "mano")
        self.object_model = read_scene_object(BUNDLED_SCENE)
        self.inference = InferenceConfig(runtime=self.runtime, onnx_cache_dir=str(workdir / "onnx"))
        # the hand box of every clip frame, found once, in a child of its own: no detector memory here
        self.boxes = json.loads(subprocess.run(
            [sys.executable, __file__, "--boxes"], check=True, capture_output=True, text=True).stdout)
        if self.runtime == "onnx":  # export once (a minute), outside the cycles
            self.create()
            self.release()

    def create(self) -> None:
        from hfl_ros.inference.estimator import HandObjectEstimator

        self.estimator = HandObjectEstimator.from_files(None, self.mano_dir, "cpu", inference=self.inference)

    def use(self, frames: list, stamps: list) -> None:
        import numpy as np

        from hfl_ros.geometry.boxes import square_around
        from hfl_ros.inference.estimator import CropRequest

        for index, image in frames:
            box = self.boxes[index]
            if box is None:
                continue
            hand = np.asarray(box)
            request = CropRequest(intrinsics(image), hand, square_around(hand, OBJECT_BOX_SCALE), self.object_model)
            self.estimator.estimate_batch(image, [request])

    def release(self) -> None:
        self.estimator = None


class DetectorPart(Part):
    """MediaPipe's Hand Landmarker in video mode."""

    def __init__(self) -> None:
        self.detector = None

    def setup(self, workdir: Path) -> None:
        import mediapipe  # noqa: F401  (imported before the baseline, as the node has it)

        from hfl_ros.detection import hand_detector  # noqa: F401

    def create(self) -> None:
        from hfl_ros.detection.hand_detector import DetectorSettings, HandDetector

        self.detector = HandDetector(DetectorSettings())

    def use(self, frames: list, stamps: list) -> None:
        for (_, image), stamp in zip(frames, stamps):
            self.detector.detect(image, stamp=stamp)

    def release(self) -> None:
        self.detector.close()
        self.detector = None


class NodePart(Part):
    """The perception node in this process, driven through its lifecycle over its change_state service (as a
    lifecycle manager or `ros2 lifecycle set` does: the transitions run in the executor, not beside it);
    frames come over real DDS."""

    def setup(self, workdir: Path) -> None:
        import rclpy
        from lifecycle_msgs.srv import ChangeState
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.parameter import Parameter
        from sensor_msgs.msg import CameraInfo, Image

        from hfl_ros.mano.procedural import procedural_mano_dir
        from hfl_ros.msg import HandObject
        from hfl_ros.ros.perception_node import PerceptionNode

        # a DDS domain of its own (from the pid): no other process's images reach this node, nor its theirs
        rclpy.init(args=["--ros-args", "--disable-rosout-logs"], domain_id=DOMAIN_BASE + os.getpid() % DOMAIN_SPAN)
        overrides = [Parameter("mano_dir", value=str(procedural_mano_dir(workdir / "mano"))),
                     Parameter("device", value="cpu")]
        self.node = PerceptionNode(parameter_overrides=overrides)
        self.peer = rclpy.create_node("lifecycle_memory_camera")
        self.image_pub = self.peer.create_publisher(Image, "image", 10)
        self.info_pub = self.peer.create_publisher(CameraInfo, "camera_info", 10)
        self.results: List[float] = []
        self.arrived = threading.Condition()
        self.peer.create_subscription(HandObject, "hand_object", self._on_result, 10)
        self.change_state = self.peer.create_client(ChangeState, f"{self.node.get_name()}/change_state")
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _on_result(self, message) -> None:
        from hfl_ros.ros.conversions import stamp_seconds

        with self.arrived:
            self.results.append(stamp_seconds(message.header.stamp))
            self.arrived.notify_all()

    def _transition(self, transition_id: int, label: str) -> None:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        if not self.change_state.wait_for_service(timeout_sec=RESULT_TIMEOUT_S):
            raise RuntimeError("the node's change_state service is not there")
        future = self.change_state.call_async(ChangeState.Request(transition=Transition(id=transition_id)))
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while not future.done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: no answer")
            time.sleep(0.01)
        if not future.result().success:
            raise RuntimeError(f"{label} failed")

    def create(self) -> None:
        from lifecycle_msgs.msg import Transition

        self._transition(Transition.TRANSITION_CONFIGURE, "configure")
        self._transition(Transition.TRANSITION_ACTIVATE, "activate")

    def use(self, frames: list, stamps: list) -> None:
        from std_msgs.msg import Header

        from hfl_ros.ros.conversions import camera_info_message, image_message, stamp_from_seconds

        for (_, image), stamp in zip(frames, stamps):
            header = Header(stamp=stamp_from_seconds(stamp), frame_id="camera")
            height, width = image.shape[:2]
            info = camera_info_message(intrinsics(image), width, height, header)
            message = image_message(image, header)
            deadline = time.monotonic() + RESULT_TIMEOUT_S
            with self.arrived:
                while not any(abs(result - stamp) < 1e-6 for result in self.results):
                    self.info_pub.publish(info)
                    self.image_pub.publish(message)
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no result for the frame stamped {stamp:.3f} s")
                    self.arrived.wait(timeout=2.0)

    def release(self) -> None:
        from lifecycle_msgs.msg import Transition

        self._transition(Transition.TRANSITION_DEACTIVATE, "deactivate")
        self._transition(Transition.TRANSITION_CLEANUP, "cleanup")
        with self.arrived:
            self.results.clear()


def make_part(name: str) -> Part:
    return {"node": NodePart, "network": lambda: NetworkPart("torch"), "detector": DetectorPart,
            "onnx": lambda: NetworkPart("onnx")}[name]()


# ---------------------------------------------------------------------------------------------- child
def live_objects() -> Dict[str, int]:
    """How many objects of each LIVE_TYPES class the garbage collector still tracks."""
    counts = dict.fromkeys(LIVE_TYPES, 0)
    for thing in gc.get_objects():
        kind = type(thing)
        if kind.__name__ in counts and (kind.__module__ or "").split(".")[0] in LIVE_MODULES:
            counts[kind.__name__] += 1
    return counts


def measure(cycle: int) -> None:
    """Print one JSON line: RSS, RSS after malloc_trim, threads, live objects of the parts' classes."""
    rss = rss_mb()
    malloc_trim()
    print(json.dumps({"cycle": cycle, "rss_mb": rss, "trimmed_mb": rss_mb(), "threads": _status_field("Threads"),
                      "live": live_objects()}), flush=True)


def run_child(part_name: str, cycles: int, frames_per_cycle: int) -> None:
    """One JSON line per measurement on stdout: before the cycles (cycle -1), then after each release."""
    part = make_part(part_name)
    with tempfile.TemporaryDirectory() as workdir:
        part.setup(Path(workdir))
        gc.collect()
        measure(-1)
        clip = clip_frames()
        for cycle in range(cycles):
            indices = [(cycle * frames_per_cycle + i) % len(clip) for i in range(frames_per_cycle)]
            # a second between cycles, 1/30 s between frames: stamps increase over the whole run
            stamps = [cycle * (frames_per_cycle / CLIP_FPS + 1.0) + i / CLIP_FPS for i in range(frames_per_cycle)]
            part.create()
            part.use([(index, clip[index]) for index in indices], stamps)
            part.release()
            gc.collect()
            measure(cycle)
    os._exit(0)  # rclpy / MediaPipe teardown at exit is not what is measured


def print_boxes() -> None:
    """The detector's hand box (4,) px of every frame of the clip (null where it finds none), as JSON."""
    from hfl_ros.detection.hand_detector import DetectorSettings, HandDetector

    boxes = []
    with HandDetector(DetectorSettings()) as detector:
        for index, image in enumerate(clip_frames()):
            found = detector.detect(image, stamp=index / CLIP_FPS)
            boxes.append([float(v) for v in found[0].box] if found else None)
    print(json.dumps(boxes))


# ---------------------------------------------------------------------------------------------- parent
def allocator_env(name: str) -> Optional[Dict[str, str]]:
    """Environment additions for an allocator, None when its library is not installed."""
    if name in ALLOCATOR_ENV:
        return dict(ALLOCATOR_ENV[name])
    library = next((path for path in ALLOCATOR_LIBRARIES[name] if Path(path).is_file()), None)
    return None if library is None else {"LD_PRELOAD": library}


def summarise(rows: List[dict]) -> dict:
    """Growth and late slope of RSS (raw and after malloc_trim) over the cycles of one child."""
    import numpy as np

    before = rows[0]
    cycles = [row for row in rows if row["cycle"] >= 0]
    first, last = cycles[0], cycles[-1]
    late = cycles[len(cycles) // 2:]

    def slope(key: str) -> float:
        return float(np.polyfit([row["cycle"] for row in late], [row[key] for row in late], 1)[0]) \
            if len(late) >= 2 else float("nan")

    return {
        "before_mb": before["rss_mb"], "first_mb": first["rss_mb"], "last_mb": last["rss_mb"],
        "max_mb": max(row["rss_mb"] for row in cycles),
        "growth_mb": last["rss_mb"] - first["rss_mb"], "growth_pct": 100 * (last["rss_mb"] / first["rss_mb"] - 1),
        "late_slope_mb_per_cycle": slope("rss_mb"),
        "trimmed_first_mb": first["trimmed_mb"], "trimmed_last_mb": last["trimmed_mb"],
        "trimmed_growth_mb": last["trimmed_mb"] - first["trimmed_mb"],
        "trimmed_late_slope_mb_per_cycle": slope("trimmed_mb"),
        "threads_before": before["threads"], "threads_last": last["threads"],
        "live_last": {name: count for name, count in last.get("live", {}).items() if count},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--frames", type=int, default=3, help="real-hand frames per cycle")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--allocators", nargs="+", choices=("glibc", "arena2", "jemalloc", "tcmalloc"),
                        default=["glibc", "arena2", "jemalloc"])
    parser.add_argument("--json", type=Path, help="write every measurement and the summaries here")
    parser.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--boxes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cycles < 2 or args.frames < 1:
        parser.error("--cycles must be >= 2 and --frames >= 1")
    if args.boxes:
        print_boxes()
        return 0
    if args.child:
        run_child(args.child, args.cycles, args.frames)
        return 0

    report = []
    for allocator in args.allocators:
        extra = allocator_env(allocator)
        if extra is None:
            print(f"{allocator}: library not installed, skipped", flush=True)
            continue
        for part in args.parts:
            command = [sys.executable, __file__, "--child", part, "--cycles", str(args.cycles),
                       "--frames", str(args.frames)]
            started = time.monotonic()
            completed = subprocess.run(command, env=dict(os.environ, OMP_NUM_THREADS="1", **extra),
                                       capture_output=True, text=True)
            rows = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
            if completed.returncode != 0 or len(rows) < 3:
                print(f"{allocator} {part}: failed ({completed.returncode})\n{completed.stderr[-2000:]}", flush=True)
                continue
            summary = summarise(rows)
            report.append({"allocator": allocator, "part": part, "summary": summary, "rows": rows,
                           "seconds": time.monotonic() - started})
            print(f"{allocator:8s} {part:8s} RSS before {summary['before_mb']:7.1f} MB, after release 1 "
                  f"{summary['first_mb']:7.1f}, {len(rows) - 1} {summary['last_mb']:7.1f} (max "
                  f"{summary['max_mb']:7.1f}): {summary['growth_mb']:+6.1f} MB ({summary['growth_pct']:+5.1f} %), "
                  f"late slope {summary['late_slope_mb_per_cycle']:+5.2f} MB/cycle | after malloc_trim "
                  f"{summary['trimmed_first_mb']:7.1f} -> {summary['trimmed_last_mb']:7.1f} "
                  f"({summary['trimmed_growth_mb']:+6.1f} MB, late {summary['trimmed_late_slope_mb_per_cycle']:+5.2f}"
                  f" MB/cycle) | threads {summary['threads_before']} -> {summary['threads_last']} | live after the "
                  f"last release: {summary['live_last']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
