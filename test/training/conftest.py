"""Shared fixtures of the training tests: a few rendered synthetic samples and small run configurations."""

import dataclasses
from pathlib import Path

import pytest

from hfl_ros.training.config import TrainConfig, load_train_config

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = REPO_ROOT / "config" / "train_synthetic_smoke.yaml"


@pytest.fixture(scope="session")
def synthetic_samples():
    """Six rendered synthetic Samples (every target present), rendered once."""
    from hfl_ros.data.synthetic import SyntheticDataset

    return [sample for sample in SyntheticDataset(6, seed=11)]


@pytest.fixture
def make_config(tmp_path):
    """Factory: the smoke configuration (its model section is the CI-sized network) on the CPU, without
    progress bar, writing under tmp_path / name; keyword arguments override top-level TrainConfig fields
    and `optim=dict(...)` overrides optimiser fields."""

    def make(name: str = "run", optim=None, **fields) -> TrainConfig:
        config = load_train_config(SMOKE_CONFIG)
        values = dict(output_dir=str(tmp_path / name), device="cpu", progress_bar=False, log_every_steps=1,
                      checkpoint_every_steps=None)
        values.update(fields)
        if optim:
            values["optim"] = dataclasses.replace(config.optim, **optim)
        return dataclasses.replace(config, **values)

    return make
