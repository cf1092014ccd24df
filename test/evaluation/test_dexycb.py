"""DexYCB s0 evaluation: hand errors, ADD / ADD-S per object, mirrored frames, and a round trip from a
miniature DexYCB dataset on disk through the real reader, the network and the evaluation."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from hfl_ros.config import ModelConfig
from hfl_ros.data.dexycb import SERIALS, SUBJECTS, YCB_CLASSES, DexYCBReader
from hfl_ros.data.transforms import AnnotationDataset
from hfl_ros.evaluation import dexycb
from hfl_ros.evaluation.evaluate import Predictions, model_points_from_library, object_errors, predict
from hfl_ros.geometry.mirror import MIRROR
from hfl_ros.evaluation.metrics import add
from hfl_ros.geometry import camera
from hfl_ros.mano.pickle_io import read_mano_pickle
from hfl_ros.model.hflnet import HFLNet


def _rotation(vector) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(vector, dtype=np.float64).reshape(3, 1))[0]


def make_predictions(names, found=None, rotations=None, mirrored=None, seed=0) -> Predictions:
    """Frames with perfect hands and objects at identity / 0.5 m, unless told otherwise."""
    n = len(names)
    joints = np.random.default_rng(seed).normal(0, 0.03, (n, 21, 3)).astype(np.float32)
    joints[:, 0] = 0
    identity = np.tile(np.eye(3, dtype=np.float32), (n, 1, 1))
    return Predictions(
        frame_ids=[f"f{i}" for i in range(n)], object_names=list(names),
        mirrored=np.zeros(n, bool) if mirrored is None else np.asarray(mirrored),
        joints=joints, vertices=np.zeros((n, 0, 3), np.float32), root=np.tile(np.float32([0, 0, 0.6]), (n, 1)),
        root_valid=np.ones(n, bool), gt_joints=joints.copy(), joints_valid=np.ones(n, bool),
        gt_vertices=np.zeros((n, 0, 3), np.float32), vertices_valid=np.zeros(n, bool),
        object_found=np.ones(n, bool) if found is None else np.asarray(found),
        object_rotation=identity.copy() if rotations is None else np.asarray(rotations, np.float32),
        object_translation=np.tile(np.float32([0, 0, 0.5]), (n, 1)),
        gt_object_rotation=identity.copy(), gt_object_translation=np.tile(np.float32([0, 0, 0.5]), (n, 1)),
        object_valid=np.ones(n, bool), object_diameter=np.full(n, 0.2, np.float32),
    )


def _ring(radius: float = 0.08) -> np.ndarray:
    """Points with 180-degree symmetry about z (a bowl-like ring) but not mirror-symmetric in x."""
    angles = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    return np.stack((radius * np.cos(angles), radius * np.sin(angles), 0.02 * np.sin(2 * angles)), axis=1)


def test_hand_errors_in_millimetres_with_the_true_wrist() -> None:
    predictions = make_predictions(["024_bowl"] * 3, mirrored=[False, True, True])
    predictions.gt_joints[:, 1:] += np.float32([0.0, 0.0, 0.012])  # 12 mm off on every non-wrist joint
    report = dexycb.evaluate_predictions(predictions, {})
    hand = report["hand"]
    assert (hand["frames"], hand["right_frames"], hand["left_frames"]) == (3, 1, 2)
    assert hand["mpjpe_mm"] == pytest.approx(12.0 * 20 / 21, rel=1e-5)
    assert 0 < hand["pa_mpjpe_mm"] < hand["mpjpe_mm"]
    assert "object" not in report and "s0" in report["protocol"]


def test_symmetric_objects_use_add_s_and_missing_poses_fail() -> None:
    half_turn = _rotation([0.0, 0.0, np.pi])
    names = ["024_bowl", "024_bowl", "006_mustard_bottle", "006_mustard_bottle", "006_mustard_bottle"]
    predictions = make_predictions(names, found=[True, False, True, True, True],
                                   rotations=[half_turn, np.eye(3), half_turn, np.eye(3), np.eye(3)])
    points = {"024_bowl": _ring(), "006_mustard_bottle": _ring()}
    errors = object_errors(predictions, points, symmetric=dexycb.SYMMETRIC_OBJECTS)
    assert errors[0] < 1e-3                      # ADD-S: the half turn maps the ring onto itself
    assert np.isinf(errors[1])                   # no pose: a failure
    assert errors[2] == pytest.approx(0.16, rel=1e-2)  # ADD: every point moved across the ring
    report = dexycb.evaluate_predictions(predictions, points)["object"]
    assert report["per_object"] == pytest.approx({"024_bowl": 0.5, "006_mustard_bottle": 2 / 3})
    assert report["average"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert report["frames"] == {"024_bowl": 2, "006_mustard_bottle": 3} and report["symmetric"] == ["024_bowl"]


def test_mirrored_frames_score_as_in_the_original_frame() -> None:
    points = np.random.default_rng(4).uniform(-0.05, 0.05, size=(200, 3)) * (1.0, 2.0, 0.5)
    true_rotation, true_translation = _rotation([0.2, -0.5, 0.3]), np.array([0.03, -0.01, 0.55])
    pred_rotation, pred_translation = _rotation([0.25, -0.45, 0.3]), np.array([0.035, -0.012, 0.56])
    original = add(camera.transform_points(points, pred_rotation, pred_translation),
                   camera.transform_points(points, true_rotation, true_translation))
    # The reader's mirrored frame: R -> M R M, t -> M t, model points -> M p (evaluation mirrors the model).
    predictions = make_predictions(["006_mustard_bottle"], mirrored=[True], rotations=[MIRROR @ pred_rotation @ MIRROR])
    predictions.object_translation[0] = MIRROR @ pred_translation
    predictions.gt_object_rotation[0] = MIRROR @ true_rotation @ MIRROR
    predictions.gt_object_translation[0] = MIRROR @ true_translation
    errors = object_errors(predictions, {"006_mustard_bottle": points})
    assert errors[0] == pytest.approx(original, rel=1e-5)


# ---------------------------------------------------------------- miniature DexYCB round trip
SERIAL = SERIALS[0]
K = np.array([[615.0, 0.0, 318.0], [0.0, 615.0, 242.0], [0.0, 0.0, 1.0]])
OBJECT_ID = 13  # 024_bowl, scored with ADD-S


def _write_dexycb_test_split(root: Path, mano_dir: Path) -> dict:
    """Two s0 test sequences (subjects 3 and 4, fifth sequence each): a right and a left hand, one frame each."""
    (root / "calibration" / "intrinsics").mkdir(parents=True)
    colour = {"color": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "ppx": float(K[0, 2]), "ppy": float(K[1, 2])}}
    (root / "calibration" / "intrinsics" / f"{SERIAL}_640x480.yml").write_text(yaml.safe_dump(colour))
    (root / "calibration" / "mano_calib").mkdir(parents=True)
    (root / "calibration" / "mano_calib" / "mano.yml").write_text(yaml.safe_dump({"betas": [0.0] * 10}))
    (root / "models" / YCB_CLASSES[OBJECT_ID]).mkdir(parents=True)
    np.savetxt(root / "models" / YCB_CLASSES[OBJECT_ID] / "points.xyz", _ring(0.06))
    truths = {}
    for subject, side in ((SUBJECTS[2], "right"), (SUBJECTS[3], "left")):
        pca = read_mano_pickle(mano_dir / f"MANO_{side.upper()}.pkl")
        for sequence in range(5):
            (root / subject / f"seq{sequence}").mkdir(parents=True)
        folder = root / subject / "seq4"  # sorted index 4: the s0 test sequence
        (folder / SERIAL).mkdir()
        meta = {"num_frames": 1, "ycb_ids": [OBJECT_ID], "ycb_grasp_ind": 0, "mano_sides": [side], "mano_calib": ["calib"]}
        (folder / "meta.yml").write_text(yaml.safe_dump(meta))
        rng = np.random.default_rng(len(truths))
        joints = rng.normal(0, 0.02, (21, 3)) + (0.0, 0.0, 0.55)
        coefficients = np.linalg.solve(pca.hands_components.T, rng.normal(0, 0.2, 45) - pca.hands_mean)
        pose_m = np.concatenate((rng.normal(0, 0.5, 3), coefficients, [0.0, 0.0, 0.0]))[None]
        pose_y = np.column_stack((_rotation([0.1, 0.2, 0.3]), [0.05, 0.0, 0.6]))[None]
        seg = np.zeros((480, 640), dtype=np.uint8)
        seg[200:300, 300:420] = OBJECT_ID
        np.savez_compressed(folder / SERIAL / "labels_000000.npz", seg=seg, pose_y=pose_y.astype(np.float32),
                            pose_m=pose_m.astype(np.float32), joint_3d=joints[None].astype(np.float32),
                            joint_2d=camera.project_points(joints, K)[None].astype(np.float32))
        cv2.imwrite(str(folder / SERIAL / "color_000000.jpg"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
        truths[side] = joints
    return truths


def test_round_trip_from_miniature_dexycb(tmp_path, mano_dir, mano_layer) -> None:
    truths = _write_dexycb_test_split(tmp_path / "dex", Path(mano_dir))
    reader = DexYCBReader(tmp_path / "dex", split="test", mano_dir=mano_dir)
    dataset = AnnotationDataset(reader, augment=None)
    torch.manual_seed(0)
    predictions = predict(HFLNet(ModelConfig(), mano_layer), dataset, batch_size=2, keep_vertices=False)
    assert predictions.mirrored.tolist() == [False, True]
    report = dexycb.evaluate_predictions(predictions, model_points_from_library(predictions.object_names, reader.objects.find))

    # The same MPJPE computed independently in each frame's ORIGINAL camera frame (left hand un-mirrored).
    errors = []
    for index, side in enumerate(("right", "left")):
        joints = predictions.joints[index].astype(np.float64)
        if side == "left":
            joints = joints @ MIRROR.T
        placed = joints + truths[side][0]
        errors.append(np.linalg.norm(placed - truths[side], axis=1).mean())
    hand = report["hand"]
    assert (hand["right_frames"], hand["left_frames"]) == (1, 1)
    assert hand["mpjpe_mm"] == pytest.approx(1000 * np.mean(errors), rel=1e-4)
    assert 1.0 < hand["mpjpe_mm"] < 500.0  # millimetres of a hand, not metres or micrometres
    assert report["object"]["frames"] == {"024_bowl": 2} and report["object"]["symmetric"] == ["024_bowl"]
