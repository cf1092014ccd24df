"""Command-line options shared by the applications that run the estimator (`hfl-demo`, `hfl-video`)."""

import argparse
from pathlib import Path

from hfl_ros.inference.estimator import InferenceConfig
from hfl_ros.model.optimize import PRECISIONS


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """--precision, --plain, --compile and --onnx-model: how the network runs (`InferenceConfig`)."""
    group = parser.add_argument_group("inference path")
    group.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32",
                       help="backbone precision: fp32 (outputs equal the plain network), bf16 (CPUs with "
                            "AVX512-BF16/AMX; joints within about 1 mm), fp16 (CUDA)")
    group.add_argument("--plain", action="store_true", help="run the plain network (no inference path)")
    group.add_argument("--compile", action="store_true", help="torch.compile the network (eager fallback)")
    group.add_argument("--onnx-model", type=Path, help="run this hfl-export ONNX file with ONNX Runtime instead")


def inference_config(args: argparse.Namespace) -> InferenceConfig:
    """The InferenceConfig the options of `add_inference_arguments` ask for."""
    return InferenceConfig(optimize=not args.plain, precision=args.precision, compile=args.compile,
                           onnx_model=None if args.onnx_model is None else str(args.onnx_model))
