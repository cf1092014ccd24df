"""Left hands through the right-hand network: the left-hand result on an image is the mirrored right-hand
result on the mirrored image, and it stays consistent with the original camera (real network, untrained)."""

import numpy as np
import pytest

from hfl_ros.data.synthetic import bundled_sample, default_assets, true_boxes
from hfl_ros.geometry.camera import project_points, transform_points
from hfl_ros.geometry.mirror import (
    mirror_axis_angles, mirror_box, mirror_faces, mirror_image, mirror_intrinsics, mirror_pixels, mirror_points,
    mirror_pose,
)
from hfl_ros.inference.estimator import HandObjectEstimator
from hfl_ros.inference.mirroring import estimate_side, mirror_object, mirror_object_model
from hfl_ros.results import ObjectEstimate

@pytest.fixture(scope="module")
def estimator(mano_dir):
    return HandObjectEstimator.from_files(None, mano_dir, device="cpu")

@pytest.fixture(scope="module")
def scene():
    image, annotation, _ = bundled_sample()
    hand_box, object_box = true_boxes(annotation)
    return image, annotation.K, hand_box, object_box, default_assets().object_model(annotation.object_name)

def test_left_result_equals_the_mirrored_right_result_on_the_mirrored_image(estimator, scene):
    image, K, hand_box, object_box, model = scene
    width = image.shape[1]
    left = estimate_side(estimator, image, K, hand_box, object_box, model, side="left")
    right = estimator.estimate(mirror_image(image), mirror_intrinsics(K, width), mirror_box(hand_box, width),
                               mirror_box(object_box, width), mirror_object_model(model))
    assert left.hand.side == "left" and right.hand.side == "right"
    np.testing.assert_allclose(left.hand.joints, mirror_points(right.hand.joints))
    np.testing.assert_allclose(left.hand.vertices, mirror_points(right.hand.vertices))
    np.testing.assert_array_equal(left.hand.faces, mirror_faces(right.hand.faces))
    np.testing.assert_allclose(left.hand.joints_2d, mirror_pixels(right.hand.joints_2d, width))
    np.testing.assert_allclose(left.hand.wrist_pose, mirror_pose(right.hand.wrist_pose))
    np.testing.assert_allclose(left.hand.mano_pose, mirror_axis_angles(right.hand.mano_pose))
    np.testing.assert_allclose(left.hand.box, hand_box)
    np.testing.assert_allclose(left.object.control_points_2d, mirror_pixels(right.object.control_points_2d, width))
    np.testing.assert_allclose(left.object.box, object_box)
    assert left.object.has_pose == right.object.has_pose

def test_left_result_is_consistent_with_the_original_camera(estimator, scene):
    """The placed 3D joints project onto the 2D joints as closely as in the mirrored view (any slip in the
    mirrored principal point or pixel flip would show as an offset here)."""
    image, K, hand_box, object_box, model = scene
    width = image.shape[1]
    left = estimate_side(estimator, image, K, hand_box, object_box, model, side="left")
    right = estimator.estimate(mirror_image(image), mirror_intrinsics(K, width), mirror_box(hand_box, width),
                               mirror_box(object_box, width), mirror_object_model(model))
    left_residual = project_points(left.hand.joints, K) - left.hand.joints_2d
    right_residual = project_points(right.hand.joints, mirror_intrinsics(K, width)) - right.hand.joints_2d
    np.testing.assert_allclose(left_residual * [-1, 1], right_residual, atol=1e-6)

def test_mirrored_back_object_pose_is_the_real_objects_proper_pose():
    rng = np.random.default_rng(0)
    model = default_assets().object_model("primitive_box")
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    rotation *= np.linalg.det(rotation)
    translation = np.array([0.02, 0.01, 0.45])
    mirrored = ObjectEstimate("primitive_box", mirror_points(np.eye(3)) @ rotation @ np.diag([-1.0, 1, 1]),
                              mirror_points(translation), np.zeros((21, 2)), np.ones(21), 21,
                              np.array([0.0, 0, 10, 10]), 1.0)
    back = mirror_object(mirrored, 640)
    np.testing.assert_allclose(back.rotation, rotation, atol=1e-12)
    np.testing.assert_allclose(back.translation, translation)
    assert np.linalg.det(back.rotation) == pytest.approx(1.0)
    points = transform_points(mirror_object_model(model).control_points, mirrored.rotation, mirrored.translation)
    np.testing.assert_allclose(mirror_points(points), transform_points(model.control_points, rotation, translation))

def test_right_side_is_the_plain_estimate_and_unknown_sides_are_refused(estimator, scene):
    image, K, hand_box, object_box, model = scene
    plain = estimator.estimate(image, K, hand_box, object_box, model)
    right = estimate_side(estimator, image, K, hand_box, object_box, model, side="right")
    np.testing.assert_array_equal(right.hand.joints, plain.hand.joints)
    with pytest.raises(ValueError, match="side"):
        estimate_side(estimator, image, K, hand_box, object_box, model, side="both")
