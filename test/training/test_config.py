"""Training configurations: the shipped YAML files hold the paper's settings; errors name the bad key."""

from pathlib import Path

import pytest

from hfl_ros.training.config import OptimConfig, TrainConfig, load_train_config
from hfl_ros.training.losses import LossWeights

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("name, epochs, decay_every, augment", [
    ("train_ho3d.yaml", 70, 10, "ho3d"),
    ("train_dexycb.yaml", 40, 5, "dexycb"),
])
def test_paper_configs(name, epochs, decay_every, augment) -> None:
    config = load_train_config(CONFIG_DIR / name)
    assert (config.optim.lr, config.optim.weight_decay, config.optim.batch_size) == (1e-4, 5e-4, 64)
    assert (config.optim.epochs, config.optim.lr_decay_epochs, config.optim.lr_decay_gamma) == (epochs, decay_every, 0.7)
    assert config.loss_weights == LossWeights(100.0, 1e4, 1e4, 10.0, 0.1, 500.0, 100.0)
    assert config.data.augment == augment and config.amp
    assert config.model.backbone == "harmonious" and config.model.attention_heads == 4


def test_smoke_config_is_synthetic_and_procedural() -> None:
    config = load_train_config(CONFIG_DIR / "train_synthetic_smoke.yaml")
    assert config.data.dataset == "synthetic" and config.mano_dir == "procedural"


def test_errors_name_the_bad_value(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_train_config(path)
    with pytest.raises(ValueError, match="batch_size"):
        OptimConfig(batch_size=0)
    with pytest.raises(ValueError, match="'tpu'"):
        TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(max_steps=0)
