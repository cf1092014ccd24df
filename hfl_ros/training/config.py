"""Training configuration: dataclasses filled from YAML by `hfl_ros.config.load_config`.

A YAML file has the sections ``model`` (`hfl_ros.config.ModelConfig`), ``data`` (`hfl_ros.data.datasets.DataConfig`), ``optim``
(`OptimConfig`), ``loss_weights`` (`LossWeights`) and the top-level fields of `TrainConfig`; unknown keys
are errors that name the key. ``config/train_ho3d.yaml`` and ``config/train_dexycb.yaml`` are the paper's
settings.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from hfl_ros.config import ModelConfig, load_config
from hfl_ros.data.datasets import DataConfig
from hfl_ros.device import check_device_name
from hfl_ros.training.losses import LossWeights



@dataclass
class OptimConfig:
    """Adam with weight decay and a step learning-rate decay (the paper's values by default: HO3D).

    batch_size: the GLOBAL batch; each of N distributed processes takes batch_size / N samples.
    lr_decay_epochs: multiply the learning rate by lr_decay_gamma every this many epochs.
    """

    lr: float = 1.0e-4
    weight_decay: float = 5.0e-4
    epochs: int = 70
    batch_size: int = 64
    lr_decay_epochs: int = 10
    lr_decay_gamma: float = 0.7

    def __post_init__(self) -> None:
        for name in ("lr", "lr_decay_gamma"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"optim.{name} must be a positive number, got {value!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"optim.weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in ("epochs", "batch_size", "lr_decay_epochs"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"optim.{name} must be an integer >= 1, got {value!r}")


@dataclass
class TrainConfig:
    """One training run.

    mano_dir: folder (or file) of the user's MANO_RIGHT.pkl; "procedural" = a procedural MANO-format
      hand written under output_dir (synthetic data and tests only).
    output_dir: checkpoints (``checkpoint_last.pt``, ``checkpoint_epoch<N>.pt``), TensorBoard events
      (``tensorboard/``), the step log ``train_log.jsonl`` and the resolved ``config.yaml``.
    device: "auto" (CUDA when available), "cpu", "cuda" (a distributed process uses its LOCAL_RANK GPU) or
      "cuda:N" (that GPU; one process only).
    amp: mixed precision (float16 autocast + gradient scaling) on CUDA; ignored on the CPU.
    max_steps: stop after this many optimizer steps in total (None = run all epochs).
    checkpoint_every_steps: also write ``checkpoint_last.pt`` every this many steps (None = at epoch ends only).
    keep_epoch_checkpoints: keep ``checkpoint_epoch<N>.pt`` at each epoch end besides the last one.
    log_every_steps: TensorBoard / step-log interval.
    resume: checkpoint to continue from (model, optimizer, scheduler, position and random state).
    progress_bar: show a tqdm bar on rank 0.
    deterministic: ask PyTorch for deterministic algorithms (slower on CUDA).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    mano_dir: str = "procedural"
    output_dir: str = "runs/hflnet"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    max_steps: Optional[int] = None
    checkpoint_every_steps: Optional[int] = None
    keep_epoch_checkpoints: bool = True
    log_every_steps: int = 20
    resume: Optional[str] = None
    progress_bar: bool = True
    deterministic: bool = False

    def __post_init__(self) -> None:
        check_device_name(self.device)
        for name in ("max_steps", "checkpoint_every_steps"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1 or null, got {value!r}")
        if not (isinstance(self.log_every_steps, int) and self.log_every_steps >= 1):
            raise ValueError(f"log_every_steps must be an integer >= 1, got {self.log_every_steps!r}")


def load_train_config(path: Union[str, Path]) -> TrainConfig:
    """Read a training YAML file (see the module docstring) into a TrainConfig."""
    return load_config(path, TrainConfig)


__all__ = ["OptimConfig", "TrainConfig", "load_train_config"]
