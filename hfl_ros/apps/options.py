"""Command-line options shared by the applications that run the estimator (`hfl-demo`, `hfl-video`)."""

import argparse
from pathlib import Path

from hfl_ros.inference.estimator import RUNTIMES, InferenceConfig
from hfl_ros.model.optimize import BF16_ERROR_NOTE, PRECISIONS


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """--runtime, --precision, --plain, --compile, --onnx-model, --onnx-cache: how the network runs
    (`InferenceConfig`)."""
    group = parser.add_argument_group("inference path")
    group.add_argument("--runtime", choices=RUNTIMES, default="auto",
                       help="auto (default): on the CPU, ONNX Runtime when installed, on the network exported once "
                            "per checkpoint and checked against torch (cached, see --onnx-cache), else torch; "
                            "onnx: ONNX Runtime or fail; torch: never ONNX Runtime")
    group.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32",
                       help=f"backbone precision: fp32 (outputs equal the plain network; IEEE float32 on CUDA), "
                            f"tf32 (CUDA: TF32 convolutions and matrix products, not exact), bf16 (CPUs with "
                            f"AVX512-BF16/AMX; runs torch), fp16 (CUDA). {BF16_ERROR_NOTE}")
    group.add_argument("--plain", action="store_true", help="run the plain network (no inference path)")
    group.add_argument("--compile", action="store_true", help="torch.compile the network (eager fallback)")
    group.add_argument("--onnx-model", type=Path, help="run this hfl-export ONNX file with ONNX Runtime instead")
    group.add_argument("--onnx-cache", type=Path,
                       help="directory of the cached ONNX exports (default $HFL_ROS_CACHE/onnx, else "
                            "$XDG_CACHE_HOME/hfl_ros/onnx, else ~/.cache/hfl_ros/onnx)")


def inference_config(args: argparse.Namespace) -> InferenceConfig:
    """The InferenceConfig the options of `add_inference_arguments` ask for."""
    return InferenceConfig(optimize=not args.plain, precision=args.precision, compile=args.compile,
                           onnx_model=None if args.onnx_model is None else str(args.onnx_model),
                           runtime=args.runtime,
                           onnx_cache_dir=None if args.onnx_cache is None else str(args.onnx_cache))
