"""The training loop: Adam + step decay, optional mixed precision and DistributedDataParallel, exact resume.

`train(config)` runs one job in this process; under ``torchrun`` every process calls it and they form one
DistributedDataParallel job (see `hfl_ros.training.distributed`). Position in the run is (epoch, batch in
epoch, optimizer step); a checkpoint stores it with the model, optimizer, scheduler, gradient scaler and
random state, so a resumed run continues with exactly the samples, augmentations and updates of an
uninterrupted one.
"""

import json
import logging
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from hfl_ros.config import config_to_dict
from hfl_ros.data.datasets import build_dataset
from hfl_ros.data.sample import batch_to, collate
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import resolve_mano_dir
from hfl_ros.model.checkpoint import model_state_without_mano, read_checkpoint, save_checkpoint
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.training.config import TrainConfig
from hfl_ros.training.distributed import (
    DistributedContext,
    ResumableDistributedSampler,
    average_scalars,
    barrier,
    cleanup_distributed,
    setup_distributed,
)
from hfl_ros.training.losses import LOSS_TERMS, TOTAL, hflnet_losses

LOG = logging.getLogger(__name__)

LAST_CHECKPOINT = "checkpoint_last.pt"
STEP_LOG = "train_log.jsonl"
TENSORBOARD_DIR = "tensorboard"


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the step and the term."""


@dataclass
class TrainResult:
    """What a run did. history: one entry per logged step (means over the logging interval, all processes):
    {"step", "epoch", "lr", <term>: weighted value, ..., "total"}."""

    steps: int
    epochs_completed: int
    history: List[Dict[str, float]] = field(default_factory=list)
    checkpoint: Optional[Path] = None


@dataclass
class _Position:
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam over the trainable parameters, weight decay as configured (L2 added to the gradient, as published)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(parameters, lr=config.optim.lr, weight_decay=config.optim.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.StepLR:
    """x lr_decay_gamma every lr_decay_epochs epochs (stepped once per epoch)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.optim.lr_decay_epochs, gamma=config.optim.lr_decay_gamma)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation is then identical on every process)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _random_state(device: torch.device) -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_random_state(state: Dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _plain(value: Any) -> Any:
    """A config dict with tuples turned into lists (YAML's safe dumper knows no tuples)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _per_process_batch(config: TrainConfig, context: DistributedContext) -> int:
    batch, world = config.optim.batch_size, context.world_size
    if batch % world != 0:
        raise ValueError(f"optim.batch_size {batch} is not divisible by the {world} processes")
    return batch // world


class _LossMeter:
    """Sums of each term over the steps since the last log (terms absent from a step are not counted)."""

    def __init__(self) -> None:
        self.sums: Dict[str, float] = {}
        self.counts: Dict[str, int] = {}

    def add(self, values: Dict[str, float]) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
            self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> Dict[str, float]:
        means = {name: self.sums[name] / self.counts[name] for name in self.sums}
        self.sums, self.counts = {}, {}
        return means


def _step_losses(losses: Dict[str, torch.Tensor], context: DistributedContext) -> Dict[str, float]:
    """Every process's loss terms averaged over the processes that have them (all processes get the same dict)."""
    names = LOSS_TERMS + (TOTAL,)
    values, present = [], []
    for name in names:
        value = losses.get(name)
        present.append(torch.tensor(0.0 if value is None else 1.0))
        values.append(torch.tensor(0.0) if value is None else value.detach().float().cpu())
    sums = average_scalars({f"{n}": v * p for n, v, p in zip(names, values, present)}, context)
    counts = average_scalars({f"{n}": p for n, p in zip(names, present)}, context)
    return {name: sums[name] / counts[name] for name in names if counts[name] > 0}


def check_finite(values: Dict[str, float], step: int, epoch: int) -> None:
    """Raise NonFiniteLossError naming the step and epoch (1-based) and every non-finite term."""
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
        terms = ", ".join(f"{name}={value}" for name, value in bad.items())
        raise NonFiniteLossError(f"non-finite loss at step {step} (epoch {epoch}): {terms}")


class Trainer:
    """Holds one run's model, optimizer, scheduler, data and position; `run()` trains to the end.

    config: the run; train_dataset: a torch Dataset of `Sample`s (default: built from config.data);
    mano_layer: right-hand MANO layer (default: from config.mano_dir); context: distributed context
    (default: from the environment).
    """

    def __init__(
        self,
        config: TrainConfig,
        train_dataset: Optional[Dataset] = None,
        mano_layer: Optional[torch.nn.Module] = None,
        context: Optional[DistributedContext] = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.context = context or setup_distributed(config.device)
        self.device = self.context.device
        self.output_dir = Path(config.output_dir)
        self.amp = bool(config.amp and self.device.type == "cuda")
        if config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        seed_everything(config.seed)
        needs_files = mano_layer is None or train_dataset is None
        mano_dir = resolve_mano_dir(config.mano_dir, self.output_dir) if needs_files else None
        mano = mano_layer if mano_layer is not None else load_mano(mano_dir, side="right")
        self.dataset = train_dataset if train_dataset is not None else build_dataset(
            config.data, config.data.train_split, train=True, mano_layer=mano, seed=config.seed, mano_dir=mano_dir
        )
        self.batch_size = _per_process_batch(config, self.context)
        self.sampler = ResumableDistributedSampler(
            len(self.dataset), self.context.rank, self.context.world_size, seed=config.seed
        )
        self.model = HFLNet(config.model, mano).to(self.device)
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.position = _Position()
        if config.resume:
            self.load(config.resume)
        self.network: torch.nn.Module = self.model
        if self.context.initialised:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            # Batches without a target leave their head without gradient: let DDP find those parameters.
            self.network = DistributedDataParallel(self.model, device_ids=device_ids, find_unused_parameters=True)
        self.history: List[Dict[str, float]] = []
        self.writer = None

    # ----------------------------------------------------------------- checkpoints
    def steps_per_epoch(self) -> int:
        return math.ceil(self.sampler.per_process / self.batch_size)

    def save(self, path: Path) -> Path:
        """Write the full training state (rank 0 only; other processes return the path unchanged)."""
        if self.context.is_main:
            save_checkpoint(
                path,
                self.model,
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                scaler=self.scaler.state_dict(),
                epoch=self.position.epoch,
                batch_in_epoch=self.position.batch_in_epoch,
                step=self.position.step,
                world_size=self.context.world_size,
                train_config=config_to_dict(self.config),
                random_state=_random_state(self.device),
            )
        return path

    def load(self, path: str) -> None:
        """Restore model, optimizer, scheduler, scaler, position and random state from one of our checkpoints."""
        data = read_checkpoint(path)
        missing = [key for key in ("optimizer", "scheduler", "epoch", "step") if key not in data]
        if missing:
            raise ValueError(f"{path}: not a training checkpoint (lacks {missing}); use it as model weights instead")
        expected = model_state_without_mano(self.model)
        unexpected = sorted(set(data["model"]) ^ set(expected))
        if unexpected:
            raise ValueError(f"{path}: model keys differ from the configured model: {unexpected[:5]}")
        self.model.load_state_dict(data["model"], strict=False)
        self.optimizer.load_state_dict(data["optimizer"])
        self.scheduler.load_state_dict(data["scheduler"])
        if "scaler" in data:
            self.scaler.load_state_dict(data["scaler"])
        batch_in_epoch = int(data.get("batch_in_epoch", 0))
        if batch_in_epoch and int(data.get("world_size", 1)) != self.context.world_size:
            raise ValueError(
                f"{path}: saved mid-epoch with {data.get('world_size')} processes; resume with the same number "
                f"(now {self.context.world_size}) or from an epoch-end checkpoint"
            )
        self.position = _Position(int(data["epoch"]), batch_in_epoch, int(data["step"]))
        if "random_state" in data:
            _restore_random_state(data["random_state"], self.device)
        LOG.info("resumed from %s at epoch %d, batch %d, step %d", path, *vars(self.position).values())

    # ----------------------------------------------------------------- one step
    def train_step(self, batch: Dict[str, Any]) -> Dict[str, float]:
        """Forward, losses, backward and update on one collated batch; returns the process-averaged terms."""
        batch = batch_to(batch, self.device)
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
        with autocast:
            output = self.network(batch["image"], batch["hand_box"], batch["object_box"])
        losses = hflnet_losses(output, batch, self.config.loss_weights)
        values = _step_losses(losses, self.context)
        check_finite(values, self.position.step + 1, self.position.epoch + 1)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses[TOTAL]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return values

    # ----------------------------------------------------------------- the run
    def _loader(self) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.config.data.workers,
            collate_fn=collate,
            pin_memory=self.device.type == "cuda",
            drop_last=False,
        )

    def _log(self, meter: _LossMeter) -> None:
        entry = {"step": self.position.step, "epoch": self.position.epoch, "lr": self.optimizer.param_groups[0]["lr"]}
        entry.update(meter.means())
        self.history.append(entry)
        if not self.context.is_main:
            return
        for name, value in entry.items():
            if name not in ("step", "epoch"):
                self.writer.add_scalar(f"loss/{name}" if name != "lr" else "lr", value, self.position.step)
        with (self.output_dir / STEP_LOG).open("a") as stream:
            stream.write(json.dumps(entry) + "\n")

    def _finished(self) -> bool:
        max_steps = self.config.max_steps
        return self.position.epoch >= self.config.optim.epochs or (max_steps is not None and self.position.step >= max_steps)

    def run(self) -> TrainResult:
        """Train until config.optim.epochs or config.max_steps; returns the run's summary."""
        self._start_outputs()
        try:
            return self._run()
        finally:
            if self.writer is not None:
                self.writer.close()

    def _start_outputs(self) -> None:
        if self.context.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.output_dir.mkdir(parents=True, exist_ok=True)
            with (self.output_dir / "config.yaml").open("w") as stream:
                yaml.safe_dump(_plain(config_to_dict(self.config)), stream, sort_keys=False)
            self.writer = SummaryWriter(str(self.output_dir / TENSORBOARD_DIR))

    def _run(self) -> TrainResult:
        last = None
        meter = _LossMeter()
        self.network.train()
        while not self._finished():
            epoch = self.position.epoch
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(epoch)
            self.sampler.set_epoch(epoch, skip=min(self.position.batch_in_epoch * self.batch_size, self.sampler.per_process))
            bar = tqdm(
                total=self.steps_per_epoch(), initial=self.position.batch_in_epoch,
                desc=f"epoch {epoch + 1}/{self.config.optim.epochs}", dynamic_ncols=True,
                disable=not (self.config.progress_bar and self.context.is_main),
            )
            for batch in self._loader():
                values = self.train_step(batch)
                self.position.step += 1
                self.position.batch_in_epoch += 1
                meter.add(values)
                bar.update(1)
                bar.set_postfix(loss=f"{values[TOTAL]:.4g}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}")
                if self.position.step % self.config.log_every_steps == 0:
                    self._log(meter)
                every = self.config.checkpoint_every_steps
                if every is not None and self.position.step % every == 0:
                    last = self.save(self.output_dir / LAST_CHECKPOINT)
                if self._finished():
                    break
            bar.close()
            if self.position.batch_in_epoch >= self.steps_per_epoch():
                self.scheduler.step()
                self.position = _Position(epoch + 1, 0, self.position.step)
                if self.config.keep_epoch_checkpoints:
                    self.save(self.output_dir / f"checkpoint_epoch{epoch + 1}.pt")
            last = self.save(self.output_dir / LAST_CHECKPOINT)
            barrier(self.context)
        if meter.sums:
            self._log(meter)
        return TrainResult(
            steps=self.position.step, epochs_completed=self.position.epoch, history=self.history, checkpoint=last,
        )


def train(
    config: TrainConfig,
    train_dataset: Optional[Dataset] = None,
    mano_layer: Optional[torch.nn.Module] = None,
    on_trainer: Optional[Callable[[Trainer], None]] = None,
) -> TrainResult:
    """Run one training job in this process (one of several under torchrun) and leave the process group.

    on_trainer: called with the Trainer before training starts (e.g. to inspect the model in tests).
    """
    context = setup_distributed(config.device)
    try:
        trainer = Trainer(config, train_dataset, mano_layer, context)
        if on_trainer is not None:
            on_trainer(trainer)
        return trainer.run()
    finally:
        cleanup_distributed(context)


__all__ = [
    "LAST_CHECKPOINT",
    "NonFiniteLossError",
    "STEP_LOG",
    "TENSORBOARD_DIR",
    "TrainResult",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "check_finite",
    "seed_everything",
    "train",
]
