"""Synthetic renderer: determinism, ground truth that matches the pixels, Samples and stored scenes."""

import cv2
import numpy as np
import pytest

from hfl_ros.data.augment import ho3d_augmentation
from hfl_ros.data.synthetic import (
    PRIMITIVES,
    SceneAssets,
    SyntheticDataset,
    SyntheticScene,
    default_assets,
    primitive_mesh,
    read_scene,
    read_scene_object,
    render_frame,
    render_scene,
    write_scene,
)
from hfl_ros.geometry import camera
from hfl_ros.geometry.mesh import boundary_loops

SMALL = SyntheticScene(image_size=(160, 120))


@pytest.fixture(scope="module")
def assets(mano_dir) -> SceneAssets:
    return SceneAssets.load(mano_dir)


def test_render_frame_is_deterministic_per_generator_state(assets) -> None:
    first = render_frame(np.random.default_rng(5), SMALL, assets)
    again = render_frame(np.random.default_rng(5), SMALL, assets)
    other = render_frame(np.random.default_rng(6), SMALL, assets)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1].joints_3d, again[1].joints_3d)
    np.testing.assert_array_equal(first[2]["hand"], again[2]["hand"])
    assert not np.array_equal(first[0], other[0])
    assert first[0].shape == (120, 160, 3) and first[0].dtype == np.uint8


@pytest.mark.parametrize("seed", range(4))
def test_ground_truth_lands_on_the_rendered_pixels(assets, seed) -> None:
    image, annotation, masks = render_frame(np.random.default_rng(seed), SMALL, assets)
    kernel = np.ones((3, 3), np.uint8)
    hand = cv2.dilate(masks["hand"].astype(np.uint8), kernel) > 0
    covered = cv2.dilate((masks["hand"] | masks["object"]).astype(np.uint8), kernel) > 0
    joints = np.rint(camera.project_points(annotation.joints_3d, annotation.K)).astype(int)
    inside = (joints[:, 0] >= 0) & (joints[:, 0] < 160) & (joints[:, 1] >= 0) & (joints[:, 1] < 120)
    assert inside.sum() >= 18
    x, y = joints[inside, 0], joints[inside, 1]
    # Every joint shows hand, or the object hiding it; most show hand.
    assert covered[y, x].all()
    assert hand[y, x].mean() >= 0.5
    # The masks lie inside the boxes of the projected ground-truth geometry.
    vertices = camera.project_points(annotation.vertices_3d, annotation.K)
    ys, xs = np.nonzero(masks["hand"])
    assert xs.min() >= vertices[:, 0].min() - 1 and xs.max() <= vertices[:, 0].max() + 1
    assert ys.min() >= vertices[:, 1].min() - 1 and ys.max() <= vertices[:, 1].max() + 1
    box = camera.points_box(camera.project_points(
        camera.transform_points(annotation.object_control_points, annotation.object_rotation, annotation.object_translation),
        annotation.K))
    ys, xs = np.nonzero(masks["object"])
    assert xs.min() >= box[0] - 1 and xs.max() <= box[2] + 1 and ys.min() >= box[1] - 1 and ys.max() <= box[3] + 1
    np.testing.assert_allclose(annotation.joints_3d[0], annotation.root_3d, atol=1e-6)
    assert masks["hand"].sum() >= SMALL.min_hand_pixels * 160 * 120


def test_render_scene_reproduces_a_given_pose(assets) -> None:
    _, annotation, masks = render_frame(np.random.default_rng(11), SMALL, assets)
    image, again, again_masks = render_scene(
        assets, annotation.mano_pose, annotation.mano_shape, annotation.root_3d, annotation.object_name,
        annotation.object_rotation, annotation.object_translation, annotation.K, (160, 120),
    )
    np.testing.assert_array_equal(again_masks["hand"], masks["hand"])
    np.testing.assert_array_equal(again_masks["object"], masks["object"])
    np.testing.assert_allclose(again.vertices_3d, annotation.vertices_3d, atol=1e-9)
    background = ~(again_masks["hand"] | again_masks["object"])
    assert (image[background] == 128).all()


def test_primitives_and_scene_validation(assets) -> None:
    scene = SyntheticScene(image_size=(96, 96), objects=tuple(PRIMITIVES))
    _, annotation, _ = render_frame(np.random.default_rng(0), scene, assets)
    assert annotation.object_name in PRIMITIVES
    vertices, faces = primitive_mesh("primitive_box")
    np.testing.assert_allclose(np.ptp(vertices, axis=0), 2 * np.asarray(PRIMITIVES["primitive_box"]))
    corners = vertices[faces]
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    assert volume == pytest.approx(np.prod(2 * np.asarray(PRIMITIVES["primitive_box"])))
    with pytest.raises(ValueError, match="depth_range"):
        SyntheticScene(depth_range=(0.01, 0.5))
    with pytest.raises(ValueError, match="image_size"):
        SyntheticScene(image_size=(8, 8))


def test_dataset_samples_are_deterministic_and_consistent(assets) -> None:
    dataset = SyntheticDataset(4, seed=3, scene=SMALL, augment=ho3d_augmentation(), assets=assets)
    first, again, other = dataset[2], dataset[2], dataset[3]
    np.testing.assert_array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)
    assert first.joints_valid and first.mano_valid and first.vertices_valid and first.object_valid and first.mask_valid
    joints = camera.project_points(first.joints_3d.astype(np.float64) + first.root_3d, first.K_crop)
    np.testing.assert_allclose(camera.normalise_in_box(joints, first.hand_box), first.joints_2d, atol=1e-4)
    vertices, _ = assets.hand(first.mano_pose.astype(np.float64), first.mano_shape.astype(np.float64))
    np.testing.assert_allclose(vertices, first.vertices_3d, atol=2e-5)
    assert first.object_mask.sum() > 0 and first.image.shape == (3, 256, 256)
    assert not np.array_equal(SyntheticDataset(4, seed=4, scene=SMALL, assets=assets)[2].image, first.image)
    with pytest.raises(IndexError):
        dataset.frame(4)


def test_write_and_read_scene_round_trip(assets, tmp_path) -> None:
    image, annotation, masks = render_frame(np.random.default_rng(2), SMALL, assets)
    paths = write_scene(tmp_path / "scene", image, annotation, masks, assets.object_model(annotation.object_name))
    assert all(path.is_file() for path in paths.values())
    read_image, read_annotation, read_masks = read_scene(tmp_path / "scene")
    np.testing.assert_array_equal(read_image, image)
    np.testing.assert_array_equal(read_masks["object"], masks["object"])
    for name in ("K", "joints_3d", "mano_pose", "vertices_3d", "object_rotation", "object_translation", "object_control_points"):
        np.testing.assert_allclose(getattr(read_annotation, name), getattr(annotation, name), atol=1e-12)
    model = read_scene_object(tmp_path / "scene")
    np.testing.assert_allclose(model.control_points, annotation.object_control_points, atol=1e-6)
    assert model.name == annotation.object_name


def test_default_assets_use_the_procedural_hand() -> None:
    assets = default_assets()
    assert assets is default_assets() and assets.faces.shape == (1538, 3)
    np.testing.assert_allclose(np.linalg.norm(assets.rig.palm_normal), 1.0)


def test_wrist_cap_closes_the_hand(assets) -> None:
    assert [len(loop) for loop in assets.wrist_loops] == [16]
    assert boundary_loops(assets.hand_render_faces) == []
    vertices = assets.hand_render_vertices(assets.hand(np.zeros(48), np.zeros(10))[0])
    corners = vertices[assets.hand_render_faces]
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    assert volume > 1e-4  # outward-oriented closed surface: positive enclosed volume (m^3)
