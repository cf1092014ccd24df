"""Distributed helpers: the resumable sampler, and cross-process averaging in a real 2-process Gloo group."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hfl_ros.training.distributed import (
    DistributedContext,
    ResumableDistributedSampler,
    average_scalars,
    cleanup_distributed,
    setup_distributed,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_ranks_partition_each_epoch_and_epochs_differ() -> None:
    samplers = [ResumableDistributedSampler(10, rank, 3, seed=5) for rank in range(3)]
    for sampler in samplers:
        sampler.set_epoch(2)
    shares = [list(sampler) for sampler in samplers]
    assert all(len(share) == 4 for share in shares)  # ceil(10 / 3), padded by repetition
    assert set(sum(shares, [])) == set(range(10))
    again = ResumableDistributedSampler(10, 1, 3, seed=5)
    again.set_epoch(2)
    assert list(again) == shares[1]
    again.set_epoch(3)
    assert list(again) != shares[1]


def test_skip_resumes_inside_an_epoch() -> None:
    sampler = ResumableDistributedSampler(9, 0, 1, seed=1)
    sampler.set_epoch(4)
    full = list(sampler)
    sampler.set_epoch(4, skip=5)
    assert list(sampler) == full[5:] and len(sampler) == 4
    with pytest.raises(ValueError, match="skip"):
        sampler.set_epoch(4, skip=10)


def test_single_process_context_and_helpers(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    context = setup_distributed("cpu")
    assert context == DistributedContext(0, 1, 0, torch.device("cpu"), False) and context.is_main
    assert average_scalars({"a": torch.tensor(2.5)}, context) == {"a": 2.5}
    cleanup_distributed(context)
    with pytest.raises(ValueError, match="tpu"):
        setup_distributed("tpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ValueError, match="RANK=5"):
        setup_distributed("cpu")


WORKER = """
import json, sys
import torch
from hfl_ros.training.distributed import average_scalars, barrier, cleanup_distributed, setup_distributed

context = setup_distributed("cpu")
try:
    averaged = average_scalars({"loss": torch.tensor(float(context.rank + 1)), "other": torch.tensor(10.0 * context.rank)}, context)
    barrier(context)
    result = {"rank": context.rank, "world": context.world_size, "averaged": averaged}
    with open(sys.argv[1] + f"/rank{context.rank}.json", "w") as stream:
        json.dump(result, stream)
finally:
    cleanup_distributed(context)
"""


def test_two_gloo_processes_under_torchrun_average(tmp_path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
               str(script), str(tmp_path)]
    completed = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"},
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    for rank in range(2):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result["rank"] == rank and result["world"] == 2
        assert result["averaged"] == {"loss": 1.5, "other": 5.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TRAIN_WORKER = """
import json, sys
import torch
from hfl_ros.data.synthetic import SyntheticDataset
from hfl_ros.config import apply_overrides
from hfl_ros.training.config import load_train_config
from hfl_ros.training.trainer import train

config_path, output = sys.argv[1], sys.argv[2]
config = apply_overrides(load_train_config(config_path), [], {
    "output_dir": output, "device": "cpu", "progress_bar": False, "max_steps": 2, "log_every_steps": 1,
    "optim.batch_size": 2, "optim.lr": 1e-3})
captured = {}
result = train(config, [sample for sample in SyntheticDataset(4, seed=3)], on_trainer=lambda t: captured.update(trainer=t))
trainer = captured["trainer"]
checksum = sum(float(p.double().sum()) for p in trainer.model.parameters())
with open(f"{output}/rank{trainer.context.rank}.json", "w") as stream:
    json.dump({"checksum": checksum, "history": result.history, "steps": result.steps,
               "wrapped": type(trainer.network).__name__, "batch": trainer.batch_size}, stream)
"""


def test_distributed_data_parallel_training_under_torchrun(tmp_path) -> None:
    """Two Gloo processes, one sample each per step: DDP keeps their parameters identical and their logged
    losses are the same cross-process means."""
    script = tmp_path / "train_worker.py"
    script.write_text(TRAIN_WORKER)
    config = REPO_ROOT / "config" / "train_synthetic_smoke.yaml"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
               str(script), str(config), str(tmp_path)]
    completed = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"},
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert all(r["wrapped"] == "DistributedDataParallel" and r["batch"] == 1 and r["steps"] == 2 for r in ranks)
    assert ranks[0]["checksum"] == ranks[1]["checksum"]
    assert ranks[0]["history"] == ranks[1]["history"]
    assert (tmp_path / "checkpoint_last.pt").is_file()
