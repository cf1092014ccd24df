"""`hfl-export`: write HFL-Net as an ONNX model and check that ONNX Runtime reproduces torch's outputs.

    hfl-export --output out/hflnet.onnx [--checkpoint F] [--mano-dir D] [--model-config train.yaml]

The export is the float32 network with its BatchNorms folded, MANO included, batch dynamic
(`hfl_ros.model.export`). After writing it, ONNX Runtime runs it at batch 1 and 3 on seeded inputs and
every output is compared with the plain torch model; the command fails when one differs by more than
--tolerance. Without --checkpoint the weights are UNTRAINED (seeded); without --mano-dir a procedural
MANO-format hand stands in for the user's MANO file (MANO is baked into the exported graph).
"""

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import torch

from hfl_ros.config import ModelConfig
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.model.checkpoint import load_checkpoint
from hfl_ros.model.export import EXPORT_TOLERANCE, export_onnx, onnx_differences
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.training.config import load_train_config

LOG = logging.getLogger("hfl_ros.export")
#: Loggers of the ONNX exporter that narrate every graph rewrite at INFO.
EXPORTER_LOGGERS = ("onnxscript", "onnx_ir")
#: Seed of the untrained network used without --checkpoint.
UNTRAINED_SEED = 0


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, --mano-dir and --model-config: which network a command runs."""
    parser.add_argument("--checkpoint", type=Path, help="HFL-Net checkpoint (published or ours); none: untrained")
    parser.add_argument("--mano-dir", type=Path, help="directory or file of MANO_RIGHT.pkl (default: procedural hand)")
    parser.add_argument("--model-config", type=Path,
                        help="training YAML whose `model` section sizes the untrained network (default: HFL-Net)")


def load_network(args: argparse.Namespace) -> Tuple[HFLNet, bool]:
    """(the network the arguments name, in eval mode on the CPU; whether its weights are untrained)."""
    with tempfile.TemporaryDirectory() as tmp:
        mano = load_mano(args.mano_dir or procedural_mano_dir(tmp))
    if args.checkpoint is not None:
        return load_checkpoint(args.checkpoint, mano, "cpu"), False
    config = load_train_config(args.model_config).model if args.model_config else ModelConfig()
    LOG.warning("no --checkpoint: the network has UNTRAINED random weights (seed %d)", UNTRAINED_SEED)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return HFLNet(config, mano).eval(), True


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="hfl-export", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="the .onnx file to write")
    add_network_arguments(parser)
    parser.add_argument("--tolerance", type=float, default=EXPORT_TOLERANCE,
                        help="largest accepted |ONNX Runtime - torch| of any output")
    args = parser.parse_args(argv)
    model, _ = load_network(args)
    path = export_onnx(model, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    worst = 0.0
    for batch, differences in onnx_differences(model, path).items():
        worst = max(worst, *differences.values())
        shown = ", ".join(f"{name} {value:.1e}" for name, value in differences.items())
        print(f"ONNX Runtime vs torch, batch {batch}: max |difference| {shown}")
    if worst > args.tolerance:
        print(f"ERROR: {path}: ONNX Runtime differs from torch by {worst:.2e} > {args.tolerance:.0e}", file=sys.stderr)
        return 1
    print(f"ONNX Runtime reproduces torch within {args.tolerance:.0e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
