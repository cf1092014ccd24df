"""FrameAnnotation validation, pixel loading (masks, mirroring) and batch collation."""

import cv2
import numpy as np
import pytest
import torch

from hfl_ros.data.sample import FrameAnnotation, MaskRef, Sample, batch_to, collate, load_image, load_mask

K = np.array([[500.0, 0.0, 32.0], [0.0, 500.0, 24.0], [0.0, 0.0, 1.0]])


def _image() -> np.ndarray:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[10, 3] = (200, 100, 50)
    return image


def test_annotation_validates_shapes_and_side() -> None:
    FrameAnnotation("ok", _image(), K, (64, 48))
    with pytest.raises(ValueError, match="joints_3d"):
        FrameAnnotation("bad", _image(), K, (64, 48), joints_3d=np.zeros((20, 3)))
    with pytest.raises(ValueError, match="side"):
        FrameAnnotation("bad", _image(), K, (64, 48), side="middle")
    with pytest.raises(ValueError, match="image"):
        FrameAnnotation("bad", _image(), K, (60, 48))
    with pytest.raises(ValueError, match="non-finite"):
        FrameAnnotation("bad", _image(), np.full((3, 3), np.nan), (64, 48))
    with pytest.raises(ValueError, match="hand_mask"):
        FrameAnnotation("bad", _image(), K, (64, 48), hand_mask=np.zeros((10, 10), bool))


def test_wrist_prefers_root_then_joints() -> None:
    joints = np.arange(63, dtype=float).reshape(21, 3) + 1
    assert np.allclose(FrameAnnotation("a", _image(), K, (64, 48), joints_3d=joints).wrist, joints[0])
    assert np.allclose(FrameAnnotation("a", _image(), K, (64, 48), joints_3d=joints, root_3d=[0, 0, 2]).wrist, [0, 0, 2])
    assert FrameAnnotation("a", _image(), K, (64, 48)).wrist is None


def test_load_image_flips_mirrored_frames(tmp_path) -> None:
    path = tmp_path / "c.png"
    cv2.imwrite(str(path), cv2.cvtColor(_image(), cv2.COLOR_RGB2BGR))
    plain = load_image(FrameAnnotation("a", str(path), K, (64, 48)))
    mirrored = load_image(FrameAnnotation("a", str(path), K, (64, 48), mirrored=True))
    assert tuple(plain[10, 3]) == (200, 100, 50)
    assert tuple(mirrored[10, 64 - 1 - 3]) == (200, 100, 50)


def test_load_mask_from_each_kind(tmp_path) -> None:
    labels = np.zeros((48, 64), dtype=np.uint8)
    labels[5:9, 2:6] = 255
    labels[20:30, 40:50] = 7
    np.savez(tmp_path / "labels.npz", seg=labels)
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    colour = np.zeros((24, 32, 3), dtype=np.uint8)  # stored at half size, RGB: hand blue, object green
    colour[2:4, 1:3, 2] = 255
    cv2.imwrite(str(tmp_path / "seg.png"), cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))

    hand = load_mask(MaskRef(str(tmp_path / "labels.npz"), "npz_label", 255), (64, 48))
    obj = load_mask(MaskRef(str(tmp_path / "labels.png"), "label_image", 7), (64, 48))
    blue = load_mask(MaskRef(str(tmp_path / "seg.png"), "color_channel", 2), (64, 48))
    assert hand.sum() == 16 and hand[5, 2] and obj.sum() == 100 and obj[20, 40]
    assert blue.shape == (48, 64) and blue.sum() == 16 and blue[4, 2]
    flipped = load_mask(MaskRef(str(tmp_path / "labels.npz"), "npz_label", 255), (64, 48), mirrored=True)
    np.testing.assert_array_equal(flipped, hand[:, ::-1])
    assert load_mask(None, (64, 48)) is None
    with pytest.raises(ValueError, match="kind"):
        MaskRef("x", "rle", 1)


def _sample(seed: int) -> Sample:
    rng = np.random.default_rng(seed)
    arrays = {name: rng.uniform(size=shape) for name, shape in Sample.SHAPES.items()}
    return Sample(**arrays, object_diameter=0.2, joints_valid=True, frame_id=f"f{seed}", object_name="box")


def test_collate_stacks_arrays_flags_and_strings() -> None:
    samples = [_sample(0), _sample(1), _sample(2)]
    batch = collate(samples)
    assert batch["image"].shape == (3, 3, 256, 256) and batch["image"].dtype == torch.float32
    assert batch["object_mask"].shape == (3, 32, 32)
    np.testing.assert_allclose(batch["joints_2d"][1].numpy(), samples[1].joints_2d)
    assert batch["joints_valid"].dtype == torch.bool and batch["joints_valid"].all()
    assert not batch["object_valid"].any()
    assert batch["frame_id"] == ["f0", "f1", "f2"] and batch["object_name"] == ["box"] * 3
    assert torch.allclose(batch["object_diameter"], torch.full((3,), 0.2))
    moved = batch_to(batch, "cpu")
    assert moved["frame_id"] == batch["frame_id"] and moved["K_crop"].shape == (3, 3, 3)
    with pytest.raises(ValueError):
        collate([])


def test_sample_rejects_wrong_shapes() -> None:
    arrays = {name: np.zeros(shape) for name, shape in Sample.SHAPES.items()}
    arrays["joints_2d"] = np.zeros((20, 2))
    with pytest.raises(ValueError, match="joints_2d"):
        Sample(**arrays)
