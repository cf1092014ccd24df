"""`hfl-eval`: evaluate a checkpoint (ours or a published HFL-Net file) on the dataset of a training config.

Examples::

    hfl-eval --config config/train_ho3d.yaml --checkpoint HO3D.pth.tar          # writes pred.json / pred.zip
    hfl-eval --config config/train_dexycb.yaml --checkpoint runs/dexycb/checkpoint_last.pt
    hfl-eval --config config/train_synthetic_smoke.yaml --checkpoint runs/smoke/checkpoint_last.pt --limit 64

Writes ``metrics.json`` (and for HO3D frames with a ground-truth wrist, the submission ``pred.json`` and
``pred.zip``) into --output (default ``<output_dir>/eval_<split>``) and prints the metrics as JSON.
HO3D and synthetic data are scored with `hfl_ros.evaluation.ho3d` (the synthetic frames have every kind
of ground truth); DexYCB with `hfl_ros.evaluation.dexycb` (its protocol is stated in the report).
Exit status: 0 done, 2 bad arguments or files.
"""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from hfl_ros.data.datasets import build_dataset
from hfl_ros.device import DEVICE_CHOICES, resolve_device
from hfl_ros.evaluation import dexycb, ho3d
from hfl_ros.evaluation.evaluate import Predictions, model_points_from_library, predict
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import resolve_mano_dir
from hfl_ros.model.checkpoint import load_checkpoint
from hfl_ros.training.config import TrainConfig, load_train_config

EXIT_ERROR = 2
METRICS_FILE = "metrics.json"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-eval", description="Evaluate an HFL-Net checkpoint.")
    parser.add_argument("--config", required=True, help="training YAML naming the dataset and the MANO folder")
    parser.add_argument("--checkpoint", required=True, help="our checkpoint or a published HFL-Net .pth.tar")
    parser.add_argument("--split", help="split to evaluate (default: data.eval_split of the config)")
    parser.add_argument("--output", help="output folder (default: <output_dir>/eval_<split>)")
    parser.add_argument("--device", default="auto", help=f"one of {DEVICE_CHOICES} or cuda:N")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: data.workers)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N frames (a partial submission)")
    parser.add_argument("--amp", action="store_true", help="float16 autocast on CUDA")
    parser.add_argument("--no-objects", action="store_true", help="skip object pose solving")
    return parser.parse_args(argv)


def report_for(config: TrainConfig, predictions: Predictions, points: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """The dataset's report of `predictions` (see the module docstring)."""
    if config.data.dataset == "dexycb":
        return dexycb.evaluate_predictions(predictions, points)
    return ho3d.evaluate_predictions(predictions, points)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Evaluate as `args` say; returns the report that is also written to metrics.json."""
    config = load_train_config(args.config)
    split = args.split or config.data.eval_split
    output = Path(args.output) if args.output else Path(config.output_dir) / f"eval_{split}"
    device = resolve_device(args.device)
    mano_dir = resolve_mano_dir(config.mano_dir, config.output_dir)
    mano = load_mano(mano_dir, side="right")
    model = load_checkpoint(args.checkpoint, mano, device)
    dataset = build_dataset(config.data, split, train=False, mano_layer=mano, seed=config.seed, mano_dir=mano_dir)
    predictions = predict(
        model, dataset, batch_size=args.batch_size, device=str(device),
        workers=config.data.workers if args.workers is None else args.workers, amp=args.amp,
        keep_vertices=config.data.dataset != "dexycb", solve_objects=not args.no_objects, limit=args.limit, progress=True,
    )
    report = report_for(config, predictions, model_points_from_library(predictions.object_names, dataset.object_model))
    report.update({"checkpoint": str(args.checkpoint), "dataset": config.data.dataset, "split": split})
    output.mkdir(parents=True, exist_ok=True)
    if config.data.dataset == "ho3d" and predictions.root_valid.all():
        json_path, zip_path = ho3d.write_submission(output, *ho3d.submission_arrays(predictions))
        report["submission"] = {"json": str(json_path), "zip": str(zip_path), "frames": len(predictions),
                                "complete": args.limit is None}
    (output / METRICS_FILE).write_text(json.dumps(report, indent=2))
    return report


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"hfl-eval: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
