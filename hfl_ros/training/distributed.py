"""Distributed-training helpers: process-group setup from torchrun's environment, a resumable sampler,
cross-process averaging.

One plain process (no torchrun) is a world of size 1: nothing is initialised and every helper is a no-op.
Under ``torchrun --nproc_per_node N``, RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT come from
the environment (``env://``); the backend is NCCL on CUDA and Gloo on the CPU.
"""

import logging
import math
import os
from dataclasses import dataclass
from typing import Dict, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from hfl_ros.device import resolve_device

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job. rank / world_size over all processes; local_rank on this machine."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialised: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from error


def setup_distributed(device: str = "auto") -> DistributedContext:
    """Join the torchrun process group when WORLD_SIZE > 1 (env:// init), else describe one process."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid distributed environment: RANK={rank} WORLD_SIZE={world_size}")
    resolved = resolve_device(device, local_rank)
    if world_size == 1:
        return DistributedContext(0, 1, 0, resolved, initialised=False)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
        LOG.info("joined process group: rank %d / %d, backend %s, device %s", rank, world_size, backend, resolved)
    return DistributedContext(rank, world_size, local_rank, resolved, initialised=True)


def cleanup_distributed(context: DistributedContext) -> None:
    """Leave the process group this context joined (no-op for one process)."""
    if context.initialised and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistributedContext) -> None:
    if context.initialised:
        dist.barrier()


def average_scalars(values: Dict[str, torch.Tensor], context: DistributedContext) -> Dict[str, float]:
    """Mean of each scalar over all processes (every process gets the same numbers), as floats.

    values: name -> 0-d tensor (detached). Every process must pass the same names in the same order.
    """
    names = list(values)
    stacked = torch.stack([values[name].detach().float().reshape(()) for name in names])
    if context.initialised:
        stacked = stacked.to(context.device)
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        stacked = stacked / context.world_size
    return dict(zip(names, stacked.cpu().tolist()))


class ResumableDistributedSampler(Sampler):
    """Each process's share of a seeded per-epoch shuffle, able to start part-way through an epoch.

    Epoch e's order is a permutation drawn from a generator seeded with (seed + e), padded by repetition to a
    multiple of world_size and dealt rank, rank + world_size, ... (as `DistributedSampler` does).
    `set_epoch(e, skip)` selects the epoch and skips this process's first `skip` indices, so a run resumed
    after k batches of batch size b continues with exactly the samples an uninterrupted run would see.
    """

    def __init__(self, length: int, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True) -> None:
        if length < 1:
            raise ValueError(f"the dataset is empty (length {length})")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank {rank} for world_size {world_size}")
        self.length = int(length)
        self.rank = rank
        self.world_size = world_size
        self.seed = int(seed)
        self.shuffle = shuffle
        self.epoch = 0
        self.skip = 0
        self.per_process = math.ceil(self.length / self.world_size)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        if skip < 0 or skip > self.per_process:
            raise ValueError(f"skip must be in [0, {self.per_process}], got {skip}")
        self.epoch = int(epoch)
        self.skip = int(skip)

    def indices(self) -> list:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        total = self.per_process * self.world_size
        order = (order * math.ceil(total / self.length))[:total]
        return order[self.rank:total:self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices()[self.skip:])

    def __len__(self) -> int:
        return self.per_process - self.skip


__all__ = [
    "DistributedContext",
    "ResumableDistributedSampler",
    "average_scalars",
    "barrier",
    "cleanup_distributed",
    "setup_distributed",
]
