"""DexYCB reader on a miniature dataset in the toolkit's layout (yaml, npz, jpg), left hands mirrored."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from hfl_ros.data.dexycb import SERIALS, SUBJECTS, YCB_CLASSES, DexYCBReader, ManoPCA, load_mano_pca
from hfl_ros.geometry.mirror import mirror_axis_angles
from hfl_ros.data.sample import load_image, load_mask
from hfl_ros.data.transforms import AnnotationDataset
from hfl_ros.geometry import camera
from hfl_ros.geometry.control_points import control_points_from_points
from hfl_ros.mano import load_mano
from hfl_ros.mano.pickle_io import read_mano_pickle

SERIAL = SERIALS[0]
K = np.array([[615.7, 0.0, 311.4], [0.0, 615.9, 245.1], [0.0, 0.0, 1.0]])
OBJECT_ID = 5  # 006_mustard_bottle
LEFT_SEQUENCE = 1
FRAMES = 2
MARKER = (30, 50)
#: The left MANO mesh numbers two vertices of the middle fingertip the other way round.
LEFT_RIGHT_SWAPPED_VERTICES = (444, 445)  # (x, y) of a white pixel block in every colour image


def _rotation(vector) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(vector, dtype=np.float64).reshape(3, 1))[0]


def _frame_truth(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "joints": rng.normal(0, 0.03, size=(21, 3)) + (0.01, 0.02, 0.6),
        "global": rng.normal(0, 0.5, size=3),
        "articulation": rng.normal(0, 0.3, size=45),
        "rotations": [_rotation(rng.normal(size=3)) for _ in range(2)],
        "translations": [np.array([0.05, -0.02, 0.7]), np.array([-0.04, 0.03, 0.65])],
    }


def _write_dataset(root: Path, mano_dir: Path) -> dict:
    pca = {side: read_mano_pickle(mano_dir / f"MANO_{side.upper()}.pkl") for side in ("right", "left")}
    (root / "calibration" / "intrinsics").mkdir(parents=True)
    intrinsics = {"color": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "ppx": float(K[0, 2]), "ppy": float(K[1, 2])}}
    (root / "calibration" / "intrinsics" / f"{SERIAL}_640x480.yml").write_text(yaml.safe_dump(intrinsics))
    betas = np.linspace(-1, 1, 10)
    (root / "calibration" / "mano_calib-a").mkdir(parents=True)
    (root / "calibration" / "mano_calib-a" / "mano.yml").write_text(yaml.safe_dump({"betas": betas.tolist()}))
    points = np.random.default_rng(3).uniform(-0.04, 0.04, size=(400, 3)) * (1.0, 1.3, 2.5)
    (root / "models" / YCB_CLASSES[OBJECT_ID]).mkdir(parents=True)
    np.savetxt(root / "models" / YCB_CLASSES[OBJECT_ID] / "points.xyz", points)
    truths = {}
    for subject in (SUBJECTS[0], SUBJECTS[2]):
        for sequence in range(5):
            side = "left" if sequence == LEFT_SEQUENCE else "right"
            folder = root / subject / f"20200709_14{sequence:02d}00"
            (folder / SERIAL).mkdir(parents=True)
            meta = {"num_frames": FRAMES, "ycb_ids": [2, OBJECT_ID], "ycb_grasp_ind": 1, "mano_sides": [side],
                    "mano_calib": ["calib-a"], "serials": list(SERIALS)}
            (folder / "meta.yml").write_text(yaml.safe_dump(meta))
            for frame in range(FRAMES):
                truth = _frame_truth(hash((subject, sequence, frame)) % 1000)
                coefficients = np.linalg.solve(pca[side].hands_components.T, truth["articulation"] - pca[side].hands_mean)
                pose_m = np.concatenate((truth["global"], coefficients, [0.1, 0.2, 0.3]))[None].astype(np.float32)
                joints = truth["joints"] if frame == 0 else np.full((21, 3), -1.0)
                joint_2d = camera.project_points(joints, K) if frame == 0 else np.full((21, 2), -1.0)
                seg = np.zeros((480, 640), dtype=np.uint8)
                seg[100:200, 100:220] = 255
                seg[300:400, 400:500] = OBJECT_ID
                pose_y = np.stack([np.column_stack((r, t)) for r, t in zip(truth["rotations"], truth["translations"])])
                np.savez_compressed(folder / SERIAL / f"labels_{frame:06d}.npz", seg=seg, pose_y=pose_y.astype(np.float32),
                                    pose_m=pose_m, joint_3d=joints[None].astype(np.float32), joint_2d=joint_2d[None].astype(np.float32))
                image = np.full((480, 640, 3), 60, dtype=np.uint8)
                image[MARKER[1] - 4:MARKER[1] + 5, MARKER[0] - 4:MARKER[0] + 5] = 255
                cv2.imwrite(str(folder / SERIAL / f"color_{frame:06d}.jpg"), image)
                truths[(subject, sequence, frame)] = {**truth, "side": side, "joints_stored": joints, "joint_2d": joint_2d}
    return {"truths": truths, "betas": betas, "points": points}


@pytest.fixture(scope="module")
def dexycb(tmp_path_factory, mano_dir):
    root = tmp_path_factory.mktemp("dexycb")
    return root, _write_dataset(root, Path(mano_dir))


def _find(reader: DexYCBReader, subject: str, sequence: int, frame: int) -> int:
    for index in range(len(reader)):
        if reader[index].frame_id == f"{subject}/20200709_14{sequence:02d}00/{SERIAL}/{frame:06d}":
            return index
    raise AssertionError("frame not found")


def test_s0_split_selects_sequences_by_index(dexycb, mano_dir) -> None:
    root, _ = dexycb
    train, val, test = (DexYCBReader(root, split, mano_dir=mano_dir) for split in ("train", "val", "test"))
    sequences = {split: sorted({(r.folder.parent.name, r.folder.name[-4:-2]) for r in reader.sequences})
                 for split, reader in (("train", train), ("val", val), ("test", test))}
    assert sequences["train"] == [(s, f"{i:02d}") for s in (SUBJECTS[0], SUBJECTS[2]) for i in range(4)]
    assert sequences["val"] == [(SUBJECTS[0], "04")]
    assert sequences["test"] == [(SUBJECTS[2], "04")]
    assert len(train) == 8 * FRAMES and len(val) == FRAMES and len(test) == FRAMES
    right_only = DexYCBReader(root, "train", sides=("right",))
    assert len(right_only) == 6 * FRAMES
    with pytest.raises(ValueError, match="split"):
        DexYCBReader(root, "holdout")


def test_right_hand_frame(dexycb, mano_dir) -> None:
    root, written = dexycb
    reader = DexYCBReader(root, "train", mano_dir=mano_dir)
    annotation = reader[_find(reader, SUBJECTS[0], 0, 0)]
    truth = written["truths"][(SUBJECTS[0], 0, 0)]
    assert annotation.side == "right" and not annotation.mirrored
    np.testing.assert_allclose(annotation.K, K)
    np.testing.assert_allclose(annotation.joints_3d, truth["joints"], atol=1e-6)
    np.testing.assert_allclose(annotation.joints_2d, truth["joint_2d"], atol=1e-3)
    np.testing.assert_allclose(annotation.mano_pose, np.concatenate((truth["global"], truth["articulation"])), atol=1e-5)
    np.testing.assert_allclose(annotation.mano_shape, written["betas"])
    np.testing.assert_allclose(annotation.object_rotation, truth["rotations"][1], atol=1e-6)
    np.testing.assert_allclose(annotation.object_translation, truth["translations"][1], atol=1e-6)
    np.testing.assert_allclose(annotation.object_control_points, control_points_from_points(written["points"]))
    assert annotation.object_name == "006_mustard_bottle"
    hand = load_mask(annotation.hand_mask, annotation.image_size)
    obj = load_mask(annotation.object_mask, annotation.image_size)
    assert hand.sum() == 100 * 120 and hand[150, 150] and obj.sum() == 100 * 100 and obj[350, 450]


def test_left_hand_is_mirrored_consistently(dexycb, mano_dir) -> None:
    root, written = dexycb
    reader = DexYCBReader(root, "train", mano_dir=mano_dir)
    annotation = reader[_find(reader, SUBJECTS[0], LEFT_SEQUENCE, 0)]
    truth = written["truths"][(SUBJECTS[0], LEFT_SEQUENCE, 0)]
    assert annotation.side == "left" and annotation.mirrored
    assert annotation.K[0, 2] == pytest.approx(639 - K[0, 2])
    np.testing.assert_allclose(annotation.joints_3d, truth["joints"] * (-1, 1, 1), atol=1e-6)
    np.testing.assert_allclose(annotation.joints_2d[:, 0], 639 - truth["joint_2d"][:, 0], atol=1e-3)
    np.testing.assert_allclose(camera.project_points(annotation.joints_3d, annotation.K), annotation.joints_2d, atol=1e-3)
    # Object: projections in the mirrored frame are the mirrored projections of the original frame.
    original = camera.project_points(
        camera.transform_points(control_points_from_points(written["points"]), truth["rotations"][1], truth["translations"][1]), K
    )
    mirrored = camera.project_points(
        camera.transform_points(annotation.object_control_points, annotation.object_rotation, annotation.object_translation), annotation.K
    )
    np.testing.assert_allclose(mirrored, np.column_stack((639 - original[:, 0], original[:, 1])), atol=1e-6)
    assert np.linalg.det(annotation.object_rotation) == pytest.approx(1.0)
    image = load_image(annotation)
    assert image[MARKER[1], 639 - MARKER[0]].min() > 200 and image[MARKER[1], MARKER[0]].max() < 120
    hand = load_mask(annotation.hand_mask, annotation.image_size, annotation.mirrored)
    assert hand[150, 639 - 150] and not hand[150, 150]
    # MANO: the right hand with the mirrored pose is the mirror image of the left hand with the stored pose.
    left_full = np.concatenate((truth["global"], truth["articulation"]))
    right, left = load_mano(mano_dir, side="right"), load_mano(mano_dir, side="left")
    betas = torch.as_tensor(written["betas"], dtype=torch.float32)[None]
    with torch.no_grad():
        left_vertices = left(torch.as_tensor(left_full, dtype=torch.float32)[None], betas).vertices[0].numpy()
        right_vertices = right(torch.as_tensor(annotation.mano_pose, dtype=torch.float32)[None], betas).vertices[0].numpy()
    swapped = left_vertices.copy()
    swapped[list(LEFT_RIGHT_SWAPPED_VERTICES)] = left_vertices[list(LEFT_RIGHT_SWAPPED_VERTICES[::-1])]
    np.testing.assert_allclose(right_vertices, swapped * (-1, 1, 1), atol=1e-5)


def test_frames_without_a_hand_and_without_mano(dexycb) -> None:
    root, _ = dexycb
    reader = DexYCBReader(root, "val")
    no_hand = reader[1]
    assert no_hand.joints_3d is None and no_hand.mano_pose is None and no_hand.has_object_pose
    with_hand = reader[0]
    assert with_hand.joints_3d is not None and with_hand.mano_pose is None  # no MANO files given
    sample = AnnotationDataset(reader)[1]
    assert not sample.joints_valid and sample.object_valid and sample.mask_valid


def test_pca_helpers(mano_dir) -> None:
    pca = load_mano_pca(mano_dir)
    assert set(pca) == {"right", "left"}
    coefficients = np.random.default_rng(0).normal(size=45)
    np.testing.assert_allclose(pca["right"].articulation(coefficients), coefficients @ pca["right"].components + pca["right"].mean)
    with pytest.raises(ValueError, match="45"):
        ManoPCA(np.eye(44), np.zeros(45))
    np.testing.assert_allclose(mirror_axis_angles(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])), [1, -2, -3, 4, -5, -6])
