"""hfl-demo on the bundled scene: the files it writes and what they say."""

import json

import cv2
import numpy as np
import pytest

from hfl_ros.apps.demo import BUNDLED_SCENE, EXIT_INPUT, main, parse_args, scene_boxes
from hfl_ros.apps.options import inference_config
from hfl_ros.data.synthetic import read_scene, read_scene_object
from hfl_ros.evaluation.metrics import pa_mpjpe
from hfl_ros.inference.estimator import HandObjectEstimator

#: result.json writes metres with 6 decimals (hfl_ros.results): a written coordinate is within this of the value.
WRITTEN_HALF_STEP_M = 0.5e-6
#: m, central-difference step for the sensitivity of PA-MPJPE to the joints (far above float64 rounding,
#: far below the joints' spread, so the difference quotient is the derivative to many digits).
SENSITIVITY_STEP_M = 1e-5


def rounding_bound_mm(joints: np.ndarray, truth: np.ndarray) -> float:
    """How far PA-MPJPE (mm) can move when every coordinate of `joints` (21, 3) m moves by at most
    WRITTEN_HALF_STEP_M: to first order, that step times the l1 norm of PA-MPJPE's gradient in the joints
    (central differences, one batched call). Second-order terms are ~1e-6 of this."""
    steps = np.eye(joints.size).reshape(-1, *joints.shape) * SENSITIVITY_STEP_M
    moved = np.concatenate([joints + steps, joints - steps])
    values = np.asarray(pa_mpjpe(moved, np.repeat(truth[None], len(moved), axis=0)))
    gradient = (values[: joints.size] - values[joints.size:]) / (2 * SENSITIVITY_STEP_M)
    return 1000 * WRITTEN_HALF_STEP_M * float(np.abs(gradient).sum())


def test_demo_writes_result_and_overlay(tmp_path, capsys):
    arguments = ["--output", str(tmp_path), "--device", "cpu"]
    assert main(arguments) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["untrained"] is True and "UNTRAINED" in result["warning"]
    assert result["scene"] == str(BUNDLED_SCENE)
    written_joints = np.asarray(result["estimate"]["hand"]["joints"])
    assert written_joints.shape == (21, 3)
    # The written estimate is the estimator's on the scene, and its error is that estimate's.
    image, annotation, _ = read_scene(BUNDLED_SCENE)
    # the same inference path as the demo's (its default runtime may be ONNX Runtime: within 1e-5 of torch)
    estimator = HandObjectEstimator.from_files(None, tmp_path / "procedural_mano", device="cpu",
                                               inference=inference_config(parse_args(arguments)))
    boxes = scene_boxes(annotation)
    direct = estimator.estimate(image, annotation.K, boxes["hand"], boxes["object"], read_scene_object(BUNDLED_SCENE))
    # the written joints' rounding, plus as much again for the float order of the recomputed float32 network
    np.testing.assert_allclose(written_joints, direct.hand.joints, rtol=0, atol=2 * WRITTEN_HALF_STEP_M)
    # The demo's error is from its unrounded joints; recomputed from the written ones it may differ by what
    # their rounding can move it (bound 4.6e-4 mm here; 0.5e-4 to 1e-4 mm seen), far below what a wrong
    # metric (MPJPE instead, metres for mm) would change.
    error_mm = 1000 * float(pa_mpjpe(written_joints, annotation.joints_3d))
    assert abs(result["errors_against_ground_truth"]["hand_pa_mpjpe_mm"] - error_mm) <= \
        rounding_bound_mm(written_joints, annotation.joints_3d)
    overlay = cv2.imread(str(tmp_path / "overlay.png"))
    assert overlay is not None and overlay.shape == (480, 640, 3)
    assert "UNTRAINED weights: hand PA-MPJPE" in capsys.readouterr().out


@pytest.mark.parametrize("option, missing", [("--scene", "annotation.json"), ("--checkpoint", "checkpoint not found"),
                                             ("--mano-dir", "MANO model path does not exist")])
def test_a_missing_input_is_one_line_naming_it(tmp_path, capsys, option, missing):
    code = main(["--output", str(tmp_path / "out"), "--device", "cpu", option, str(tmp_path / "nowhere")])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("hfl-demo: ") and missing in err and str(tmp_path / "nowhere") in err
    assert len(err.strip().splitlines()) == 1
