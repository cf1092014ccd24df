"""hfl-demo on the bundled scene: the files it writes and what they say."""

import json

import cv2
import numpy as np
import pytest

from hfl_ros.apps.demo import BUNDLED_SCENE, main, scene_boxes
from hfl_ros.data.synthetic import read_scene, read_scene_object
from hfl_ros.evaluation.metrics import pa_mpjpe
from hfl_ros.inference.estimator import HandObjectEstimator


def test_demo_writes_result_and_overlay(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--device", "cpu"]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["untrained"] is True and "UNTRAINED" in result["warning"]
    assert result["scene"] == str(BUNDLED_SCENE)
    written_joints = np.asarray(result["estimate"]["hand"]["joints"])
    assert written_joints.shape == (21, 3)
    # The written estimate is the estimator's on the scene, and its error is that estimate's.
    image, annotation, _ = read_scene(BUNDLED_SCENE)
    estimator = HandObjectEstimator.from_files(None, tmp_path / "procedural_mano", device="cpu")
    boxes = scene_boxes(annotation)
    direct = estimator.estimate(image, annotation.K, boxes["hand"], boxes["object"], read_scene_object(BUNDLED_SCENE))
    np.testing.assert_allclose(written_joints, direct.hand.joints, rtol=0, atol=1e-6)
    error_mm = 1000 * float(pa_mpjpe(written_joints, annotation.joints_3d))
    assert result["errors_against_ground_truth"]["hand_pa_mpjpe_mm"] == pytest.approx(error_mm, rel=1e-6)
    overlay = cv2.imread(str(tmp_path / "overlay.png"))
    assert overlay is not None and overlay.shape == (480, 640, 3)
    assert "UNTRAINED" in capsys.readouterr().err


def test_missing_scene_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="annotation.json"):
        main(["--output", str(tmp_path), "--scene", str(tmp_path / "nowhere")])
