"""`hfl-train`: train HFL-Net from a YAML configuration, in one process or under torchrun.

Examples::

    hfl-train --config config/train_ho3d.yaml
    torchrun --nproc_per_node 4 -m hfl_ros.apps.train --config config/train_dexycb.yaml
    hfl-train --config config/train_synthetic_smoke.yaml --set optim.lr=1e-3 --set max_steps=50
    hfl-train --config config/train_ho3d.yaml --resume runs/ho3d/checkpoint_last.pt
    hfl-train --config config/train_ho3d.yaml --device cuda:1

Exit status: 0 done, 2 bad configuration, arguments or input files, 3 non-finite loss (the message names the step
and the term), 130 interrupted (Ctrl-C: one line naming the checkpoint to resume from).
"""

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

from hfl_ros.config import apply_overrides
from hfl_ros.device import check_device_name, resolve_device
from hfl_ros.training.config import TrainConfig, load_train_config
from hfl_ros.training.trainer import LAST_CHECKPOINT, NonFiniteLossError, train

LOG = logging.getLogger("hfl_ros.training")
EXIT_CONFIG = 2
EXIT_NON_FINITE = 3
EXIT_INTERRUPTED = 130


def _device_name(text: str) -> str:
    try:
        return check_device_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-train", description="Train HFL-Net (single process or torchrun).")
    parser.add_argument("--config", required=True, help="training YAML (see config/train_*.yaml)")
    parser.add_argument("--resume", help="continue from this training checkpoint")
    parser.add_argument("--output-dir", help="override output_dir")
    parser.add_argument("--device", type=_device_name, metavar="{auto,cpu,cuda,cuda:N}",
                        help="override device (cuda: each torchrun process's LOCAL_RANK GPU; cuda:N: that GPU, one process)")
    parser.add_argument("--max-steps", type=int, help="override max_steps")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, dotted (repeatable), e.g. --set optim.lr=1e-3")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig: the YAML file, then --set overrides, then the dedicated flags."""
    flags = {key: getattr(args, key) for key in ("resume", "output_dir", "device", "max_steps")}
    return apply_overrides(load_train_config(args.config), args.overrides,
                           {key: value for key, value in flags.items() if value is not None})


def start_message(config: TrainConfig, device: str, world_size: int) -> str:
    """What a run says at its start: where it writes, on which device, for how long."""
    length = f"{config.optim.epochs} epochs" + ("" if config.max_steps is None else f" or {config.max_steps} steps")
    processes = "" if world_size == 1 else f" x {world_size} processes"
    resume = "" if config.resume is None else f", resuming {config.resume}"
    return (f"training on {device}{processes} for {length}{resume}; writing checkpoints, TensorBoard events and "
            f"train_log.jsonl to {Path(config.output_dir).resolve()}")


def check_single_gpu(config: TrainConfig, world_size: int) -> None:
    """ValueError when several processes would all take the one GPU that "cuda:N" names."""
    if world_size > 1 and config.device.startswith("cuda:"):
        raise ValueError(f"device {config.device!r} names one GPU for {world_size} processes: under torchrun use "
                         "'cuda' (each process takes its LOCAL_RANK GPU)")


def interrupted_message(config: Optional[TrainConfig]) -> str:
    """What Ctrl-C leaves: the checkpoint a --resume continues from, if one was written."""
    if config is None:
        return "hfl-train: interrupted before training started"
    last = Path(config.output_dir) / LAST_CHECKPOINT
    if last.is_file():
        return f"hfl-train: interrupted; continue with --resume {last}"
    return f"hfl-train: interrupted before the first checkpoint in {Path(config.output_dir)}; nothing to resume"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(asctime)s %(levelname)s %(name)s: %(message)s")
    config = None
    try:
        config = build_config(args)
        check_single_gpu(config, world_size)
        if rank == 0:
            LOG.info(start_message(config, str(resolve_device(config.device, local_rank)), world_size))
        result = train(config)
    except NonFiniteLossError as error:
        print(f"hfl-train: stopped: {error}", file=sys.stderr)
        return EXIT_NON_FINITE
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"hfl-train: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        if rank == 0:
            print(interrupted_message(config), file=sys.stderr)
        return EXIT_INTERRUPTED
    if rank == 0:
        last = result.history[-1] if result.history else {}
        LOG.info("finished: %d steps, %d epochs, last checkpoint %s, last logged loss %s",
                 result.steps, result.epochs_completed, result.checkpoint, last.get("total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
