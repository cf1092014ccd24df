"""`hfl-train` then `hfl-eval` end to end on synthetic frames, and hfl-eval's error handling."""

import json
from pathlib import Path

import yaml

from hfl_ros.apps import evaluate as eval_cli
from hfl_ros.apps import train as train_cli

SMOKE = Path(__file__).resolve().parents[2] / "config" / "train_synthetic_smoke.yaml"


def _config(tmp_path: Path) -> Path:
    data = yaml.safe_load(SMOKE.read_text())
    data["output_dir"] = str(tmp_path / "run")
    data["device"] = "cpu"
    data["progress_bar"] = False
    data["data"].update(options={"n": 2}, eval_options={"n": 2})
    data["optim"].update(batch_size=2, epochs=1)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_then_evaluate_from_the_command_line(tmp_path, capsys) -> None:
    config = _config(tmp_path)
    assert train_cli.main(["--config", str(config)]) == 0
    checkpoint = tmp_path / "run" / "checkpoint_last.pt"
    assert checkpoint.is_file()
    capsys.readouterr()

    assert eval_cli.main(["--config", str(config), "--checkpoint", str(checkpoint), "--device", "cpu", "--batch-size", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((tmp_path / "run" / "eval_test" / eval_cli.METRICS_FILE).read_text())
    assert printed == written
    assert written["dataset"] == "synthetic" and written["split"] == "test" and written["frames"] == 2
    assert written["joints"]["frames"] == 2 and written["joints"]["pa_mpjpe_mm"] > 0
    assert written["mesh"]["frames"] == 2 and set(written["object"]["frames"].values()) <= {1, 2}


def test_eval_errors_are_reported(tmp_path, capsys) -> None:
    config = _config(tmp_path)
    code = eval_cli.main(["--config", str(config), "--checkpoint", str(tmp_path / "missing.pt"), "--device", "cpu"])
    assert code == eval_cli.EXIT_ERROR
    assert "checkpoint not found" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert eval_cli.main(["--config", str(config), "--checkpoint", str(tmp_path / "junk.pt"), "--device", "cpu"]) == eval_cli.EXIT_ERROR
    assert "junk.pt" in capsys.readouterr().err
