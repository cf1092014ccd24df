"""HO3D evaluation: joint order, OpenGL frame, submission files, metrics, and a round trip from a miniature
HO3D dataset on disk through the real reader, the network and the evaluation to pred.zip."""

import json
import pickle
import zipfile

import cv2
import numpy as np
import pytest
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.constants import JOINT_NAMES, MANO_TO_OUTPUT_JOINTS
from hfl_ros.data.ho3d import OPENGL_TO_OPENCV, HO3DReader
from hfl_ros.data.transforms import AnnotationDataset
from hfl_ros.evaluation import ho3d
from hfl_ros.evaluation.evaluate import Predictions, model_points_from_library, predict
from hfl_ros.model.hflnet import HFLNet

#: HO3D's joint names in its own order (the MANO kinematic order, then the five tips).
HO3D_NAMES = (
    "wrist", "index1", "index2", "index3", "middle1", "middle2", "middle3", "little1", "little2", "little3",
    "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3", "thumb4", "index4", "middle4", "ring4", "little4",
)


def make_predictions(n: int, seed: int = 0, **fields) -> Predictions:
    """Predictions of n frames whose ground truth equals the prediction unless `fields` say otherwise."""
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.03, (n, 21, 3)).astype(np.float32)
    joints[:, 0] = 0
    vertices = rng.normal(0, 0.04, (n, 778, 3)).astype(np.float32)
    values = dict(
        frame_ids=[f"f{i}" for i in range(n)], object_names=["box"] * n, mirrored=np.zeros(n, bool),
        joints=joints, vertices=vertices, root=np.tile(np.float32([0.05, -0.02, 0.6]), (n, 1)), root_valid=np.ones(n, bool),
        gt_joints=joints.copy(), joints_valid=np.ones(n, bool), gt_vertices=vertices.copy(), vertices_valid=np.ones(n, bool),
        object_found=np.ones(n, bool), object_rotation=np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)),
        object_translation=np.tile(np.float32([0.0, 0.0, 0.5]), (n, 1)),
        gt_object_rotation=np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)),
        gt_object_translation=np.tile(np.float32([0.0, 0.0, 0.5]), (n, 1)),
        object_valid=np.ones(n, bool), object_diameter=np.full(n, 0.2, np.float32),
    )
    values.update(fields)
    return Predictions(**values)


def test_ho3d_joint_order_is_the_mano_order() -> None:
    ours = np.arange(21 * 3, dtype=float).reshape(21, 3)
    theirs = ho3d.to_ho3d_joint_order(ours)
    for index, name in enumerate(HO3D_NAMES):
        np.testing.assert_array_equal(theirs[index], ours[JOINT_NAMES.index(name)])
    np.testing.assert_array_equal(ho3d.from_ho3d_joint_order(theirs), ours)
    # The readers' MANO -> ours table is the inverse permutation.
    np.testing.assert_array_equal(theirs[list(MANO_TO_OUTPUT_JOINTS)], ours)
    with pytest.raises(ValueError, match=r"\(20, 3\)"):
        ho3d.to_ho3d_joint_order(np.zeros((20, 3)))


def test_opengl_frame_negates_y_and_z() -> None:
    np.testing.assert_array_equal(ho3d.opencv_to_opengl(np.array([[0.1, 0.2, 0.5]])), [[0.1, -0.2, -0.5]])
    np.testing.assert_array_equal(ho3d.OPENCV_TO_OPENGL, OPENGL_TO_OPENCV)


def test_submission_places_the_hand_at_the_true_wrist_in_opengl_metres(tmp_path) -> None:
    predictions = make_predictions(3)
    joints, vertices = ho3d.submission_arrays(predictions)
    assert joints.shape == (3, 21, 3) and vertices.shape == (3, 778, 3)
    np.testing.assert_allclose(joints[:, 0], [[0.05, 0.02, -0.6]] * 3, atol=1e-7)  # wrist = root, OpenGL, metres
    thumb_tip = HO3D_NAMES.index("thumb4")
    expected = (predictions.joints[:, JOINT_NAMES.index("thumb4")] + predictions.root) * [1, -1, -1]
    np.testing.assert_allclose(joints[:, thumb_tip], expected, atol=1e-7)

    json_path, zip_path = ho3d.write_submission(tmp_path, joints, vertices)
    data = json.loads(json_path.read_text())
    assert len(data) == 2 and len(data[0]) == len(data[1]) == 3
    assert np.asarray(data[0]).shape == (3, 21, 3) and np.asarray(data[1]).shape == (3, 778, 3)
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["pred.json"]
    for path in (json_path, zip_path):
        read_joints, read_vertices = ho3d.read_submission(path)
        np.testing.assert_allclose(read_joints, joints)
        np.testing.assert_allclose(read_vertices, vertices)


def test_submission_rejects_wrong_frames_and_missing_roots(tmp_path) -> None:
    joints, vertices = ho3d.submission_arrays(make_predictions(2))
    with pytest.raises(ValueError, match="z >= 0"):
        ho3d.write_submission(tmp_path, joints * [1, 1, -1], vertices * [1, 1, -1])
    with pytest.raises(ValueError, match="vertices must have shape"):
        ho3d.write_submission(tmp_path, joints, vertices[:, :700])
    with pytest.raises(ValueError, match="f1"):
        ho3d.submission_arrays(make_predictions(2, root_valid=np.array([True, False])))


def _similarity(points: np.ndarray, scale: float, angle: float, shift) -> np.ndarray:
    rotation = cv2.Rodrigues(np.array([0.0, angle, 0.0]))[0]
    return scale * points @ rotation.T + np.asarray(shift)


def test_joint_and_mesh_metrics_known_answers() -> None:
    predictions = make_predictions(4)
    gt_joints = predictions.gt_joints.astype(np.float64) + predictions.root[:, None]
    perfect = ho3d.joint_metrics(gt_joints, gt_joints)
    assert perfect["mpjpe_mm"] == 0 and perfect["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-6)
    assert perfect["auc_joints"] == pytest.approx(1.0) and perfect["sc_tr_mpjpe_mm"] == pytest.approx(0, abs=1e-9)

    shifted = ho3d.joint_metrics(gt_joints + [0.0, 0.0, 0.01], gt_joints)
    assert shifted["mpjpe_mm"] == pytest.approx(10.0) and shifted["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-6)
    assert shifted["sc_tr_mpjpe_mm"] == pytest.approx(0, abs=1e-9)

    moved = np.stack([_similarity(j, 1.3, 0.4, [0.01, 0.02, 0.03]) for j in gt_joints])
    result = ho3d.joint_metrics(moved, gt_joints)
    assert result["mpjpe_mm"] > 10 and result["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-6)

    vertices = predictions.gt_vertices.astype(np.float64)
    mesh = ho3d.mesh_metrics(vertices + 0.004, vertices)  # 6.9 mm off: beyond 5 mm, within 15 mm
    assert mesh["mpvpe_mm"] == pytest.approx(1000 * 0.004 * np.sqrt(3), rel=1e-6)
    assert mesh["pa_mpvpe_mm"] == pytest.approx(0, abs=1e-6) and mesh["pa_f_score_5mm"] == pytest.approx(1.0)
    assert mesh["f_score_15mm"] == pytest.approx(1.0) and mesh["f_score_5mm"] < 1.0


def test_evaluate_predictions_uses_metres_and_the_true_wrist() -> None:
    joints = make_predictions(2).joints
    gt = joints.copy()
    gt[:, 1:] += np.float32([0.0, 0.005, 0.0])  # every non-wrist joint 5 mm off
    predictions = make_predictions(2, gt_joints=gt, object_translation=np.float32([[0, 0, 0.5], [0.0, 0.03, 0.5]]))
    box = np.array([[x, y, z] for x in (-0.1, 0.1) for y in (-0.1, 0.1) for z in (-0.1, 0.1)])
    report = ho3d.evaluate_predictions(predictions, {"box": box})
    assert report["joints"]["mpjpe_mm"] == pytest.approx(5.0 * 20 / 21, rel=1e-5)
    assert report["mesh"]["mpvpe_mm"] == pytest.approx(0, abs=1e-6)
    # Frame 1's object is 30 mm off: more than 0.1 x 0.2 m.
    assert report["object"]["per_object"] == {"box": 0.5} and report["object"]["average"] == 0.5


# ---------------------------------------------------------------- miniature HO3D round trip
K = np.array([[614.0, 0.0, 320.0], [0.0, 614.0, 240.0], [0.0, 0.0, 1.0]])
OBJECT = "006_mustard_bottle"
ROOTS_GL = np.array([[0.02, -0.03, -0.52], [-0.04, 0.01, -0.6]])  # wrists as HO3D stores them: OpenGL, metres


def _write_ho3d_evaluation_split(root) -> None:
    """An HO3D evaluation split of two frames: rgb png, meta pickle (camMat, wrist, hand box, object pose)."""
    pairs = [("EVA", "0000"), ("EVA", "0001")]
    root.mkdir(parents=True, exist_ok=True)
    (root / "evaluation.txt").write_text("".join(f"{s}/{i}\n" for s, i in pairs))
    points = np.random.default_rng(2).uniform(-0.03, 0.03, size=(300, 3)) * (1.0, 1.5, 3.0)
    (root / "models" / OBJECT).mkdir(parents=True)
    np.savetxt(root / "models" / OBJECT / "points.xyz", points)
    for index, (sequence, frame) in enumerate(pairs):
        folder = root / "evaluation" / sequence
        (folder / "rgb").mkdir(parents=True, exist_ok=True)
        (folder / "meta").mkdir(parents=True, exist_ok=True)
        image = np.random.default_rng(index).integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / "rgb" / f"{frame}.png"), image)
        wrist_cv = OPENGL_TO_OPENCV @ ROOTS_GL[index]
        centre = K @ wrist_cv / wrist_cv[2]
        meta = {
            "camMat": K.astype(np.float32),
            "handJoints3D": ROOTS_GL[index].astype(np.float32),
            "handBoundingBox": np.array([centre[0] - 60, centre[1] - 60, centre[0] + 60, centre[1] + 60], np.float32),
            "handPose": None, "handBeta": None, "handTrans": None,
            "objName": OBJECT,
            "objRot": np.array([[0.3], [0.2], [0.1]], np.float32),
            "objTrans": (OPENGL_TO_OPENCV @ (wrist_cv + [0.04, 0.0, 0.02])).astype(np.float32),
        }
        with open(folder / "meta" / f"{frame}.pkl", "wb") as handle:
            pickle.dump(meta, handle, protocol=2)


def test_round_trip_from_miniature_ho3d_to_submission(tmp_path, mano_layer) -> None:
    root = tmp_path / "HO3D_v2"
    _write_ho3d_evaluation_split(root)
    reader = HO3DReader(root, split="evaluation")
    dataset = AnnotationDataset(reader, augment=None)
    torch.manual_seed(0)
    model = HFLNet(ModelConfig(), mano_layer)
    predictions = predict(model, dataset, batch_size=2)
    assert predictions.frame_ids == ["evaluation/EVA/0000", "evaluation/EVA/0001"]
    assert predictions.root_valid.all() and not predictions.joints_valid.any() and predictions.object_valid.all()

    joints, vertices = ho3d.submission_arrays(predictions)
    json_path, zip_path = ho3d.write_submission(tmp_path / "out", joints, vertices)
    read_joints, read_vertices = ho3d.read_submission(zip_path)
    assert read_joints.shape == (2, 21, 3) and read_vertices.shape == (2, 778, 3)
    # The wrist of the submission is the wrist HO3D gave, in its own frame and units (metres, OpenGL).
    np.testing.assert_allclose(read_joints[:, 0], ROOTS_GL, atol=1e-6)
    assert (read_joints[..., 2] < 0).all() and (read_vertices[..., 2] < 0).all()
    # The hand is metre-sized around that wrist (not millimetre values added to metres).
    spread = np.linalg.norm(read_vertices - read_joints[:, :1], axis=-1).max()
    assert 0.03 < spread < 0.5

    report = ho3d.evaluate_predictions(predictions, model_points_from_library(predictions.object_names, reader.objects.find))
    assert "joints" not in report and report["object"]["frames"] == {OBJECT: 2}


def test_hfl_eval_writes_the_submission_of_a_checkpoint(tmp_path, mano_layer, capsys) -> None:
    import yaml

    from hfl_ros.apps import evaluate as cli
    from hfl_ros.model.checkpoint import save_checkpoint

    root = tmp_path / "HO3D_v2"
    _write_ho3d_evaluation_split(root)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "model.pt", HFLNet(ModelConfig(), mano_layer))
    config = {"data": {"dataset": "ho3d", "root": str(root), "eval_split": "evaluation", "workers": 0},
              "mano_dir": "procedural", "output_dir": str(tmp_path / "run")}
    (tmp_path / "ho3d.yaml").write_text(yaml.safe_dump(config))
    output = tmp_path / "eval"
    assert cli.main(["--config", str(tmp_path / "ho3d.yaml"), "--checkpoint", str(checkpoint), "--device", "cpu",
                     "--output", str(output)]) == 0
    report = json.loads((output / cli.METRICS_FILE).read_text())
    assert report["submission"]["frames"] == 2 and report["submission"]["complete"]
    joints, vertices = ho3d.read_submission(output / "pred.zip")
    assert joints.shape == (2, 21, 3) and vertices.shape == (2, 778, 3)
    np.testing.assert_allclose(joints[:, 0], ROOTS_GL, atol=1e-6)
