"""The whole ROS pipeline on this machine without a camera: synthetic_camera -> perception_node -> files.

    source .venv/ros_env.sh   # (written by scripts/setup_ros.sh) else the command says so and exits 1
    python -m hfl_ros.ros.demo --out out/ros_demo [--frames 10] [--checkpoint FILE] [--mano-dir DIR]

Starts both nodes as processes on a private DDS domain (this host only), records every HandObject the
perception node publishes as one JSON line in <out>/hand_object.jsonl and its overlays as
<out>/overlays/<stamp>.png, with the scene's ground truth drawn over them in magenta (the camera's loop is
re-rendered here to know it), and prints a summary with the node's diagnostics. Without a checkpoint the
network runs on untrained weights and the output says so; without a MANO directory the procedural
stand-in hand (not MANO) is used for the node as well. It needs no `ros2 launch` (which the PyPI ROS 2
lacks unless scripts/setup_ros.sh installed it); the process helpers below also serve the latency
benchmark.
"""

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene, draw_grasp, render_moved, sway
from hfl_ros.inference.overlay import OverlayTruth, draw_truth
from hfl_ros.msg import HandObject
from hfl_ros.ros.conversions import hand_object_record, stamp_seconds
from hfl_ros.ros.diagnostics import status_values
from hfl_ros.ros.parameters import package_config_file
from hfl_ros.ros.synthetic_camera import PARAMETERS as CAMERA_PARAMETERS
from hfl_ros.ros.synthetic_camera import SWAY_ROTATION, SWAY_SHIFT

LOG = logging.getLogger("hfl_ros.demo")
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Camera images remembered (by stamp) until their overlay arrives.
TRUTH_HISTORY = 300
UNTRAINED_WARNING = ("!!! NO CHECKPOINT: the network runs on UNTRAINED random weights. Every result below is "
                     "meaningless and marked \"untrained\": pass --checkpoint to get real estimates. !!!")


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hfl_ros.ros.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/ros_demo"), help="output directory")
    parser.add_argument("--frames", type=int, default=10, help="results to record before stopping")
    parser.add_argument("--timeout", type=float, default=600.0, help="s; stop even with fewer results")
    parser.add_argument("--checkpoint", default="", help="HFL-Net checkpoint (empty: untrained weights)")
    parser.add_argument("--mano-dir", default="", help="directory with MANO_RIGHT.pkl (empty: procedural hand)")
    parser.add_argument("--object", default="006_mustard_bottle", help="object registry name")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate, Hz")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: from the pid)")
    arguments = parser.parse_args(argv)
    if arguments.frames < 1:
        parser.error(f"--frames must be >= 1, got {arguments.frames}")
    return arguments


def isolated_environment(domain_id: int, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for ROS processes on DDS domain `domain_id`, discovering peers on this host only,
    with the package's Fast DDS profile (large shared-memory segments) and this checkout importable."""
    if not 0 <= domain_id <= 101:
        raise ValueError(f"domain_id must be in [0, 101], got {domain_id}")
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    profile = package_config_file("fastdds_profile.xml")
    if profile.is_file():
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if (REPO_ROOT / "hfl_ros").is_dir() and str(REPO_ROOT) not in paths:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_parameters(parameters: Mapping[str, object]) -> List[str]:
    """ROS arguments `-p name:=value` for each parameter. Values are YAML: strings are single-quoted so
    that "", "true" or "025" stay strings (ROS parameters are typed)."""
    arguments = []
    for name, value in parameters.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = "'" + value.replace("'", "''") + "'"
        else:
            text = str(value)
        arguments += ["-p", f"{name}:={text}"]
    return arguments


def start_process(target: str, ros_arguments: Sequence[str], env: Mapping[str, str],
                  log_path: Path) -> subprocess.Popen:
    """`python -m <target> --ros-args <ros_arguments>` (or `python <target>` for a .py file) as a child
    process logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    entry = [target] if target.endswith(".py") else ["-m", target]
    command = [sys.executable, *entry, "--ros-args", *ros_arguments]
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT))


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (a clean rclpy shutdown), then SIGKILL after `timeout` s; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode


def _image_key(data) -> bytes:
    """SHA-1 digest of an image's bytes (a numpy array or a message's data buffer)."""
    return hashlib.sha1(memoryview(data).cast("B")).digest()


def camera_truths(width: int, height: int, object_name: str, mano_dir: str) -> Tuple[np.ndarray, Dict[bytes, OverlayTruth]]:
    """The synthetic camera's loop rendered again, as its node renders it with its default seed and loop
    length (synthetic_camera.render_loop): K (3, 3) and the ground truth of each frame keyed by the digest of
    its image bytes, so that an image the camera published names its truth. mano_dir: "" = procedural hand."""
    scene = SyntheticScene(image_size=(width, height), objects=(object_name,), noise_std=(0.0, 0.0))
    assets = SceneAssets.load(mano_dir or None)
    frames = int(CAMERA_PARAMETERS["loop_frames"][0])
    grasp = draw_grasp(np.random.default_rng(int(CAMERA_PARAMETERS["seed"][0])), scene, assets)
    rotations, shifts = sway(np.arange(frames) / frames, SWAY_ROTATION, SWAY_SHIFT)
    truths = {}
    for image, annotation in render_moved(assets, grasp, rotations, shifts):
        truths[_image_key(np.ascontiguousarray(image))] = OverlayTruth(
            annotation.joints_3d, annotation.object_rotation, annotation.object_translation,
            annotation.object_control_points)
    return grasp.start.K, truths


def _write_overlay(path: Path, message, K: np.ndarray, truth: Optional[OverlayTruth]) -> None:
    import cv2

    rgb = np.frombuffer(message.data, np.uint8).reshape(message.height, message.width, 3)
    if truth is not None:
        rgb = draw_truth(rgb, K, truth)
    cv2.imwrite(str(path), rgb[:, :, ::-1])


def run(arguments: argparse.Namespace) -> int:
    """Run the demo; returns a process exit code (0 when at least one result was recorded)."""
    out = arguments.out
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    mano_dir = arguments.mano_dir
    if not mano_dir:
        from hfl_ros.mano.procedural import procedural_mano_dir

        mano_dir = str(procedural_mano_dir(out / "procedural_mano"))
        LOG.warning("no --mano-dir: using the procedural stand-in hand (not the MANO model) in %s", mano_dir)
    if not arguments.checkpoint:
        LOG.warning(UNTRAINED_WARNING)

    domain = arguments.domain_id if arguments.domain_id is not None else 1 + os.getpid() % 100
    env = isolated_environment(domain)
    os.environ.update({key: env[key] for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTRTPS_DEFAULT_PROFILES_FILE")
                       if key in env})
    perception_parameters = {"mano_dir": mano_dir, "checkpoint": arguments.checkpoint, "object": arguments.object,
                       "device": arguments.device}
    camera_parameters = {"rate": arguments.rate, "width": arguments.width, "height": arguments.height,
                         "object": arguments.object, "mano_dir": mano_dir if arguments.mano_dir else ""}
    camera_K, truths = camera_truths(arguments.width, arguments.height, arguments.object, camera_parameters["mano_dir"])
    perception = start_process(
        "hfl_ros.ros.perception_node",
        ["--params-file", str(package_config_file("perception.yaml"))] + node_parameters(perception_parameters),
        env, out / "perception_node.log")
    camera = start_process("hfl_ros.ros.synthetic_camera", node_parameters(camera_parameters), env,
                           out / "synthetic_camera.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("hfl_demo_recorder", context=context)
    records = out / "hand_object.jsonl"
    written, diagnostics = [], deque(maxlen=10)
    image_truths: "OrderedDict[float, OverlayTruth]" = OrderedDict()
    overlays_with_truth = []
    lock = threading.Lock()

    with records.open("w") as stream:
        def on_result(message: HandObject) -> None:
            with lock:
                if len(written) < arguments.frames:
                    stream.write(json.dumps(hand_object_record(message)) + "\n")
                    stream.flush()
                    written.append(stamp_seconds(message.header.stamp))

        def on_image(message: Image) -> None:
            truth = truths.get(_image_key(message.data))
            if truth is not None:
                with lock:
                    image_truths[stamp_seconds(message.header.stamp)] = truth
                    while len(image_truths) > TRUTH_HISTORY:
                        image_truths.popitem(last=False)

        def on_overlay(message: Image) -> None:
            stamp = stamp_seconds(message.header.stamp)
            with lock:
                truth = image_truths.get(stamp)
            _write_overlay(out / "overlays" / f"{stamp:.6f}.png", message, camera_K, truth)
            if truth is not None:
                overlays_with_truth.append(stamp)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(HandObject, "hand_object", on_result, reliable)
        node.create_subscription(Image, "image", on_image, qos_profile_sensor_data)
        node.create_subscription(Image, "debug_image", on_overlay, reliable)
        node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diagnostics.append(m), 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        LOG.info("recording %d results (camera %dx%d at %.0f Hz, domain %d, logs in %s)", arguments.frames,
                 arguments.width, arguments.height, arguments.rate, domain, out)
        try:
            deadline = time.monotonic() + arguments.timeout
            while time.monotonic() < deadline and len(written) < arguments.frames:
                if perception.poll() is not None or camera.poll() is not None:
                    LOG.error("a node exited early: see %s", out)
                    break
                time.sleep(0.2)
            recorded = time.time()  # wait for the node's diagnostics that count the last result
            settle = time.monotonic() + 3.0
            while time.monotonic() < settle and not any(stamp_seconds(a.header.stamp) > recorded
                                                         for a in list(diagnostics)):
                time.sleep(0.1)
            node_diagnostics = status_values(diagnostics) or {}
        finally:
            stop_process(camera)
            stop_process(perception)
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
            spinner.join(5)

    LOG.info("%d results in %s, %d overlays in %s (ground truth in magenta on %d)", len(written), records,
             len(list((out / "overlays").glob("*.png"))), out / "overlays", len(overlays_with_truth))
    if node_diagnostics:
        LOG.info("node diagnostics: %s", node_diagnostics.get("message", ""))
        for key in ("frames received", "frames published", "frames dropped", "frames skipped", "latency p50 (s)",
                    "network p50 (s)"):
            LOG.info("  %s: %s", key, node_diagnostics.get(key, "?"))
    if not arguments.checkpoint:
        LOG.warning(UNTRAINED_WARNING)
    return 0 if written else 1


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    return run(_arguments(argv))


if __name__ == "__main__":
    raise SystemExit(main())
