"""End-to-end latency and throughput of the ROS perception node on a 30 Hz synthetic camera stream.

    source .venv/ros_env.sh && .venv/bin/python benchmarks/ros_latency.py [--duration 30] [--checkpoint F]

Starts synthetic_camera (640x480 rgb8 at 30 Hz) and perception_node (the real network; untrained without
--checkpoint, which changes nothing in the timing) as processes on a private DDS domain, records each
published HandObject, and prints:
- end-to-end latency = receipt of the result - image header stamp (both this machine's clock): p50 / p95;
- throughput = results per second, and the camera frames that arrived, were dropped (latest-frame-only)
  or skipped;
- the share of the latency spent outside the network forward (decode, crop, geometry, messages, DDS,
  and waiting for the worker), from the network time each result reports.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402

from hfl_ros.msg import HandObject  # noqa: E402
from hfl_ros.ros.conversions import stamp_seconds  # noqa: E402
from hfl_ros.ros.demo import isolated_environment, node_parameters, start_process, stop_process  # noqa: E402
from hfl_ros.ros.diagnostics import status_values  # noqa: E402
from hfl_ros.ros.parameters import package_config_file  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="s measured after the warm-up")
    parser.add_argument("--warmup", type=float, default=5.0, help="s after the first result, not measured")
    parser.add_argument("--rate", type=float, default=30.0, help="camera rate, Hz")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--mano-dir", default="", help="empty: the procedural hand")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("out/ros_latency"), help="node logs")
    return parser.parse_args()


def _counter(diagnostics: dict, key: str) -> int:
    return int(diagnostics.get(key, 0))


def main() -> int:
    arguments = _arguments()
    mano_dir = arguments.mano_dir
    if not mano_dir:
        from hfl_ros.mano.procedural import procedural_mano_dir

        mano_dir = str(procedural_mano_dir(arguments.out / "procedural_mano"))
    domain = 1 + os.getpid() % 100
    env = isolated_environment(domain)
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTRTPS_DEFAULT_PROFILES_FILE")
                       if k in env})
    node = start_process(
        "hfl_ros.ros.perception_node",
        ["--params-file", str(package_config_file("perception.yaml"))] + node_parameters(
            {"mano_dir": mano_dir, "checkpoint": arguments.checkpoint, "device": arguments.device,
             "publish_debug_image": False}),
        env, arguments.out / "perception_node.log")
    camera = start_process(
        "hfl_ros.ros.synthetic_camera",
        node_parameters({"rate": arguments.rate, "width": arguments.width, "height": arguments.height}),
        env, arguments.out / "synthetic_camera.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain, signal_handler_options=SignalHandlerOptions.NO)
    client = rclpy.create_node("hfl_latency_client", context=context)
    results, diagnostics = [], []  # (receive time.time(), HandObject); DiagnosticArray
    client.create_subscription(HandObject, "hand_object", lambda m: results.append((time.time(), m)),
                               QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    client.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diagnostics.append(m), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(client)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        deadline = time.monotonic() + 300.0
        while not results and time.monotonic() < deadline:
            time.sleep(0.1)
        if not results:
            print(f"no result within 300 s; see the logs in {arguments.out}")
            return 1
        time.sleep(arguments.warmup)
        before = status_values(list(diagnostics)) or {}
        start = time.time()
        time.sleep(arguments.duration)
        end = time.time()
        time.sleep(1.5)  # the next diagnostics message
        after = status_values(list(diagnostics)) or {}
    finally:
        stop_process(camera)
        stop_process(node)
        executor.shutdown()
        client.destroy_node()
        rclpy.shutdown(context=context)

    results = [(received, message) for received, message in list(results) if start <= received < end]
    if not results:
        print("no results in the measured window")
        return 1
    latency = np.array([received - stamp_seconds(m.header.stamp) for received, m in results])
    network = np.array([m.network_time for _, m in results])
    processing = np.array([m.processing_time for _, m in results])
    outside = 1.0 - network / latency
    received = _counter(after, "frames received") - _counter(before, "frames received")
    print(f"camera: {arguments.width}x{arguments.height} rgb8 at {arguments.rate:.0f} Hz for "
          f"{arguments.duration:.0f} s; checkpoint: {arguments.checkpoint or 'none (untrained weights)'}")
    print(f"end-to-end latency (image stamp -> result received): p50 {np.percentile(latency, 50) * 1e3:.0f} ms, "
          f"p95 {np.percentile(latency, 95) * 1e3:.0f} ms, max {latency.max() * 1e3:.0f} ms")
    print(f"throughput: {len(results) / (end - start):.2f} results/s ({len(results)} results); camera frames "
          f"arrived {received / (end - start):.1f}/s, dropped "
          f"{_counter(after, 'frames dropped') - _counter(before, 'frames dropped')}, skipped "
          f"{_counter(after, 'frames skipped') - _counter(before, 'frames skipped')}")
    print(f"network forward p50 {np.percentile(network, 50) * 1e3:.0f} ms; in-node time (arrival -> publish) "
          f"p50 {np.percentile(processing, 50) * 1e3:.0f} ms")
    print(f"share of the latency outside the network: mean {outside.mean() * 100:.0f} % "
          f"(p50 {np.percentile(outside, 50) * 100:.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
