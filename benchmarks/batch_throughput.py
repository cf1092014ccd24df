"""Frames/s of hfl-video over many inputs: plain (one process, inputs one after another) against `--ray` with 1
and 2 local workers, on the same rendered inputs; and what the output writers cost per frame.

Usage: .venv/bin/python benchmarks/batch_throughput.py [--inputs 4] [--frames 6] [--workers 1,2] [--device cpu]
       (source .venv/ros_env.sh first to include the MCAP writer)

Plain: one `hfl-video INPUT` after another (a shell loop; each input has its own camera, so one command
over all of them is refused), each loading the network. Inputs: `--inputs` MCAP bags of rendered grasps (`hfl_ros.evaluation.tracking_scenes.render_sequence`, seeds
from 18; 640x480, raw rgb8 images, camera_info), `--frames` frames each, written to a temporary folder. Every
configuration runs the untrained network with the procedural MANO hand, the built-in detector, no overlays.

The plain run also writes `--mcap` when ROS is sourced (its cost is printed apart).
Rows: wall time of the whole command (network loading and, for Ray, starting the local Ray and its actors
included) and frames/s over it; for Ray also the workers' own frames/s (frames / the summed per-input
seconds, per worker): the rate once started. Writers: `--lerobot` (LeRobot dataset of the plain run:
frames read again, AV1 encoding), and `--mcap` (the node's messages built and serialized per frame, timed
inside the run) in ms per frame.
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import List

from hfl_ros.apps import video
from hfl_ros.apps.batch import run_batch
from hfl_ros.apps.lerobot_export import export_run
from hfl_ros.evaluation.tracking_scenes import render_sequence
from hfl_ros.inference.bags import write_image_bag
from hfl_ros.mano.procedural import procedural_mano_dir

#: Seeds of grasps whose hand MediaPipe finds (benchmarks/detection_quality.py), then any.
SEEDS = (18, 19, 4, 13, 21, 30, 31, 32)
STEP_NS = 33_333_333


def write_inputs(folder: Path, count: int, frames: int) -> List[Path]:
    bags = []
    for number in range(count):
        sequence = render_sequence(SEEDS[number % len(SEEDS)] + 100 * (number // len(SEEDS)), frames)
        stamps = [1_700_000_000_000_000_000 + i * STEP_NS for i in range(frames)]
        bags.append(write_image_bag(folder / f"grasp{number}", [frame.image for frame in sequence], stamps,
                                    sequence[0].annotation.K))
    return bags


def _timed_mcap_writes() -> List[float]:
    """[seconds, frames] accumulated by FrameRecorder.write from now on; empty without the ROS environment."""
    try:
        from hfl_ros.ros.recording import FrameRecorder
    except ImportError:
        return []
    totals = [0.0, 0]
    write = FrameRecorder.write

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        write(self, *args, **kwargs)
        totals[0] += time.perf_counter() - started
        totals[1] += 1

    FrameRecorder.write = timed
    return totals


def common(output: Path, mano_dir: Path, device: str) -> List[str]:
    return ["--output", str(output), "--mano-dir", str(mano_dir), "--device", device, "--side", "right",
            "--no-overlay"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=4, help="number of rendered inputs")
    parser.add_argument("--frames", type=int, default=6, help="frames per input")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to run, comma-separated")
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="batch_throughput_"))
    inputs = [str(path) for path in write_inputs(folder / "inputs", options.inputs, options.frames)]
    mano_dir = procedural_mano_dir(folder / "mano")
    total = options.inputs * options.frames
    rows = []

    plain = folder / "plain"
    mcap_timer = _timed_mcap_writes()
    started = time.perf_counter()
    for item in inputs:  # one command per input, as a shell loop runs them (each is its own camera)
        code = video.main([item] + common(plain / Path(item).name, mano_dir, options.device) +
                          (["--mcap"] if mcap_timer else []))
        assert code == 0, f"hfl-video {item} failed"
    seconds = time.perf_counter() - started
    rows.append(("plain hfl-video", seconds, total / seconds, None))

    for workers in (int(value) for value in options.workers.split(",")):
        args = video.parse_args(inputs + common(folder / f"ray{workers}", mano_dir, options.device))
        args.ray, args.ray_address, args.workers = True, None, workers
        summary = run_batch(args)
        busy = sum(result.seconds for result in summary.results)
        rows.append((f"--ray, {workers} worker(s)", summary.wall_seconds, summary.frames_per_second,
                     summary.frames / busy * summary.workers if busy else None))
        assert summary.count("done") == options.inputs, summary.text()

    started = time.perf_counter()
    frames = 0
    for item in inputs:
        run = plain / Path(item).name
        records = [json.loads(line) for line in (run / video.TRAJECTORY).read_text().splitlines()]
        export_run([item], records, run / "lerobot", 30.0)
        frames += len(records)
    lerobot_ms = (time.perf_counter() - started) / frames * 1000

    print(f"{options.inputs} inputs x {options.frames} frames (640x480, {options.device}); results in {folder}")
    print(f"{'configuration':<24} {'wall s':>8} {'frames/s':>9} {'workers frames/s':>17}")
    for name, wall, rate, steady in rows:
        print(f"{name:<24} {wall:8.1f} {rate:9.2f} {'' if steady is None else f'{steady:.2f}':>17}")
    print(f"writer --lerobot: {lerobot_ms:.1f} ms/frame ({frames} frames, one dataset per input: frames read "
          "again + AV1 encoding)")
    if mcap_timer:
        print(f"writer --mcap: {mcap_timer[0] / max(mcap_timer[1], 1) * 1000:.1f} ms/frame ({mcap_timer[1]} frames: "
              "the node's messages built, serialized and written; inside the plain run)")
    else:
        print("writer --mcap: not measured (source .venv/ros_env.sh first)")


if __name__ == "__main__":
    main()
