"""HO3D reader on miniature v2 / v3 datasets written in the real on-disk formats."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from hfl_ros.constants import MANO_TO_OUTPUT_JOINTS
from hfl_ros.data.ho3d import OPENGL_TO_OPENCV, HO3DReader, read_split
from hfl_ros.data.sample import load_image, load_mask
from hfl_ros.data.transforms import AnnotationDataset
from hfl_ros.data.augment import ho3d_augmentation
from hfl_ros.geometry import camera
from hfl_ros.geometry.control_points import control_points_from_points

K = np.array([[617.3, 0.0, 315.2], [0.0, 617.1, 242.9], [0.0, 0.0, 1.0]])
OBJECT = "006_mustard_bottle"


def _rotation(vector) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(vector, dtype=np.float64).reshape(3, 1))[0]


def _truth(seed: int) -> dict:
    """Ground truth in OUR convention: OpenCV frame, JOINT_NAMES order."""
    rng = np.random.default_rng(seed)
    return {
        "joints": rng.normal(0, 0.03, size=(21, 3)) + (0.02, 0.01, 0.5),
        "pose": rng.normal(0, 0.3, size=48),
        "betas": rng.normal(size=10),
        "object_rotation": _rotation(rng.normal(size=3)),
        "object_translation": np.array([-0.03, 0.02, 0.55]),
    }


def _meta(truth: dict, evaluation: bool) -> dict:
    """The same ground truth as HO3D stores it: OpenGL frame, MANO joint order [16 joints, 5 tips]."""
    mano_order = np.empty((21, 3))
    mano_order[list(MANO_TO_OUTPUT_JOINTS)] = truth["joints"] @ OPENGL_TO_OPENCV.T
    pose = truth["pose"].copy()
    pose[:3] = cv2.Rodrigues(OPENGL_TO_OPENCV @ _rotation(pose[:3]))[0].reshape(3)
    meta = {
        "camMat": K.astype(np.float32),
        "objName": OBJECT,
        "objLabel": 5,
        "objRot": cv2.Rodrigues(OPENGL_TO_OPENCV @ truth["object_rotation"])[0].astype(np.float32),
        "objTrans": (OPENGL_TO_OPENCV @ truth["object_translation"]).astype(np.float32),
    }
    if evaluation:
        meta.update(handJoints3D=mano_order[0].astype(np.float32), handBoundingBox=np.array([250.0, 180.0, 360.0, 300.0]),
                    handPose=None, handBeta=None, handTrans=None)
    else:
        meta.update(handJoints3D=mano_order.astype(np.float32), handPose=pose.astype(np.float32),
                    handBeta=truth["betas"].astype(np.float32), handTrans=np.zeros(3, np.float32))
    return meta


def _write_dataset(root: Path, version: str) -> dict:
    rgb_suffix, seg_suffix = (".png", ".jpg") if version == "v2" else (".jpg", ".png")
    truths = {}
    frames = {"train": [("SEQA", "0000"), ("SEQA", "0001")], "evaluation": [("EVB", "0000")]}
    for split, pairs in frames.items():
        (root / f"{split}.txt").write_text("".join(f"{s}/{i}\n" for s, i in pairs))
        for seed, (sequence, frame) in enumerate(pairs):
            truth = _truth(seed + (10 if split == "evaluation" else 0))
            truths[(split, sequence, frame)] = truth
            folder = root / split / sequence
            for sub in ("rgb", "meta", "seg"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            image = np.full((480, 640, 3), 40, dtype=np.uint8)
            image[:, :320] = (200, 30, 30)  # left half red (RGB)
            cv2.imwrite(str(folder / "rgb" / f"{frame}{rgb_suffix}"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            seg = np.zeros((240, 320, 3), dtype=np.uint8)  # BGR at half resolution, as stored
            seg[20:60, 40:100] = (255, 0, 0)  # hand: blue
            seg[100:160, 150:250] = (0, 255, 0)  # object: green
            cv2.imwrite(str(folder / "seg" / f"{frame}{seg_suffix}"), seg)
            with open(folder / "meta" / f"{frame}.pkl", "wb") as handle:
                pickle.dump(_meta(truth, split == "evaluation"), handle, protocol=2)
    points = np.random.default_rng(9).uniform(-0.05, 0.05, size=(300, 3)) * (1.0, 1.5, 2.0)
    (root / "models" / OBJECT).mkdir(parents=True)
    np.savetxt(root / "models" / OBJECT / "points.xyz", points)
    return {"truths": truths, "points": points}


@pytest.fixture(params=["v2", "v3"])
def ho3d(tmp_path, request):
    written = _write_dataset(tmp_path, request.param)
    return tmp_path, request.param, written


def test_train_frames_convert_to_opencv_and_joint_order(ho3d) -> None:
    root, version, written = ho3d
    reader = HO3DReader(root, "train")
    assert reader.version == version and len(reader) == 2
    annotation = reader[1]
    truth = written["truths"][("train", "SEQA", "0001")]
    assert annotation.frame_id == "train/SEQA/0001" and annotation.side == "right" and not annotation.mirrored
    np.testing.assert_allclose(annotation.K, K, atol=1e-4)
    np.testing.assert_allclose(annotation.joints_3d, truth["joints"], atol=1e-6)
    np.testing.assert_allclose(annotation.mano_pose[3:], truth["pose"][3:], atol=1e-6)
    np.testing.assert_allclose(_rotation(annotation.mano_pose[:3]), _rotation(truth["pose"][:3]), atol=1e-5)
    np.testing.assert_allclose(annotation.mano_shape, truth["betas"], atol=1e-6)
    np.testing.assert_allclose(annotation.object_rotation, truth["object_rotation"], atol=1e-5)
    np.testing.assert_allclose(annotation.object_translation, truth["object_translation"], atol=1e-6)
    np.testing.assert_allclose(annotation.object_control_points, control_points_from_points(written["points"]), atol=1e-9)
    assert annotation.object_name == OBJECT and annotation.object_diameter > 0
    image = load_image(annotation)
    assert image.shape == (480, 640, 3) and image[10, 10, 0] > 150 and image[10, 600, 0] < 100
    hand = load_mask(annotation.hand_mask, annotation.image_size)
    obj = load_mask(annotation.object_mask, annotation.image_size)
    assert hand[40:120, 80:200].all() and not hand[200:320, 300:500].any()
    assert obj[200:320, 300:500].all() and not obj[40:120, 80:200].any()


def test_evaluation_frames_have_root_and_box_only(ho3d) -> None:
    root, _, written = ho3d
    annotation = HO3DReader(root, "evaluation")[0]
    truth = written["truths"][("evaluation", "EVB", "0000")]
    assert annotation.joints_3d is None and annotation.mano_pose is None
    np.testing.assert_allclose(annotation.root_3d, truth["joints"][0], atol=1e-6)
    np.testing.assert_allclose(annotation.hand_box, [250.0, 180.0, 360.0, 300.0])
    assert annotation.has_object_pose


def test_reader_to_samples_keeps_targets_consistent(ho3d) -> None:
    root, _, _ = ho3d
    dataset = AnnotationDataset(HO3DReader(root, "train"), augment=ho3d_augmentation(), seed=3)
    for index in range(len(dataset)):
        sample = dataset[index]
        assert sample.joints_valid and sample.mano_valid and sample.object_valid and sample.mask_valid
        joints = camera.project_points(sample.joints_3d.astype(np.float64) + sample.root_3d, sample.K_crop)
        np.testing.assert_allclose(camera.normalise_in_box(joints, sample.hand_box), sample.joints_2d, atol=1e-4)
        assert sample.object_mask.sum() > 0
    evaluation = AnnotationDataset(HO3DReader(root, "evaluation"))[0]
    assert evaluation.root_valid and not evaluation.joints_valid and evaluation.object_valid


def test_missing_models_and_bad_split_lines(tmp_path) -> None:
    _write_dataset(tmp_path, "v2")
    reader = HO3DReader(tmp_path, "train", models_dir=tmp_path / "nowhere")
    annotation = reader[0]
    assert annotation.object_name == OBJECT and not annotation.has_object_pose and annotation.joints_3d is not None
    (tmp_path / "train.txt").write_text("SEQA-0000\n")
    with pytest.raises(ValueError, match="SEQA-0000"):
        read_split(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        read_split(tmp_path, "test")
