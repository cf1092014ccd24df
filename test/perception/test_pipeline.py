"""PerceptionPipeline: finiteness check (a skipped frame, filters restarted), quality gate, one filter per
side, two hands in one batched call per refinement pass, each with its own object, one object in both hands.

Rendered frames and the real hand detector (MediaPipe); the network is replaced by estimators with known
outputs (the ground truth seen through the boxes, `BoxLimitedOracle`, or a hand drawn from the box), so
that what is judged is the pipeline around the network.
"""

import dataclasses

import numpy as np
import pytest

from hfl_ros.data.synthetic import default_assets
from hfl_ros.detection.policy import HandTarget, PolicySettings, SourcedBox
from hfl_ros.evaluation.tracking_scenes import BoxLimitedOracle, render_sequence, sequence_object_model
from hfl_ros.filtering import FilterSettings
from hfl_ros.geometry.boxes import box_centre, box_iou
from hfl_ros.geometry.camera import project_points
from hfl_ros.inference.estimator import EstimationError
from hfl_ros.inference.tracking import TrackedHand
from hfl_ros.perception import GateSettings, PerceptionSettings
from hfl_ros.perception.pipeline import SKIP_NON_FINITE, PerceptionPipeline, non_finite_fields, shared_object
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

pytest.importorskip("mediapipe", reason="the hand detector needs the `detector` extra")

#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py).
SEED = 18
SETTINGS = PerceptionSettings(policy=PolicySettings(hand_side="right"), filter=FilterSettings())


class NanOracle(BoxLimitedOracle):
    """The ground truth through the boxes, with NaN joints while `poisoned` is set."""

    poisoned = False

    def estimate_batch(self, image, requests):
        estimates = super().estimate_batch(image, requests)
        if self.poisoned:
            estimates = [dataclasses.replace(e, hand=dataclasses.replace(e.hand, joints=e.hand.joints * np.nan))
                         for e in estimates]
        return estimates


class BoxHandEstimator:
    """A hand drawn from its box: 21 joints spread over the box at DEPTH (m), the object's control points
    around the object box's centre at DEPTH; records the batch size of every call."""

    untrained = True
    DEPTH = 0.5

    def __init__(self) -> None:
        self.batches = []
        self.device = "cpu"

    def estimate_batch(self, image, requests):
        self.batches.append(len(requests))
        return [self._known(r.K, np.asarray(r.hand_box, float), np.asarray(r.object_box, float), r.object_model)
                for r in requests]

    def _known(self, K, hand_box, object_box, model) -> HandObjectEstimate:
        grid = np.stack(np.meshgrid(np.linspace(0.2, 0.8, 7), np.linspace(0.2, 0.8, 3)), -1).reshape(21, 2)
        joints_2d = hand_box[:2] + grid * (hand_box[2:] - hand_box[:2])
        rays = np.linalg.solve(K, np.vstack((joints_2d.T, np.ones(21)))).T
        joints = rays * self.DEPTH
        wrist_pose = np.eye(4)
        wrist_pose[:3, 3] = joints[0]
        hand = HandEstimate(joints=joints, vertices=np.repeat(joints[:1], 778, 0), faces=np.zeros((1538, 3), int),
                            joints_2d=joints_2d, wrist_pose=wrist_pose, mano_pose=np.zeros(48),
                            mano_shape=np.zeros(10), box=hand_box, score=0.9)
        centre = np.append(box_centre(object_box), 1.0)
        translation = np.linalg.solve(K, centre) * self.DEPTH
        points = model.control_points + translation
        obj = ObjectEstimate(name=model.name, rotation=np.eye(3), translation=translation,
                             control_points_2d=project_points(points, K), control_point_scores=np.full(21, 0.9),
                             inliers=21, box=object_box, score=0.9)
        return HandObjectEstimate(hand=hand, object=obj, timings={"network": 0.01})


@pytest.fixture(scope="module")
def sequence():
    return render_sequence(SEED, 6)


def _run(pipeline, oracle, sequence, model, poisoned=()):
    results = []
    for index, frame in enumerate(sequence):
        oracle.with_truth(frame.annotation)
        oracle.poisoned = index in poisoned
        results.append(pipeline.process(frame.image, frame.annotation.K, index / 30.0, model))
    return results


def test_non_finite_fields_are_named(sequence):
    oracle = BoxLimitedOracle(default_assets().faces).with_truth(sequence[0].annotation)
    frame = sequence[0]
    estimate = oracle.estimate(frame.image, frame.annotation.K, frame.hand_box, frame.object_box,
                               sequence_object_model(frame))
    assert non_finite_fields(estimate) == []
    estimate.hand.joints_2d[3, 1] = np.nan
    estimate = dataclasses.replace(estimate, object=dataclasses.replace(
        estimate.object, translation=np.array([0.0, 0.0, np.inf]), rotation=np.eye(3)))
    assert non_finite_fields(estimate) == ["hand.joints_2d", "object.translation"]


def test_a_non_finite_estimate_is_a_skipped_frame_and_the_filter_restarts_after_it(sequence):
    oracle = NanOracle(default_assets().faces)
    pipeline = PerceptionPipeline(oracle, SETTINGS)
    try:
        results = _run(pipeline, oracle, sequence, sequence_object_model(sequence[0]), poisoned={3})
    finally:
        pipeline.close()
    assert [r.skipped for r in results] == [None, None, None, SKIP_NON_FINITE, None, None]
    skipped = results[3]
    assert skipped.hands == () and "hand.joints" in skipped.detail and skipped.detections is not None
    assert all(r.hand is not None and r.hand.side == "right" for i, r in enumerate(results) if i != 3)
    assert results[0].hand.filtered.hand.reset == "start" and results[4].hand.filtered.hand.reset == "track_lost"
    for before, after in ((results[0], results[1]), (results[1], results[2]), (results[4], results[5])):
        same_track = before.hand.track_id == after.hand.track_id  # a new track is a new hand: the filter restarts
        assert (after.hand.filtered.hand.reset is None) == same_track
    assert np.all(np.isfinite(results[4].hand.output.hand.joints))


def test_the_quality_gate_keeps_a_low_score_hand_from_the_filter_and_the_outputs(sequence):
    oracle = BoxLimitedOracle(default_assets().faces)
    strict = dataclasses.replace(SETTINGS, gate=GateSettings(min_hand_score=1.01, min_object_inliers=0))
    pipeline = PerceptionPipeline(oracle, strict)
    try:
        results = _run(pipeline, oracle, sequence[:3], sequence_object_model(sequence[0]))
    finally:
        pipeline.close()
    for result in results:
        hand = result.hand
        assert not hand.hand_shown and hand.filtered.hand is None  # score <= 1 never passes 1.01
        assert hand.object_shown == hand.estimate.object.has_pose
        assert (hand.filtered.object is not None) == hand.object_shown
        np.testing.assert_array_equal(hand.output.hand.joints, hand.estimate.hand.joints)  # raw: no filtered hand


def _two_hands(frame):
    """The rendered right hand on the right and its mirror image (a left hand) on the left: (image, K)."""
    width = frame.image.shape[1]
    image = np.ascontiguousarray(np.concatenate((frame.image[:, ::-1], frame.image), axis=1))
    K = frame.annotation.K.copy()
    K[0, 2] += width
    return image, K


def test_two_hands_go_through_one_batched_call_per_pass_each_with_its_object_and_filter(sequence):
    frame = sequence[0]
    image, K = _two_hands(frame)
    width = frame.image.shape[1]
    estimator = BoxHandEstimator()
    settings = dataclasses.replace(SETTINGS, policy=PolicySettings(max_hands=2))
    pipeline = PerceptionPipeline(estimator, settings)
    try:
        result = pipeline.process(image, K, 0.0, sequence_object_model(frame))
    finally:
        pipeline.close()
    assert result.skipped is None and sorted(hand.side for hand in result.hands) == ["left", "right"]
    right, left = result.side("right"), result.side("left")
    assert box_centre(right.hand_box)[0] > width > box_centre(left.hand_box)[0]  # each side where it is
    np.testing.assert_allclose(box_centre(left.hand_box)[0], 2 * width - box_centre(right.hand_box)[0], atol=8.0)
    assert right.track_id != left.track_id and right.object_track_id != left.object_track_id
    for hand in (right, left):
        assert hand.estimate.hand.side == hand.side and hand.hand_source == "detector"
        assert box_iou(hand.object_box, hand.hand_box) > 0  # the object starts at its own hand
        assert (box_centre(hand.object_box)[0] > width) == (hand.side == "right")
        assert hand.filtered.hand.side == hand.side and hand.filtered.hand.reset == "start"
    passes = max(hand.passes for hand in result.hands)
    assert len(estimator.batches) == passes and estimator.batches[0] == 2  # both hands in each call
    assert estimator.batches == sorted(estimator.batches, reverse=True)


def _tracked(side, object_box, score):
    estimate = BoxHandEstimator()._known(np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]]),
                                         np.array([100.0, 100, 200, 200]), np.asarray(object_box, float),
                                         sequence_object_model(render_sequence(SEED, 1)[0]))
    estimate = dataclasses.replace(estimate, object=dataclasses.replace(estimate.object, score=score))
    return TrackedHand(HandTarget(SourcedBox(estimate.hand.box, "detector"), side, None, 1), estimate,
                       SourcedBox(np.asarray(object_box, float), "refined"), 1)


def test_an_object_in_both_hands_is_one_object_with_the_better_estimate():
    right = _tracked("right", [100, 100, 300, 300], 0.6)
    left = _tracked("left", [110, 105, 305, 310], 0.8)  # IoU 0.9: the same object
    owner, hands = shared_object([right, left])
    assert owner == 1 and hands[1] is left
    assert hands[0].estimate.object is left.estimate.object and hands[0].object_box is left.object_box
    assert hands[0].estimate.hand is right.estimate.hand  # the hand stays its own
    apart = _tracked("left", [400, 100, 600, 300], 0.8)
    assert shared_object([right, apart]) == (None, [right, apart])


class RefusesLeftHands(BoxHandEstimator):
    """Refuses every left hand of a batch, as HandObjectEstimator refuses a hand whose box cannot be cropped."""

    def estimate_batch(self, image, requests):
        for index, request in enumerate(requests):
            if request.mirrored:
                raise EstimationError(f"request {index}: cannot be cropped", index=index)
        return super().estimate_batch(image, requests)


def test_a_hand_the_estimator_refuses_leaves_the_other_hand_in_the_frame(sequence):
    frame = sequence[0]
    image, K = _two_hands(frame)
    pipeline = PerceptionPipeline(RefusesLeftHands(), dataclasses.replace(SETTINGS, policy=PolicySettings(max_hands=2)))
    try:
        result = pipeline.process(image, K, 0.0, sequence_object_model(frame))
    finally:
        pipeline.close()
    assert result.skipped is None and [hand.side for hand in result.hands] == ["right"]
    assert result.detections == 2  # the detector saw both
