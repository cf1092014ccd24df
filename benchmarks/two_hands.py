"""Two hands in one batched network call against two single calls, on this machine's CPU or on CUDA.

    .venv/bin/python benchmarks/two_hands.py [--device cpu|cuda] [--repeats 15] [--warmup 3]
        [--paths plain default onnx] [--threads N] [--json F] [--checkpoint F] [--mano-dir D]

The frame: the bundled demo image beside its own mirror image (1280 x 480), a right hand in the left half
and a left hand in the right half, each with its object (`estimate_sides` mirrors the left one in and out).
For each inference path (plain: the network as built; default: `InferenceConfig()`, the estimator's
default path; onnx: ONNX Runtime on an export written to a temporary file), timed in rounds that
interleave the paths and alternate which of the two ways goes first (load on the machine hits all alike):
- network: one forward of batch 2 (both prepared crops) vs two forwards of batch 1, outputs on the host;
- estimate: `estimate_sides` with both requests (crop, ONE network call, decode, PnP) vs `estimate_side`
  twice.
Prints per path and level the medians (ms), batched / (2 x single) (below 1: the batch is cheaper) and
the time saved, in wall-clock time and in this process's CPU time (all its threads: on a CPU shared with
other work the CPU time is the steadier figure of the two); --json writes the same. Speed is measured here,
never asserted in the tests.
"""

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hfl_ros.apps.demo import BUNDLED_SCENE, scene_boxes  # noqa: E402
from hfl_ros.apps.export import add_network_arguments, load_network  # noqa: E402
from hfl_ros.data.synthetic import read_scene, read_scene_object  # noqa: E402
from hfl_ros.device import resolve_device  # noqa: E402
from hfl_ros.geometry.mirror import mirror_box, mirror_image  # noqa: E402
from hfl_ros.inference.estimator import HandObjectEstimator, InferenceConfig, outputs_to_host  # noqa: E402
from hfl_ros.inference.mirroring import SideRequest, estimate_side, estimate_sides, side_crops  # noqa: E402
from hfl_ros.model.export import export_onnx  # noqa: E402

LOG = logging.getLogger("two_hands")
PATHS = ("plain", "default", "onnx")
LEVELS = ("network", "estimate")
CLOCKS = ("wall", "cpu")


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (CUDA graphs are captured here)")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=["plain", "default"])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error(f"--repeats must be >= 1 and --warmup >= 0, got {args.repeats}, {args.warmup}")
    return args


def two_hand_frame():
    """(image (480, 1280, 3) uint8, K (3, 3), [right, left] SideRequests, object model): the bundled frame
    beside its mirror image, cx at the frame's centre."""
    image, annotation, _ = read_scene(BUNDLED_SCENE)
    boxes = scene_boxes(annotation)
    width = image.shape[1]
    K = annotation.K.copy()
    K[0, 2] = (2 * width - 1) / 2
    requests = [SideRequest(boxes["hand"], boxes["object"], "right"),
                SideRequest(mirror_box(boxes["hand"], 2 * width), mirror_box(boxes["object"], 2 * width), "left")]
    return np.concatenate((image, mirror_image(image)), axis=1), K, requests, read_scene_object(BUNDLED_SCENE)


def _timed(call: Callable[[], object], device: torch.device) -> Tuple[float, float]:
    """(wall-clock s, process CPU s) of one `call`, CUDA synchronised before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, time.process_time() - start_cpu


def _calls(estimator: HandObjectEstimator, frame) -> Dict[str, Dict[str, Callable[[], object]]]:
    """level -> {"batched": call, "single": call} on the two-hand frame."""
    image, K, requests, model = frame
    crops = side_crops(K, image.shape[1], requests, model)
    both = estimator.prepare_batch(image, crops)
    ones = [estimator.prepare_batch(image, [crop]) for crop in crops]

    def forward(prepared) -> None:
        with torch.inference_mode():
            outputs_to_host(estimator.network(prepared.images, prepared.hand_boxes, prepared.object_boxes))

    return {
        "network": {"batched": lambda: forward(both), "single": lambda: [forward(one) for one in ones]},
        "estimate": {
            "batched": lambda: estimate_sides(estimator, image, K, requests, model),
            "single": lambda: [estimate_side(estimator, image, K, r.hand_box, r.object_box, model, r.side)
                               for r in requests],
        },
    }


def measure(estimators: Dict[str, HandObjectEstimator], frame, repeats: int, warmup: int,
            device: torch.device) -> Dict[str, Dict[str, Dict[str, float]]]:
    """path -> level -> clock ("wall", "cpu") -> {batched_ms, two_single_ms, ratio, saved_ms}: medians over
    `repeats` rounds."""
    calls = {name: _calls(estimator, frame) for name, estimator in estimators.items()}
    times = {name: {level: {"batched": [], "single": []} for level in LEVELS} for name in estimators}
    for round_index in range(warmup + repeats):
        order = ("batched", "single") if round_index % 2 == 0 else ("single", "batched")
        for name in estimators:
            for level in LEVELS:
                for way in order:
                    seconds = _timed(calls[name][level][way], device)
                    if round_index >= warmup:
                        times[name][level][way].append(seconds)
    results = {}
    for name, by_level in times.items():
        results[name] = {}
        for level, ways in by_level.items():
            results[name][level] = {}
            for clock_index, clock in enumerate(CLOCKS):
                batched = statistics.median(t[clock_index] for t in ways["batched"]) * 1e3
                single = statistics.median(t[clock_index] for t in ways["single"]) * 1e3
                results[name][level][clock] = {"batched_ms": batched, "two_single_ms": single,
                                               "ratio": batched / single, "saved_ms": single - batched}
    return results


def _estimators(args: argparse.Namespace, device: torch.device, workdir: Path) -> Dict[str, HandObjectEstimator]:
    model, untrained = load_network(args)
    configs = {"plain": InferenceConfig(optimize=False), "default": InferenceConfig()}
    if "onnx" in args.paths:
        configs["onnx"] = InferenceConfig(onnx_model=str(export_onnx(model, workdir / "hflnet.onnx")))
    return {name: HandObjectEstimator(model, device, untrained=untrained, inference=configs[name])
            for name in args.paths}


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _arguments(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as workdir:
        estimators = _estimators(args, device, Path(workdir))
        results = measure(estimators, two_hand_frame(), args.repeats, args.warmup, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"two hands, batch 2 vs 2 x batch 1 on {name}; median of {args.repeats} interleaved rounds")
    print(f"{'path':8} {'level':9} {'clock':5} {'batch 2 ms':>11} {'2 x 1 ms':>9} {'ratio':>6} {'saved ms':>9}")
    for path, by_level in results.items():
        for level, by_clock in by_level.items():
            for clock, row in by_clock.items():
                print(f"{path:8} {level:9} {clock:5} {row['batched_ms']:11.1f} {row['two_single_ms']:9.1f} "
                      f"{row['ratio']:6.2f} {row['saved_ms']:9.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": name, "repeats": args.repeats, "warmup": args.warmup,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
