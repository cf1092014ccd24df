"""The whole ROS pipeline on this machine without a camera: synthetic_camera -> perception_node -> files.

    python -m hfl_ros.ros.demo --out out/ros_demo [--frames 10] [--checkpoint FILE] [--mano-dir DIR]

Starts both nodes as processes on a private DDS domain (this host only), records every HandObject the
perception node publishes as one JSON line in <out>/hand_object.jsonl and its overlays as
<out>/overlays/<stamp>.png, and prints a summary with the node's diagnostics. Without a checkpoint the
network runs on untrained weights and the output says so; without a MANO directory the procedural
stand-in hand (not MANO) is used for the node as well.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from hfl_ros.ros import harness
from hfl_ros.ros.conversions import hand_object_record, stamp_seconds
from hfl_ros.ros.parameters import package_config_file

LOG = logging.getLogger("hfl_ros.demo")
UNTRAINED_WARNING = ("!!! NO CHECKPOINT: the network runs on UNTRAINED random weights. Every result below is "
                     "meaningless and marked \"untrained\": pass --checkpoint to get real estimates. !!!")


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/ros_demo"), help="output directory")
    parser.add_argument("--frames", type=int, default=10, help="results to record before stopping")
    parser.add_argument("--timeout", type=float, default=600.0, help="s; stop even with fewer results")
    parser.add_argument("--checkpoint", default="", help="HFL-Net checkpoint (empty: untrained weights)")
    parser.add_argument("--mano-dir", default="", help="directory with MANO_RIGHT.pkl (empty: procedural hand)")
    parser.add_argument("--object", default="006_mustard_bottle", help="object registry name")
    parser.add_argument("--rate", type=float, default=30.0, help="camera frame rate, Hz")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: from the pid)")
    arguments = parser.parse_args(argv)
    if arguments.frames < 1:
        parser.error(f"--frames must be >= 1, got {arguments.frames}")
    return arguments


def _write_overlay(path: Path, message) -> None:
    import cv2

    rgb = np.frombuffer(message.data, np.uint8).reshape(message.height, message.width, 3)
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
    env = harness.isolated_environment(domain)
    os.environ.update({key: env[key] for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTRTPS_DEFAULT_PROFILES_FILE")
                       if key in env})
    node_parameters = {"mano_dir": mano_dir, "checkpoint": arguments.checkpoint, "object": arguments.object,
                       "device": arguments.device}
    camera_parameters = {"rate": arguments.rate, "width": arguments.width, "height": arguments.height,
                         "object": arguments.object, "mano_dir": mano_dir if arguments.mano_dir else ""}
    perception = harness.start_process(
        "hfl_ros.ros.perception_node",
        ["--params-file", str(package_config_file("perception.yaml"))] + harness.node_parameters(node_parameters),
        env, out / "perception_node.log")
    camera = harness.start_process("hfl_ros.ros.synthetic_camera", harness.node_parameters(camera_parameters),
                                   env, out / "synthetic_camera.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("hfl_demo_recorder", context=context)
    records = out / "hand_object.jsonl"
    written = []
    lock = threading.Lock()

    with records.open("w") as stream:
        def on_message(topic: str, message) -> None:
            with lock:
                if topic == "hand_object" and len(written) < arguments.frames:
                    stream.write(json.dumps(hand_object_record(message)) + "\n")
                    stream.flush()
                    written.append(stamp_seconds(message.header.stamp))
                elif topic == "debug_image":
                    _write_overlay(out / "overlays" / f"{stamp_seconds(message.header.stamp):.6f}.png", message)

        recorder = harness.OutputRecorder(node, on_message=on_message)
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
            diagnostics = recorder.latest_diagnostics() or {}
        finally:
            harness.stop_process(camera)
            harness.stop_process(perception)
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
            spinner.join(5)

    LOG.info("%d results in %s, %d overlays in %s", len(written), records,
             len(list((out / "overlays").glob("*.png"))), out / "overlays")
    if diagnostics:
        LOG.info("node diagnostics: %s", diagnostics.get("message", ""))
        for key in ("frames received", "frames published", "frames dropped", "frames skipped", "latency p50 (s)",
                    "network p50 (s)"):
            LOG.info("  %s: %s", key, diagnostics.get(key, "?"))
    if not arguments.checkpoint:
        LOG.warning(UNTRAINED_WARNING)
    return 0 if written else 1


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    return run(_arguments(argv))


if __name__ == "__main__":
    raise SystemExit(main())
