"""`hfl-bench`: the plain HFL-Net forward beside each inference path, in one run, calls interleaved.

    hfl-bench [--device cpu|cuda] [--batches 1 8] [--repeats 10] [--onnx] [--compile] [--json F]
              [--ros-latency [--ros-rate 30] [--ros-duration 20]]

Paths: plain (HFLNet as built), fold (BatchNorms folded), fp32 (fold + channels_last: the estimator's
default; IEEE float32 on CUDA), tf32 (CUDA: TF32 convolutions and matrix products), bf16 (CPU with native bfloat16) / fp16 (CUDA) backbone, cuda-graph (CUDA: fp32 replayed as a
graph), compile (--compile), onnx (--onnx: ONNX Runtime on an export written to a temporary file).
For each batch: p50 / p95 ms and images/s of each path (repeats interleaved path by path, so load on the
machine hits every path alike), the plain path's p50 divided by the path's (the speed-up), and each path's
max difference from the plain outputs on the bundled demo frame: root-relative joints and vertices (mm),
2D joints (normalised), object maps; at batch 1 also the decoded estimate's camera-frame joints (mm) and
object pose (mm, degrees) after PnP. Prints a table, then the same as JSON. --ros-latency then runs
benchmarks/ros_latency.py (the node end to end on a synthetic camera) and prints its report.

The machine's limit, in the same run (`hfl_ros.apps.roofline`): the network's GFLOP per frame (convolutions
and matrix products, by precision), the device's best convolution and GEMM rates in each precision
(p50 of the reference kernels timed in the same interleaved rounds as the paths, so that load on the machine
hits them alike), and for each path its achieved GFLOP/s and its share of the limit: the time its
arithmetic takes at those rates divided by its p50.
"""

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from hfl_ros.apps.demo import BUNDLED_SCENE, scene_boxes
from hfl_ros.apps.export import add_network_arguments, load_network
from hfl_ros.apps.roofline import (
    MachineLimits,
    NetworkFlops,
    ReferenceKernel,
    count_flops,
    floor_seconds,
    limits_from_times,
    reference_kernels,
)
from hfl_ros.data.synthetic import read_scene, read_scene_object
from hfl_ros.device import resolve_device
from hfl_ros.geometry.rotations import matrix_to_axis_angle
from hfl_ros.inference.crop import crop_cv2
from hfl_ros.inference.estimator import crop_geometry, decode_output, outputs_to_host
from hfl_ros.model.export import OUTPUT_NAMES, OnnxNetwork, export_onnx
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput
from hfl_ros.model.trained_like import trained_like_weights
from hfl_ros.model.optimize import (
    CudaGraphRunner,
    EagerFallback,
    bf16_supported,
    compile_with_fallback,
    optimize_for_inference,
    output_differences,
)

LOG = logging.getLogger("hfl_ros.bench")
ROS_LATENCY = Path(__file__).resolve().parents[2] / "benchmarks" / "ros_latency.py"
Network = Callable[..., HFLNetOutput]


def inference_paths(model: HFLNet, device: torch.device, onnx: bool, compile: bool, workdir: Path) -> Dict[str, Network]:
    """The networks to compare, by name; `model` is the plain one (eval mode, on `device`)."""
    paths: Dict[str, Network] = {
        "plain": model,
        "fold": optimize_for_inference(model, device, "fp32", channels_last=False),
        "fp32": optimize_for_inference(model, device, "fp32"),
    }
    if device.type == "cpu" and bf16_supported():
        paths["bf16"] = optimize_for_inference(model, device, "bf16")
    if device.type == "cuda":
        paths["tf32"] = optimize_for_inference(model, device, "tf32")
        paths["bf16"] = optimize_for_inference(model, device, "bf16")
        paths["fp16"] = optimize_for_inference(model, device, "fp16")
        paths["cuda-graph"] = CudaGraphRunner(paths["fp32"])
        paths["fp16-cuda-graph"] = CudaGraphRunner(paths["fp16"])
    if compile:
        paths["compile"] = compile_with_fallback(optimize_for_inference(model, device, "fp32"))
    if onnx:
        try:
            paths["onnx"] = OnnxNetwork(export_onnx(model, workdir / "hflnet.onnx"), device)
        except RuntimeError as error:  # e.g. a CPU-only onnxruntime asked for CUDA
            LOG.warning("onnx path skipped: %s", error)
    return paths


def limit_dtypes(device: torch.device) -> tuple:
    """The precisions whose limits are measured on `device` (those its paths run in)."""
    if device.type == "cuda":
        return (torch.float32, torch.bfloat16, torch.float16)
    return (torch.float32, torch.bfloat16) if bf16_supported() else (torch.float32,)


def path_flops(paths: Dict[str, Network], inputs) -> Dict[str, NetworkFlops]:
    """Each path's FLOPs per frame by kind and precision (batch-1 `inputs`), counted on its eager module:
    a CUDA graph or a compiled path does the arithmetic of the module it wraps, ONNX Runtime that of the
    float32 folded network."""
    flops = {}
    for name, network in paths.items():
        if isinstance(network, (CudaGraphRunner, EagerFallback)):
            network = network.module
        if isinstance(network, torch.nn.Module):
            flops[name] = count_flops(network, inputs)
    for name in paths:
        flops.setdefault(name, flops["fold"])
    return flops


def add_limit_columns(rows: Dict[str, Dict], flops: Dict[str, NetworkFlops], limits: MachineLimits, batch: int) -> None:
    """Each row gets its achieved GFLOP/s and its share of the limit (floor time / p50)."""
    for name, row in rows.items():
        seconds = row["p50_ms"] / 1e3
        row["gflop_per_s"] = flops[name].total * batch / seconds / 1e9
        row["limit_share"] = floor_seconds(flops[name], limits) * batch / seconds


def describe_limits(flops: NetworkFlops, limits: MachineLimits) -> str:
    """Lines stating the network's arithmetic and the measured limits."""
    rates = "; ".join(f"{kind} " + ", ".join(f"{name} {rate:.0f}" for name, rate in by_dtype.items())
                      for kind, by_dtype in limits.rates.items())
    return (f"network: {flops.total / 1e9:.1f} GFLOP/frame (conv {flops.of_kind('conv') / 1e9:.1f}, "
            f"matmul {flops.of_kind('matmul') / 1e9:.1f}); limits GFLOP/s: {rates}; "
            f"fp32 floor {floor_seconds(flops, limits) * 1e3:.0f} ms/frame")


def calibration_crops(images: torch.Tensor, hand: torch.Tensor, obj: torch.Tensor):
    """Four views of the demo crop (itself, mirrored, shifted twice) with its boxes: the calibration batch
    of `trained_like_weights`."""
    views = torch.cat([images, images.flip(3), images.roll(20, 2), images.roll(-30, 3)])
    return views, hand.repeat(4, 1), obj.repeat(4, 1)


def demo_frame(device: torch.device):
    """The bundled demo scene cropped as the estimator crops it: (images (1, 3, 256, 256), hand and object
    crop boxes (1, 4), geometry, object model)."""
    image, annotation, _ = read_scene(BUNDLED_SCENE)
    boxes = scene_boxes(annotation)
    geometry = crop_geometry(image.shape[1::-1], annotation.K, boxes["hand"], boxes["object"])
    images = torch.from_numpy(crop_cv2(image, geometry.affine)).permute(2, 0, 1)[None].float() / 255.0
    hand = torch.from_numpy(geometry.hand_crop_box)[None].float()
    obj = torch.from_numpy(geometry.object_crop_box)[None].float()
    return images.to(device), hand.to(device), obj.to(device), geometry, read_scene_object(BUNDLED_SCENE)


def estimate_differences(out: HFLNetOutput, reference: HFLNetOutput, geometry, object_model, faces) -> Dict:
    """Differences of the decoded estimates (batch sample 0): camera-frame joints mm; object translation mm
    and rotation degrees after PnP (None when either has no pose)."""
    hand, obj = decode_output(outputs_to_host(out), geometry, object_model, faces)
    hand_ref, obj_ref = decode_output(outputs_to_host(reference), geometry, object_model, faces)
    result = {"camera_joints_mm": float(np.abs(hand.joints - hand_ref.joints).max() * 1e3),
              "object_translation_mm": None, "object_rotation_deg": None}
    if obj.has_pose and obj_ref.has_pose:
        relative = torch.from_numpy(obj.rotation @ obj_ref.rotation.T)
        result["object_translation_mm"] = float(np.linalg.norm(obj.translation - obj_ref.translation) * 1e3)
        result["object_rotation_deg"] = float(np.degrees(matrix_to_axis_angle(relative).norm()))
    return result


def network_differences(out: HFLNetOutput, reference: HFLNetOutput) -> Dict[str, float]:
    """Max differences by kind: joints and vertices mm, 2D joints normalised, object maps (max of the three)."""
    raw = output_differences(out, reference)
    return {"joints_mm": raw["joints"] * 1e3, "vertices_mm": raw["vertices"] * 1e3, "joints_2d": raw["joints_2d"],
            "object_maps": max(raw["object_confidence"], raw["object_x"], raw["object_y"])}


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: Back-to-back calls of a reference kernel per round, the fastest kept: a single call right after a path
#: measured half the machine's rate (ONNX Runtime's worker threads keep spinning for a while after its call,
#: and the kernel is short), which made the paths' shares of the "limit" exceed 100 %.
KERNEL_CALLS_PER_ROUND = 4


def bench_batch(paths: Dict[str, Network], inputs, device: torch.device, repeats: int, warmup: int,
                kernels: Dict[str, ReferenceKernel]
                ) -> Tuple[Dict[str, Dict], Dict[str, HFLNetOutput], Dict[str, List[float]]]:
    """Interleaved timing of every path on `inputs`, and each path's output differences from "plain"; the
    reference kernels are timed in the same rounds. Returns (rows by path, outputs by path, kernel seconds)."""
    outputs = {}
    with torch.inference_mode():
        for name, network in paths.items():
            for _ in range(warmup):
                network(*inputs)
            out = network(*inputs)  # a CUDA graph's outputs are overwritten by its next call: keep a copy
            outputs[name] = HFLNetOutput(**{field: getattr(out, field).clone() for field in OUTPUT_NAMES})
        calls = {name: (lambda network=network: network(*inputs)) for name, network in paths.items()}
        calls.update({name: kernel.call for name, kernel in kernels.items()})
        for call in calls.values():
            call()
        times: Dict[str, List[float]] = {name: [] for name in calls}
        for _ in range(repeats):
            for name, call in calls.items():
                samples = []
                for _ in range(KERNEL_CALLS_PER_ROUND if name in kernels else 1):
                    synchronise(device)
                    start = time.perf_counter()
                    call()
                    synchronise(device)
                    samples.append(time.perf_counter() - start)
                times[name].append(min(samples))
    batch = inputs[0].shape[0]
    plain = statistics.median(times["plain"])
    rows = {}
    for name in paths:
        samples = times[name]
        p50 = statistics.median(samples)
        rows[name] = {"p50_ms": p50 * 1e3, "p95_ms": float(np.percentile(samples, 95)) * 1e3,
                      "images_per_s": batch / p50, "speedup": plain / p50,
                      **network_differences(outputs[name], outputs["plain"])}
    return rows, outputs, {name: times[name] for name in kernels}


def format_table(results: Dict) -> str:
    """The benchmark as a fixed-width text table."""
    header = (f"{'batch':>5} {'path':<16} {'p50 ms':>8} {'p95 ms':>8} {'img/s':>7} {'speed-up':>8} {'GFLOP/s':>7} "
              f"{'limit':>5} {'joints mm':>9} "
              f"{'verts mm':>8} {'2D':>8} {'obj maps':>8} {'cam mm':>7} {'obj mm':>7} {'obj deg':>7}")
    lines = [header, "-" * len(header)]
    show = lambda value, spec: "-" if value is None else format(value, spec)  # noqa: E731
    for batch, rows in results["batches"].items():
        for name, row in rows.items():
            estimate = results["estimate_differences"].get(name, {}) if batch == "1" else {}
            lines.append(
                f"{batch:>5} {name:<16} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {row['images_per_s']:7.2f} "
                f"{row['speedup']:7.2f}x {row['gflop_per_s']:7.1f} {row['limit_share']:5.0%} {row['joints_mm']:9.4f} {row['vertices_mm']:8.4f} {row['joints_2d']:8.1e} "
                f"{row['object_maps']:8.1e} {show(estimate.get('camera_joints_mm'), '7.2f')} "
                f"{show(estimate.get('object_translation_mm'), '7.2f')} {show(estimate.get('object_rotation_deg'), '7.2f')}")
    return "\n".join(lines)


def run_ros_latency(args: argparse.Namespace) -> int:
    """benchmarks/ros_latency.py with this run's device, rate and duration (needs `source .venv/ros_env.sh`)."""
    if not ROS_LATENCY.is_file():
        print(f"--ros-latency needs the repository's {ROS_LATENCY}", file=sys.stderr)
        return 1
    command = [sys.executable, str(ROS_LATENCY), "--device", args.device, "--rate", str(args.ros_rate),
               "--duration", str(args.ros_duration)]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    if args.mano_dir:
        command += ["--mano-dir", str(args.mano_dir)]
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode


def weights_note(untrained: bool, trained_like: Optional[int]) -> str:
    if trained_like is not None:
        return f"trained-like weights (seed {trained_like}), "
    return "UNTRAINED weights, " if untrained else ""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-bench", description=__doc__.splitlines()[0])
    add_network_arguments(parser)
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], metavar="B",
                        help="batch sizes to time, each in turn (the demo crop repeated B times); the output "
                             "differences and the decoded estimate's are taken at batch 1")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per path and batch")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per path and batch")
    parser.add_argument("--onnx", action="store_true", help="also ONNX Runtime (exports to a temporary file)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow to compile on a small CPU)")
    parser.add_argument("--trained-like", type=int, metavar="SEED",
                        help="give the network trained-like weights of this seed (hfl_ros.model.trained_like: "
                             "calibrated BatchNorm statistics), on which reduced precision shows its real error")
    parser.add_argument("--json", type=Path, help="also write the JSON to this file")
    parser.add_argument("--ros-latency", action="store_true", help="then the node end to end (source ros_env.sh)")
    parser.add_argument("--ros-rate", type=float, default=30.0, help="camera rate for --ros-latency, Hz")
    parser.add_argument("--ros-duration", type=float, default=20.0, help="measured seconds for --ros-latency")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    device = resolve_device(args.device)
    model, untrained = load_network(args)
    images, hand, obj, geometry, object_model = demo_frame(torch.device("cpu"))
    if args.trained_like is not None:
        model = trained_like_weights(model, calibration_crops(images, hand, obj), args.trained_like)
    model = model.to(device).eval().requires_grad_(False)
    images, hand, obj = images.to(device), hand.to(device), obj.to(device)
    faces = model.mano_layer.faces.cpu().numpy()
    results = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "untrained": untrained, "trained_like_seed": args.trained_like, "bf16_native_cpu": bf16_supported(),
               "repeats": args.repeats,
               "load_average": os.getloadavg(), "batches": {}, "estimate_differences": {}}
    kernels = reference_kernels(device, limit_dtypes(device))
    kernel_times: Dict[str, List[float]] = {name: [] for name in kernels}
    with tempfile.TemporaryDirectory() as workdir:
        paths = inference_paths(model, device, args.onnx, args.compile, Path(workdir))
        flops = path_flops(paths, (images, hand, obj))
        all_rows = {}
        for batch in args.batches:
            inputs = (images.expand(batch, -1, -1, -1).contiguous(), hand.expand(batch, -1).contiguous(),
                      obj.expand(batch, -1).contiguous())
            if device.type == "cuda":  # a CUDA graph is captured for one shape: fresh runners per batch
                paths = {name: CudaGraphRunner(network.module) if isinstance(network, CudaGraphRunner) else network
                         for name, network in paths.items()}
            rows, outputs, times = bench_batch(paths, inputs, device, args.repeats, args.warmup, kernels)
            for name, samples in times.items():
                kernel_times[name] += samples
            all_rows[batch] = rows
            results["batches"][str(batch)] = rows
            if batch == 1:
                results["estimate_differences"] = {
                    name: estimate_differences(out, outputs["plain"], geometry, object_model, faces)
                    for name, out in outputs.items()}
    limits = limits_from_times(kernels, {name: statistics.median(samples) for name, samples in kernel_times.items()})
    for batch, rows in all_rows.items():
        add_limit_columns(rows, flops, limits, batch)
    results["limits_gflop_per_s"] = limits.rates
    results["flops_per_frame"] = {name: counts.counts for name, counts in flops.items()}
    print(f"hfl-bench: device {device}, torch {torch.__version__}, {results['threads']} threads, "
          f"{weights_note(untrained, args.trained_like)}{args.repeats} interleaved repeats, load average "
          f"{results['load_average'][0]:.1f} -> {os.getloadavg()[0]:.1f}; speed-up = plain p50 / path p50; "
          f"limit = the path's floor time at the measured rates / its p50")
    print(describe_limits(flops["plain"], limits))
    print(format_table(results))
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.ros_latency:
        return run_ros_latency(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
