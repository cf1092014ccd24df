"""`hfl-train` then `hfl-eval` end to end on synthetic frames, and hfl-eval's error handling."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hfl_ros.apps import evaluate as eval_cli
from hfl_ros.apps import train as train_cli
from hfl_ros.data.datasets import build_dataset
from hfl_ros.evaluation.metrics import mpjpe, pa_mpjpe
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import resolve_mano_dir
from hfl_ros.model.checkpoint import load_checkpoint
from hfl_ros.training.config import load_train_config

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


def _recomputed(config_path: Path, checkpoint: Path):
    """The checkpoint run here, frame by frame, on the evaluation split: (PA-MPJPE mm, MPJPE mm, object frames)."""
    config = load_train_config(config_path)
    mano_dir = resolve_mano_dir(config.mano_dir, config.output_dir)
    mano = load_mano(mano_dir, side="right")
    model = load_checkpoint(checkpoint, mano)
    dataset = build_dataset(config.data, config.data.eval_split, train=False, mano_layer=mano, mano_dir=mano_dir,
                            seed=config.seed)
    pa, plain, objects = [], [], Counter()
    for sample in dataset:
        with torch.no_grad():
            inputs = (sample.image, sample.hand_box, sample.object_box)
            output = model(*(torch.from_numpy(value)[None] for value in inputs))
        joints = output.joints[0].numpy().astype(np.float64)
        pa.append(pa_mpjpe(joints, sample.joints_3d))
        plain.append(mpjpe(joints, sample.joints_3d))
        if sample.object_valid:
            objects[sample.object_name] += 1
    return 1000 * float(np.mean(pa)), 1000 * float(np.mean(plain)), dict(objects)


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
    pa_mm, plain_mm, object_frames = _recomputed(config, checkpoint)
    assert written["joints"]["frames"] == 2 and written["mesh"]["frames"] == 2
    assert written["joints"]["pa_mpjpe_mm"] == pytest.approx(pa_mm, rel=1e-4)
    assert written["joints"]["mpjpe_mm"] == pytest.approx(plain_mm, rel=1e-4)
    assert sum(object_frames.values()) == 2 and written["object"]["frames"] == object_frames


def test_eval_errors_are_reported(tmp_path, capsys) -> None:
    config = _config(tmp_path)
    code = eval_cli.main(["--config", str(config), "--checkpoint", str(tmp_path / "missing.pt"), "--device", "cpu"])
    assert code == eval_cli.EXIT_ERROR
    assert "checkpoint not found" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert eval_cli.main(["--config", str(config), "--checkpoint", str(tmp_path / "junk.pt"), "--device", "cpu"]) == eval_cli.EXIT_ERROR
    assert "junk.pt" in capsys.readouterr().err
