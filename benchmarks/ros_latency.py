"""End-to-end latency and throughput of the ROS perception node on a synthetic camera stream, with the
two-stage pipeline and with the single-stage worker side by side in one run.

    source .venv/ros_env.sh && .venv/bin/python benchmarks/ros_latency.py [--duration 30] [--checkpoint F]
        [--modes pipeline single] [--rounds 1]

For each mode (node parameter `pipeline` true / false; each round runs them in turn, alternating which goes
first) starts synthetic_camera (640x480 rgb8 at 30 Hz) and perception_node (the real network; untrained
without --checkpoint, which changes nothing in the timing; the shipped config, so the MediaPipe hand
detector runs when due) as processes on a private DDS domain, records each published HandObject, and
prints per mode:
- end-to-end latency = receipt of the result - image header stamp (both this machine's clock): p50 / p95,
  and the p50 of the first and second half of the window (flat latency: the two agree);
- throughput = results per second, and the camera frames that arrived, were dropped (latest-frame-only)
  or skipped;
- network forward p50 and network passes per result. The node runs one pass per frame by default here
  (--refine-passes 1): untrained weights never give an object pose to track, so every frame would refine
  a hand-centred object box (3 passes), where a trained network tracks the object box in one; and the
  result reports the time of its last pass only;
- time outside the network per result, as a share of the network's: (window / results - mean network
  time per result) / mean network time per result. The pipeline hides decoding and detection behind the
  network, so this is what it is meant to shrink (issue 11: <= 10 % at camera rate);
- the share of the latency outside the network (1 - network / latency: decode, crop, geometry, messages,
  DDS, and waiting for a stage).
"""

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

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

#: mode name -> the node's `pipeline` parameter
MODES = {"pipeline": True, "single": False}


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
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES),
                        help="pipeline: two stages (the default node); single: one stage, one frame at a time")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode, alternating the order")
    parser.add_argument("--refine-passes", type=int, default=1,
                        help="the node's object_refine_passes (most network passes per frame)")
    return parser.parse_args()


@dataclass
class Session:
    """What one run of the node recorded in the measured window."""

    duration: float  # s
    latency: np.ndarray  # (N,) s, image stamp -> result received
    network: np.ndarray  # (N,) s, one network pass
    passes: np.ndarray  # (N,) network passes per result
    processing: np.ndarray  # (N,) s, arrival -> publish in the node
    counters: Dict[str, int]  # diagnostics counters over the window


def _run(arguments: argparse.Namespace, mode: str, mano_dir: str, domain: int, out: Path) -> Optional[Session]:
    """Camera and node on DDS domain `domain`, the node in `mode`; None when no result came."""
    env = isolated_environment(domain)
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTRTPS_DEFAULT_PROFILES_FILE")
                       if k in env})
    node = start_process(
        "hfl_ros.ros.perception_node",
        ["--params-file", str(package_config_file("perception.yaml"))] + node_parameters(
            {"mano_dir": mano_dir, "checkpoint": arguments.checkpoint, "device": arguments.device,
             "publish_debug_image": False, "pipeline": MODES[mode],
             "object_refine_passes": arguments.refine_passes}),
        env, out / "perception_node.log")
    camera = start_process(
        "hfl_ros.ros.synthetic_camera",
        node_parameters({"rate": arguments.rate, "width": arguments.width, "height": arguments.height}),
        env, out / "synthetic_camera.log")
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
            print(f"{mode}: no result within 300 s; see the logs in {out}")
            return None
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
    window = [m for received, m in list(results) if start <= received < end]
    received = np.array([r for r, _ in list(results) if start <= r < end])
    counters = {key: int(after.get(key, 0)) - int(before.get(key, 0))
                for key in ("frames received", "frames dropped", "frames skipped")}
    return Session(end - start, received - np.array([stamp_seconds(m.header.stamp) for m in window]),
                   np.array([m.network_time for m in window]), np.array([m.passes for m in window]),
                   np.array([m.processing_time for m in window]), counters)


def _figures(sessions: List[Session]) -> Dict[str, float]:
    """The report's figures over the sessions of one mode (ms, %, per s)."""
    latency = np.concatenate([s.latency for s in sessions])
    network = np.concatenate([s.network for s in sessions])
    per_result = np.concatenate([s.network * np.maximum(s.passes, 1) for s in sessions])
    duration = sum(s.duration for s in sessions)
    count = len(latency)
    halves = [np.array_split(s.latency, 2) for s in sessions]
    period = duration / count
    return {
        "latency p50 (ms)": np.percentile(latency, 50) * 1e3,
        "latency p95 (ms)": np.percentile(latency, 95) * 1e3,
        "latency p50, 1st half (ms)": np.percentile(np.concatenate([h[0] for h in halves]), 50) * 1e3,
        "latency p50, 2nd half (ms)": np.percentile(np.concatenate([h[1] for h in halves]), 50) * 1e3,
        "results/s": count / duration,
        "frames arrived/s": sum(s.counters["frames received"] for s in sessions) / duration,
        "frames dropped": sum(s.counters["frames dropped"] for s in sessions),
        "frames skipped": sum(s.counters["frames skipped"] for s in sessions),
        "network p50 (ms)": np.percentile(network, 50) * 1e3,
        "passes per result": float(np.mean([p for s in sessions for p in s.passes])),
        "in-node p50 (ms)": np.percentile(np.concatenate([s.processing for s in sessions]), 50) * 1e3,
        "outside network / network (%)": (period - per_result.mean()) / per_result.mean() * 100,
        "latency outside network (%)": float(np.mean(1.0 - per_result / latency)) * 100,
    }


def main() -> int:
    arguments = _arguments()
    mano_dir = arguments.mano_dir
    if not mano_dir:
        from hfl_ros.mano.procedural import procedural_mano_dir

        mano_dir = str(procedural_mano_dir(arguments.out / "procedural_mano"))
    sessions: Dict[str, List[Session]] = {mode: [] for mode in arguments.modes}
    for round_index in range(arguments.rounds):
        order = arguments.modes if round_index % 2 == 0 else arguments.modes[::-1]
        for mode in order:
            domain = 1 + (os.getpid() + 2 * round_index + list(MODES).index(mode)) % 100
            session = _run(arguments, mode, mano_dir, domain, arguments.out / f"{mode}_{round_index}")
            if session is None or len(session.latency) < 2:
                print(f"{mode}: too few results in the measured window; see the logs in {arguments.out}")
                return 1
            sessions[mode].append(session)
    figures = {mode: _figures(runs) for mode, runs in sessions.items()}
    print(f"camera: {arguments.width}x{arguments.height} rgb8 at {arguments.rate:.0f} Hz, {arguments.rounds} x "
          f"{arguments.duration:.0f} s per mode; checkpoint: {arguments.checkpoint or 'none (untrained weights)'}")
    print(f"{'':32s}" + "".join(f"{mode:>12s}" for mode in figures))
    for key in next(iter(figures.values())):
        print(f"{key:32s}" + "".join(f"{figures[mode][key]:12.1f}" for mode in figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
