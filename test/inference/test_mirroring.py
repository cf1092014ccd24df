"""Left hands through the right-hand network: the left-hand result on an image is the mirrored right-hand
result on the mirrored image, and it stays consistent with the original camera; both hands of a frame in one
batched network call, each equal to its single call (real network, untrained)."""

import numpy as np
import pytest

from hfl_ros.data.synthetic import bundled_sample, default_assets, true_boxes
from hfl_ros.geometry.camera import project_points, transform_points
from hfl_ros.geometry.mirror import (
    mirror_axis_angles, mirror_box, mirror_faces, mirror_image, mirror_intrinsics, mirror_pixels, mirror_points,
    mirror_pose,
)
from hfl_ros.inference.estimator import EstimationError, HandObjectEstimator
from hfl_ros.inference.mirroring import SideRequest, estimate_side, estimate_sides, mirror_object, mirror_object_model
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
    np.testing.assert_array_equal(left.hand.joints, mirror_points(right.hand.joints))
    np.testing.assert_array_equal(left.hand.vertices, mirror_points(right.hand.vertices))
    np.testing.assert_array_equal(left.hand.faces, mirror_faces(right.hand.faces))
    np.testing.assert_array_equal(left.hand.joints_2d, mirror_pixels(right.hand.joints_2d, width))
    np.testing.assert_array_equal(left.hand.wrist_pose, mirror_pose(right.hand.wrist_pose))
    np.testing.assert_array_equal(left.hand.mano_pose, mirror_axis_angles(right.hand.mano_pose))
    np.testing.assert_allclose(left.hand.box, hand_box)
    np.testing.assert_array_equal(left.object.control_points_2d,
                                  mirror_pixels(right.object.control_points_2d, width))
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


@pytest.fixture(scope="module")
def two_hands(scene):
    """A frame with two hands: the bundled image beside its own mirror image (2W wide; the right half shows
    a left hand), cx at the frame's centre so that the whole view is its own mirror. Returns (image, K, the
    right and the left request, object model)."""
    image, K, hand_box, object_box, model = scene
    width = image.shape[1]
    wide = np.concatenate((image, mirror_image(image)), axis=1)
    wide_K = K.copy()
    wide_K[0, 2] = (2 * width - 1) / 2
    right = SideRequest(hand_box, object_box, "right")
    left = SideRequest(mirror_box(hand_box, 2 * width), mirror_box(object_box, 2 * width), "left")
    return wide, wide_K, right, left, model


class CountingNetwork:
    """The estimator's real network, recording the batch size of every call."""

    def __init__(self, network):
        self.network, self.batches = network, []

    def __call__(self, images, hand_boxes, object_boxes):
        self.batches.append(images.shape[0])
        return self.network(images, hand_boxes, object_boxes)


def test_both_hands_go_through_the_network_in_one_batched_call(estimator, two_hands, monkeypatch):
    image, K, right, left, model = two_hands
    counting = CountingNetwork(estimator.network)
    monkeypatch.setattr(estimator, "network", counting)
    other = default_assets().object_model("primitive_box")
    held = SideRequest(left.hand_box, left.object_box, "left", object_model=other)
    estimates = estimate_sides(estimator, image, K, [right, held], model)
    assert counting.batches == [2]
    assert [estimate.hand.side for estimate in estimates] == ["right", "left"]
    assert [estimate.object.name for estimate in estimates] == [model.name, other.name] and model.name != other.name


def _assert_equal_but_for_batching(got, expected):
    """Batch 2 against batch 1: the convolutions may sum in another order. Measured on this CPU (bundled
    frame, plain and default inference paths): joints 2.0e-7 m, vertices 1.3e-7 m, joints_2d 4.7e-5 px,
    MANO pose 2.3e-6 rad, control points and scores equal. Tolerances: 50x that; a sample mixed up with the
    other hand's or cropped with the other's geometry is off by centimetres and tens of pixels."""
    np.testing.assert_allclose(got.hand.joints, expected.hand.joints, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.hand.vertices, expected.hand.vertices, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.hand.joints_2d, expected.hand.joints_2d, atol=2e-3, rtol=0)
    np.testing.assert_allclose(got.hand.mano_pose, expected.hand.mano_pose, atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.object.control_points_2d, expected.object.control_points_2d, atol=2e-3, rtol=0)
    np.testing.assert_allclose(got.object.control_point_scores, expected.object.control_point_scores,
                               atol=1e-5, rtol=0)
    assert got.hand.side == expected.hand.side and got.object.has_pose == expected.object.has_pose
    if got.object.has_pose:
        np.testing.assert_allclose(got.object.translation, expected.object.translation, atol=1e-4, rtol=0)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_each_hand_of_a_batch_equals_its_single_call(estimator, two_hands, order):
    image, K, right, left, model = two_hands
    requests = [(right, left)[index] for index in order]
    batched = estimate_sides(estimator, image, K, requests, model)
    for request, got in zip(requests, batched):
        single = estimate_side(estimator, image, K, request.hand_box, request.object_box, model, request.side)
        _assert_equal_but_for_batching(got, single)


def test_a_frame_that_is_its_own_mirror_gives_mirror_image_hands(estimator, two_hands):
    """Both crops are the same pixels (the left one cut from the flipped frame), so the left hand is the
    right hand mirrored about the frame's centre: any slip in which sample is mirrored back, in the flipped
    K or boxes, breaks it."""
    image, K, right, left, model = two_hands
    width = image.shape[1]
    right_estimate, left_estimate = estimate_sides(estimator, image, K, [right, left], model)
    np.testing.assert_allclose(left_estimate.hand.joints, mirror_points(right_estimate.hand.joints), atol=1e-5)
    np.testing.assert_allclose(left_estimate.hand.joints_2d, mirror_pixels(right_estimate.hand.joints_2d, width),
                               atol=2e-3)
    np.testing.assert_allclose(left_estimate.hand.box, left.hand_box)
    np.testing.assert_allclose(left_estimate.object.control_points_2d,
                               mirror_pixels(right_estimate.object.control_points_2d, width), atol=2e-3)
    assert right_estimate.hand.joints[0, 0] < 0 < left_estimate.hand.joints[0, 0]


def test_a_bad_request_is_refused_naming_it(estimator, two_hands):
    image, K, right, left, model = two_hands
    outside = SideRequest(np.array([5000.0, 10, 5100, 90]), np.array([5000.0, 10, 5100, 90]), "left")
    with pytest.raises(EstimationError, match="crop 1 of 2") as error:
        estimate_sides(estimator, image, K, [right, outside], model)
    assert error.value.index == 1
    with pytest.raises(ValueError, match="at least one"):
        estimate_sides(estimator, image, K, [], model)
    with pytest.raises(ValueError, match="'both'"):
        estimate_sides(estimator, image, K, [right, SideRequest(left.hand_box, left.object_box, "both")], model)

