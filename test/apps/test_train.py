"""`hfl-train` argument handling: overrides, flags and exit codes (training itself: test_trainer)."""

from pathlib import Path

import pytest

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
