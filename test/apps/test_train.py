"""`hfl-train` argument handling: overrides, flags and exit codes (training itself: test_trainer)."""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hfl_ros.apps import train as cli
from hfl_ros.training.config import load_train_config

SMOKE = str(Path(__file__).resolve().parents[2] / "config" / "train_synthetic_smoke.yaml")


def test_overrides_and_flags_build_the_config() -> None:
    args = cli.parse_args(["--config", SMOKE, "--set", "optim.lr=0.003", "--set", "data.options={n: 5}",
                           "--max-steps", "7", "--device", "cpu", "--output-dir", "/tmp/x"])
    config = cli.build_config(args)
    assert config.optim.lr == 0.003 and config.data.options == {"n": 5}
    assert (config.max_steps, config.device, config.output_dir) == (7, "cpu", "/tmp/x")
    assert config.model == load_train_config(SMOKE).model


def test_bad_overrides_are_named() -> None:
    config = load_train_config(SMOKE)
    with pytest.raises(ValueError, match="'nope'"):
        cli.apply_overrides(config, ["optim.nope=1"])
    with pytest.raises(ValueError, match="key=value"):
        cli.apply_overrides(config, ["optim.lr"])
    with pytest.raises(ValueError, match="batch_size"):
        cli.apply_overrides(config, ["optim.batch_size=0"])


def test_exit_codes_for_bad_input(tmp_path, capsys) -> None:
    assert cli.main(["--config", str(tmp_path / "missing.yaml")]) == cli.EXIT_CONFIG
    assert "config file not found" in capsys.readouterr().err
    assert cli.main(["--config", SMOKE, "--set", "optim.epochs=-1"]) == cli.EXIT_CONFIG
    assert "epochs" in capsys.readouterr().err


def test_an_unknown_backbone_is_named_when_the_network_is_built(tmp_path, capsys) -> None:
    code = cli.main(["--config", SMOKE, "--output-dir", str(tmp_path), "--device", "cpu", "--set", "model.backbone=triple"])
    assert code == cli.EXIT_CONFIG
    assert "unknown backbone 'triple'" in capsys.readouterr().err


def test_device_accepts_cuda_n_like_the_other_tools() -> None:
    config = cli.build_config(cli.parse_args(["--config", SMOKE, "--device", "cuda:1"]))
    assert config.device == "cuda:1"
    assert cli.build_config(cli.parse_args(["--config", SMOKE, "--set", "device=cuda:0"])).device == "cuda:0"


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cpu:0"])
def test_a_bad_device_is_named(name, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["--config", SMOKE, "--device", name])
    assert exit_info.value.code == 2
    assert f"got {name!r}" in capsys.readouterr().err
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got"):
        cli.build_config(cli.parse_args(["--config", SMOKE, "--set", f"device={name}"]))


def test_cuda_n_under_torchrun_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["--config", SMOKE, "--device", "cuda:0"]) == cli.EXIT_CONFIG
    assert "'cuda:0' names one GPU for 2 processes" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_n_without_cuda_is_an_exit_code_not_a_traceback(capsys) -> None:
    assert cli.main(["--config", SMOKE, "--device", "cuda:1"]) == cli.EXIT_CONFIG
    assert "device 'cuda:1' requested but CUDA is not available" in capsys.readouterr().err


def test_start_says_where_it_writes_and_on_which_device(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="hfl_ros.training")
    # The message comes before the network is built, so a run that then fails still said it.
    cli.main(["--config", SMOKE, "--output-dir", str(tmp_path / "run"), "--device", "cpu", "--max-steps", "3",
              "--set", "model.backbone=triple"])
    starts = [record.getMessage() for record in caplog.records if record.getMessage().startswith("training on")]
    assert starts == [f"training on cpu for {load_train_config(SMOKE).optim.epochs} epochs or 3 steps; writing "
                      f"checkpoints, TensorBoard events and train_log.jsonl to {tmp_path / 'run'}"]


def test_ctrl_c_is_one_line_naming_the_checkpoint_to_resume(tmp_path) -> None:
    """SIGINT to a running hfl-train: exit 130, no traceback, one line; with a checkpoint written, the line
    names it as the --resume argument."""
    output = tmp_path / "run"
    command = [sys.executable, "-m", "hfl_ros.apps.train", "--config", SMOKE, "--output-dir", str(output),
               "--device", "cpu", "--set", "checkpoint_every_steps=1", "--set", "progress_bar=false"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 600
        while not (output / "checkpoint_last.pt").is_file():  # after the first step's checkpoint
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-3000:]
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == cli.EXIT_INTERRUPTED, err[-3000:]
    assert "Traceback" not in err
    own = [line for line in err.splitlines() if line.startswith("hfl-train:")]
    assert own == [f"hfl-train: interrupted; continue with --resume {output / 'checkpoint_last.pt'}"]
