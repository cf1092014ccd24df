"""`hfl-train`: train HFL-Net from a YAML configuration, in one process or under torchrun.

Examples::

    hfl-train --config config/train_ho3d.yaml
    torchrun --nproc_per_node 4 -m hfl_ros.apps.train --config config/train_dexycb.yaml
    hfl-train --config config/train_synthetic_smoke.yaml --set optim.lr=1e-3 --set max_steps=50
    hfl-train --config config/train_ho3d.yaml --resume runs/ho3d/checkpoint_last.pt

Exit status: 0 done, 2 bad configuration, arguments or input files, 3 non-finite loss (the message names the step
and the term).
"""

import argparse
import logging
import os
import sys
from typing import List, Optional

from hfl_ros.config import apply_overrides
from hfl_ros.training.config import TrainConfig, load_train_config
from hfl_ros.training.trainer import NonFiniteLossError, train

LOG = logging.getLogger("hfl_ros.training")
EXIT_CONFIG = 2
EXIT_NON_FINITE = 3


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-train", description="Train HFL-Net (single process or torchrun).")
    parser.add_argument("--config", required=True, help="training YAML (see config/train_*.yaml)")
    parser.add_argument("--resume", help="continue from this training checkpoint")
    parser.add_argument("--output-dir", help="override output_dir")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override device")
    parser.add_argument("--max-steps", type=int, help="override max_steps")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, dotted (repeatable), e.g. --set optim.lr=1e-3")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig: the YAML file, then --set overrides, then the dedicated flags."""
    flags = {key: getattr(args, key) for key in ("resume", "output_dir", "device", "max_steps")}
    return apply_overrides(load_train_config(args.config), args.overrides,
                           {key: value for key, value in flags.items() if value is not None})


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = train(build_config(args))
    except NonFiniteLossError as error:
        print(f"hfl-train: stopped: {error}", file=sys.stderr)
        return EXIT_NON_FINITE
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"hfl-train: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if rank == 0:
        last = result.history[-1] if result.history else {}
        LOG.info("finished: %d steps, %d epochs, last checkpoint %s, last logged loss %s",
                 result.steps, result.epochs_completed, result.checkpoint, last.get("total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
