"""Random scenes: determinism per generator state, ground truth that lands on the rendered pixels, scene ranges."""

import cv2
import numpy as np
import pytest

from hfl_ros.data.synthetic import PRIMITIVES, SyntheticScene, primitive_mesh, render_frame
from hfl_ros.geometry import camera


def test_render_frame_is_deterministic_per_generator_state(assets, small_scene) -> None:
    first = render_frame(np.random.default_rng(5), small_scene, assets)
    again = render_frame(np.random.default_rng(5), small_scene, assets)
    other = render_frame(np.random.default_rng(6), small_scene, assets)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1].joints_3d, again[1].joints_3d)
    np.testing.assert_array_equal(first[2]["hand"], again[2]["hand"])
    assert not np.array_equal(first[0], other[0])
    assert first[0].shape == (120, 160, 3) and first[0].dtype == np.uint8


@pytest.mark.parametrize("seed", range(4))
def test_ground_truth_lands_on_the_rendered_pixels(assets, seed, small_scene) -> None:
    image, annotation, masks = render_frame(np.random.default_rng(seed), small_scene, assets)
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
    assert masks["hand"].sum() >= small_scene.min_hand_pixels * 160 * 120


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
