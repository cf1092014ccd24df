"""hfl-demo on the bundled scene: the files it writes and what they say."""

import json

import cv2
import pytest

from hfl_ros.apps.demo import BUNDLED_SCENE, main


def test_demo_writes_result_and_overlay(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--device", "cpu"]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["untrained"] is True and "UNTRAINED" in result["warning"]
    assert result["scene"] == str(BUNDLED_SCENE)
    assert len(result["estimate"]["hand"]["joints"]) == 21
    assert result["errors_against_ground_truth"]["hand_pa_mpjpe_mm"] > 0
    overlay = cv2.imread(str(tmp_path / "overlay.png"))
    assert overlay is not None and overlay.shape == (480, 640, 3)
    assert "UNTRAINED" in capsys.readouterr().err


def test_missing_scene_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="annotation.json"):
        main(["--output", str(tmp_path), "--scene", str(tmp_path / "nowhere")])
