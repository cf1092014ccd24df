"""Crop and augmentation: pixels, 2D targets and rotated 3D targets stay mutually consistent."""

import math

import cv2
import numpy as np
import pytest
import torch

from hfl_ros.constants import CROP_SIZE, HAND_BOX_EXPANSION
from hfl_ros.data.augment import AugmentConfig, AugmentParams, apply_photometric, dexycb_augmentation, draw_augmentation, ho3d_augmentation
from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.transforms import AnnotationDataset, attach_mano_vertices, build_sample, rotation_about_optical_axis
from hfl_ros.geometry import camera
from hfl_ros.geometry.control_points import control_points_from_points

K = np.array([[610.0, 0.0, 318.0], [0.0, 605.0, 244.0], [0.0, 0.0, 1.0]])
SIZE = (640, 480)


def _rotation(seed: int) -> np.ndarray:
    matrix, _ = cv2.Rodrigues(np.random.default_rng(seed).normal(size=(3, 1)))
    return matrix


def _annotation(seed: int = 0, image: np.ndarray = None, **overrides) -> FrameAnnotation:
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.035, size=(21, 3)) + (0.03, -0.02, 0.55)
    control_points = control_points_from_points(rng.normal(0, 0.04, size=(200, 3)))
    fields = dict(
        frame_id=f"f{seed}",
        image=image if image is not None else rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8),
        K=K,
        image_size=SIZE,
        joints_3d=joints,
        mano_pose=rng.normal(0, 0.4, size=48),
        mano_shape=rng.normal(size=10),
        vertices_3d=rng.normal(0, 0.04, size=(778, 3)) + joints[0],
        object_name="thing",
        object_rotation=_rotation(seed + 100),
        object_translation=np.array([-0.04, 0.01, 0.6]),
        object_control_points=control_points,
        object_diameter=0.25,
    )
    fields.update(overrides)
    return FrameAnnotation(**fields)


def _reprojection_errors(sample) -> tuple:
    joints = camera.project_points(sample.joints_3d.astype(np.float64) + sample.root_3d, sample.K_crop)
    objects = camera.project_points(
        camera.transform_points(sample.object_control_points.astype(np.float64), sample.object_rotation, sample.object_translation),
        sample.K_crop,
    )
    joint_error = np.abs(camera.normalise_in_box(joints, sample.hand_box) - sample.joints_2d).max()
    object_error = np.abs(camera.normalise_in_box(objects, sample.object_box) - sample.object_points_2d).max()
    return joint_error, object_error


def test_identity_crop_matches_the_published_crop() -> None:
    annotation = _annotation()
    sample = build_sample(annotation)
    joints_2d = camera.project_points(annotation.joints_3d, K)
    object_2d = camera.project_points(
        camera.transform_points(annotation.object_control_points, annotation.object_rotation, annotation.object_translation), K
    )
    expected = camera.crop_affine(camera.crop_box(camera.points_box(joints_2d), camera.points_box(object_2d), SIZE))
    np.testing.assert_allclose(sample.crop_affine, expected, atol=1e-5)
    np.testing.assert_allclose(sample.K_crop, camera.affine_intrinsics(K, expected), rtol=1e-6)
    np.testing.assert_allclose(sample.hand_box, camera.points_box(camera.apply_affine(joints_2d, expected), HAND_BOX_EXPANSION), atol=1e-3)
    # The 1.1 expansion leaves a 1/22 margin on the extreme joints.
    assert sample.joints_2d.min() == pytest.approx(0.05 / 1.1, abs=1e-4)
    assert sample.object_points_2d.min() == pytest.approx(0.0, abs=1e-5) and sample.object_points_2d.max() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(sample.joints_3d, annotation.joints_3d - annotation.joints_3d[0], atol=1e-6)
    np.testing.assert_allclose(sample.root_3d, annotation.joints_3d[0], atol=1e-6)
    np.testing.assert_allclose(sample.mano_pose, annotation.mano_pose, atol=1e-6)
    warped = cv2.warpAffine(annotation.image, expected, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR)
    np.testing.assert_allclose(sample.image.transpose(1, 2, 0), warped / 255.0, atol=1e-6)
    assert sample.joints_valid and sample.mano_valid and sample.vertices_valid and sample.object_valid and sample.root_valid


@pytest.mark.parametrize("seed", range(6))
def test_augmented_3d_targets_project_onto_augmented_2d_targets(seed) -> None:
    params = draw_augmentation(np.random.default_rng(seed), ho3d_augmentation())
    sample = build_sample(_annotation(seed), params)
    joint_error, object_error = _reprojection_errors(sample)
    assert joint_error < 1e-4 and object_error < 1e-4
    # K_crop stays a pure scale + translation intrinsic matrix.
    assert sample.K_crop[0, 1] == 0 and sample.K_crop[1, 0] == 0 and np.allclose(sample.K_crop[2], (0, 0, 1))


def test_rotation_moves_pixels_where_it_moves_points() -> None:
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    annotation = _annotation(3, image=image)
    tip = camera.project_points(annotation.joints_3d, K)[8]
    cv2.circle(image, (int(round(tip[0])), int(round(tip[1]))), 3, (255, 255, 255), -1)
    params = AugmentParams(rotation=0.9, scale=1.1, centre_shift=(0.05, -0.03))
    sample = build_sample(annotation, params)
    bright = sample.image.sum(axis=0)
    peak = np.array(np.unravel_index(np.argmax(cv2.GaussianBlur(bright, (0, 0), 2)), bright.shape)[::-1], dtype=float)
    moved = camera.denormalise_in_box(sample.joints_2d[8:9].astype(np.float64), sample.hand_box)[0]
    assert np.linalg.norm(peak - moved) < 1.5


def test_rotation_is_consistent_with_the_mano_layer(mano_layer) -> None:
    rng = np.random.default_rng(5)
    pose = rng.normal(0, 0.3, size=48)
    shape = rng.normal(size=10)
    base = _annotation(5, mano_pose=pose, mano_shape=shape, vertices_3d=None)
    annotation = attach_mano_vertices(base, mano_layer)
    sample = build_sample(annotation, AugmentParams(rotation=-2.2))
    with torch.no_grad():
        output = mano_layer(torch.as_tensor(sample.mano_pose[None]), torch.as_tensor(sample.mano_shape[None]))
    np.testing.assert_allclose(output.vertices[0].numpy(), sample.vertices_3d, atol=2e-5)
    rotation = rotation_about_optical_axis(-2.2)
    np.testing.assert_allclose(sample.object_rotation, rotation @ annotation.object_rotation, atol=1e-6)


def test_object_mask_is_roi_aligned_to_the_object_box() -> None:
    annotation = _annotation(1)
    sample = build_sample(annotation)
    box = sample.object_box.astype(np.float64)
    # Mask = image pixels whose crop x lies in the left half of the object box.
    ys, xs = np.mgrid[0:480, 0:640]
    crop_x = camera.apply_affine(np.stack((xs, ys), -1).reshape(-1, 2).astype(float), sample.crop_affine)[:, 0]
    mask = (crop_x < (box[0] + box[2]) / 2).reshape(480, 640)
    masked = build_sample(FrameAnnotation(**{**annotation.__dict__, "object_mask": mask}))
    assert masked.mask_valid
    np.testing.assert_array_equal(masked.object_mask[:, :16], 1)
    np.testing.assert_array_equal(masked.object_mask[:, 16:], 0)


def test_missing_targets_are_flagged_and_zero_filled() -> None:
    annotation = _annotation(2, joints_3d=None, mano_pose=None, vertices_3d=None, root_3d=[0.0, 0.0, 0.5],
                             hand_box=[300.0, 200.0, 360.0, 270.0], object_rotation=None)
    sample = build_sample(annotation)
    assert not (sample.joints_valid or sample.mano_valid or sample.vertices_valid or sample.object_valid or sample.mask_valid)
    assert sample.root_valid
    expected = camera.expand_box(camera.affine_boxes(np.array([300.0, 200.0, 360.0, 270.0]), sample.crop_affine), HAND_BOX_EXPANSION)
    np.testing.assert_allclose(sample.hand_box, expected, atol=1e-3)
    np.testing.assert_array_equal(sample.object_box, sample.hand_box)
    assert not sample.joints_2d.any() and not sample.mano_pose.any()


def test_photometric_identity_and_ranges() -> None:
    image = np.random.default_rng(0).uniform(size=(8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(apply_photometric(image, AugmentParams()), image)
    dark = apply_photometric(image, AugmentParams(brightness=0.5))
    np.testing.assert_allclose(dark, image * 0.5, atol=1e-6)
    grey = apply_photometric(image, AugmentParams(saturation=0.0))
    assert np.allclose(grey[..., 0], grey[..., 1], atol=1e-6)
    shifted = apply_photometric(image, AugmentParams(hue=0.5))
    assert shifted.min() >= 0 and shifted.max() <= 1 and not np.allclose(shifted, image)


def test_augment_config_validation_and_presets() -> None:
    with pytest.raises(ValueError, match="scale_jitter"):
        AugmentConfig(scale_jitter=1.5)
    with pytest.raises(ValueError, match="rotation_distribution"):
        AugmentConfig(rotation_distribution="cauchy")
    draws = [draw_augmentation(np.random.default_rng(s), dexycb_augmentation()) for s in range(200)]
    rotations = np.array([d.rotation for d in draws])
    assert np.abs(rotations).max() <= math.radians(60) + 1e-9
    assert 0.25 < np.mean(rotations == 0) < 0.55
    scales = np.array([d.scale for d in draws])
    assert scales.min() >= 0.8 and scales.max() <= 1.2


def test_annotation_dataset_is_reproducible_per_seed_epoch_and_index() -> None:
    frames = [_annotation(s) for s in range(3)]
    dataset = AnnotationDataset(frames, augment=ho3d_augmentation(), seed=4)
    first, again = dataset[1], dataset[1]
    np.testing.assert_array_equal(first.image, again.image)
    dataset.set_epoch(1)
    assert not np.array_equal(dataset[1].image, first.image)
    assert len(dataset) == 3
    with pytest.raises(IndexError):
        dataset[3]


def test_frames_whose_boxes_miss_the_image_crop_the_whole_image() -> None:
    base = _annotation(4)
    annotation = _annotation(4, joints_3d=base.joints_3d + (3.0, 0.0, 0.0), object_translation=np.array([3.0, 0.0, 0.6]))
    sample = build_sample(annotation)
    np.testing.assert_allclose(sample.crop_affine, camera.crop_affine(np.array([0.0, 0.0, 640.0, 480.0])), atol=1e-9)
    assert sample.joints_valid and sample.joints_2d.min() >= 0 and sample.joints_2d.max() <= 1
