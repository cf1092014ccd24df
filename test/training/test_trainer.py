"""The training loop: exact resume, checkpoints, schedule, logs and the non-finite stop."""

import json

import numpy as np
import pytest
import torch

from hfl_ros.data.sample import Sample
from hfl_ros.model.checkpoint import load_checkpoint, model_state_without_mano, read_checkpoint
from hfl_ros.training.trainer import LAST_CHECKPOINT, STEP_LOG, TENSORBOARD_DIR, NonFiniteLossError, Trainer, train


def _state(trainer: Trainer) -> dict:
    return {k: v.clone() for k, v in model_state_without_mano(trainer.model).items()}


def test_resume_mid_epoch_equals_an_uninterrupted_run(make_config, synthetic_samples, mano_layer) -> None:
    """4 steps straight == 2 steps, checkpoint, new process state, 2 more (crossing an epoch end + lr decay)."""
    data = synthetic_samples[:3]  # batch 1: 3 steps per epoch
    optim = dict(batch_size=1, epochs=5, lr_decay_epochs=1, lr=1e-3)
    straight = Trainer(make_config("straight", optim=optim, max_steps=4), data, mano_layer)
    straight.run()

    first = Trainer(make_config("split", optim=optim, max_steps=2), data, mano_layer)
    first.run()
    checkpoint = first.output_dir / LAST_CHECKPOINT
    assert read_checkpoint(checkpoint)["batch_in_epoch"] == 2
    torch.manual_seed(1234)  # the resumed run must not depend on the process's random state
    resumed = Trainer(make_config("split", optim=optim, max_steps=4, resume=str(checkpoint)), data, mano_layer)
    assert resumed.position.step == 2
    resumed.run()

    assert resumed.position.step == straight.position.step == 4
    assert resumed.position.epoch == straight.position.epoch == 1
    expected, actual = _state(straight), _state(resumed)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.7)


def test_checkpoint_logs_and_schedule(make_config, synthetic_samples, mano_layer) -> None:
    config = make_config(optim=dict(batch_size=2, epochs=2, lr_decay_epochs=1, lr_decay_gamma=0.5, lr=2e-4))
    result = train(config, synthetic_samples[:2], mano_layer)
    assert result.steps == 2 and result.epochs_completed == 2
    assert [entry["lr"] for entry in result.history] == pytest.approx([2e-4, 1e-4])
    assert all(np.isfinite(entry["total"]) for entry in result.history)

    output = result.checkpoint.parent
    assert result.checkpoint == output / LAST_CHECKPOINT
    data = read_checkpoint(result.checkpoint)
    for key in ("model", "optimizer", "scheduler", "scaler", "epoch", "step", "train_config", "config", "random_state"):
        assert key in data, key
    assert (data["epoch"], data["batch_in_epoch"], data["step"]) == (2, 0, 2)
    assert data["train_config"]["optim"]["lr"] == 2e-4
    assert (output / "checkpoint_epoch1.pt").is_file() and (output / "checkpoint_epoch2.pt").is_file()
    assert not any(key.startswith("mano_layer.") for key in data["model"])

    model = load_checkpoint(result.checkpoint, mano_layer)
    assert not model.training and model.config == config.model

    logged = [json.loads(line) for line in (output / STEP_LOG).read_text().splitlines()]
    assert [entry["step"] for entry in logged] == [1, 2] and "total" in logged[0]
    assert list((output / TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    assert (output / "config.yaml").is_file()


def test_non_finite_loss_stops_naming_the_step_and_term(make_config, synthetic_samples, mano_layer) -> None:
    sample = synthetic_samples[0]
    broken = Sample(**{**vars(sample), "vertices_3d": np.full_like(sample.vertices_3d, np.nan)})
    config = make_config(optim=dict(batch_size=2))
    with pytest.raises(NonFiniteLossError, match=r"step 1 \(epoch 1\): vertices_3d=nan") as error:
        train(config, [sample, broken], mano_layer)
    assert "joints_3d" not in str(error.value)


def test_bad_batch_split_and_wrong_checkpoint_are_named(make_config, synthetic_samples, mano_layer, tmp_path) -> None:
    from hfl_ros.training.distributed import DistributedContext

    context = DistributedContext(rank=0, world_size=3, local_rank=0, device=torch.device("cpu"), initialised=False)
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        Trainer(make_config(optim=dict(batch_size=4)), synthetic_samples, mano_layer, context)
    with pytest.raises(FileNotFoundError):
        Trainer(make_config(resume=str(tmp_path / "missing.pt")), synthetic_samples, mano_layer)
