"""Box sources in order (external, detector, tracking, ROI), track judged by detections, hand selection,
the hand-centred object box and the object box seen by an estimate."""

import numpy as np
import pytest

from hfl_ros.constants import CONTROL_POINT_LAYOUT
from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.detection.policy import (
    BoxPolicy, ExternalRois, PolicySettings, frame_object_name, object_box_from_estimate, select_hand,
)
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

SIZE = (640, 480)
K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
CONTROL_POINTS = np.array(CONTROL_POINT_LAYOUT) * 0.1 - 0.05


def detection(box, side="right", score=0.9):
    box = np.asarray(box, dtype=np.float64)
    corners = np.array([box[:2], box[2:]])
    return HandDetection(np.repeat(corners, [11, 10], axis=0), score, side, box, "full")


def estimate_with_hand(box, score=1.0, object_points=None):
    """An estimate whose 2D joints fill `box` (joints' box = box / 1.1) and whose object has no pose."""
    box = np.asarray(box, dtype=np.float64)
    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 / 1.1
    joints_2d = np.repeat(np.array([centre - half, centre + half]), [11, 10], axis=0)
    points = np.zeros((21, 2)) if object_points is None else object_points
    hand = HandEstimate(np.zeros((21, 3)), np.zeros((778, 3)), np.zeros((1538, 3), int), joints_2d, np.eye(4),
                        np.zeros(48), np.zeros(10), box, score)
    obj = ObjectEstimate("thing", None, None, points, np.ones(21) if object_points is not None else np.zeros(21),
                         0, box, 1.0)
    return HandObjectEstimate(hand, obj)


def choose(policy, stamp, detections=None):
    """The primary target of a frame (None: no hand)."""
    targets = policy.choose_hands(stamp, SIZE, detections)
    return targets[0] if targets else None


def observe(policy, stamp, hand, estimate):
    policy.observe_hands(stamp, [(hand, estimate)], K, CONTROL_POINTS)


def due(policy, stamp):
    return policy.detection_request(stamp) is not None


def test_settings_reject_unknown_selection_and_bad_rois():
    with pytest.raises(ValueError, match="hand_selection"):
        PolicySettings(hand_selection="nearest")
    with pytest.raises(ValueError, match="initial_hand_roi"):
        PolicySettings(initial_hand_roi=(0.5, 0.5, 0.2, 0.9))


def test_external_rois_come_first_then_detector():
    policy = BoxPolicy(PolicySettings(), detector=True)
    policy.set_external(ExternalRois(1.0, np.array([10, 10, 110, 110.0]), np.array([50, 50, 150, 150.0]), "mug", "left"))
    assert not due(policy, 1.0)
    hand = choose(policy, 1.0, [detection([300, 300, 400, 400])])
    assert (hand.box.source, hand.side) == ("external", "left")
    assert policy.object_start(1.0, SIZE, hand).source == "external"
    assert due(policy, 2.0)  # the ROIs are too old for this stamp
    hand = choose(policy, 2.0, [detection([300, 300, 400, 400])])
    assert hand.box.source == "detector"
    np.testing.assert_allclose(hand.box.box, [300, 300, 400, 400])


def test_tracking_follows_the_estimate_between_detector_runs_every_n_frames():
    policy = BoxPolicy(PolicySettings(detect_every=3, tracking_margin=1.0), detector=True)
    truth = lambda frame: np.array([100.0 + 10 * frame, 100, 200 + 10 * frame, 200])  # noqa: E731
    hand = choose(policy, 0.0, [detection(truth(0))])
    observe(policy, 0.0, hand, estimate_with_hand(truth(0)))
    runs, sources, ids = [], [], {hand.track_id}
    for frame in range(1, 7):
        stamp = frame / 30
        runs.append(due(policy, stamp))
        hand = choose(policy, stamp, [detection(truth(frame))] if runs[-1] else None)
        sources.append(hand.box.source)
        ids.add(hand.track_id)
        assert box_iou(hand.box.box, truth(frame)) > 0.8
        observe(policy, stamp, hand, estimate_with_hand(truth(frame)))
    assert runs == [False, False, True, False, False, True]
    assert sources == ["tracking", "tracking", "detector", "tracking", "tracking", "detector"]
    assert len(ids) == 1 and policy.counts["track_losses"] == 0


def test_tracked_box_moves_with_the_hand_velocity():
    policy = BoxPolicy(PolicySettings(tracking_margin=1.0, detect_every=0), detector=True)
    hand = choose(policy, 0.0, [detection([100, 100, 200, 200])])
    observe(policy, 0.0, hand, estimate_with_hand([100, 100, 200, 200]))
    hand = choose(policy, 0.1, None)
    observe(policy, 0.1, hand, estimate_with_hand([120, 100, 220, 200]))
    np.testing.assert_allclose(choose(policy, 0.2, None).box.box, [140, 100, 240, 200], atol=1e-6)


def test_detections_elsewhere_end_the_track_and_reacquire():
    policy = BoxPolicy(PolicySettings(detect_every=1), detector=True)
    hand = choose(policy, 0.0, [detection([100, 100, 200, 200])])
    observe(policy, 0.0, hand, estimate_with_hand([100, 100, 200, 200]))
    hand = choose(policy, 0.1, [detection([400, 250, 500, 350])])
    assert hand.box.source == "detector"
    np.testing.assert_allclose(hand.box.box, [400, 250, 500, 350])
    assert policy.counts == {"detector_runs": 2, "track_losses": 1, "reacquisitions": 1,
                             "track_ends": {"redetected": 1}}


def test_track_unseen_by_the_detector_ends_after_max_unconfirmed_runs():
    policy = BoxPolicy(PolicySettings(detect_every=1, max_unconfirmed=2), detector=True)
    hand = choose(policy, 0.0, [detection([100, 100, 200, 200])])
    observe(policy, 0.0, hand, estimate_with_hand([100, 100, 200, 200]))
    hand = choose(policy, 0.1, [])
    assert hand.box.source == "tracking"
    observe(policy, 0.1, hand, estimate_with_hand([100, 100, 200, 200]))
    assert choose(policy, 0.2, []) is None
    assert policy.counts["track_losses"] == 1


def test_initial_roi_is_the_last_resort_and_without_it_there_is_no_hand():
    assert choose(BoxPolicy(PolicySettings(), detector=False), 0.0) is None
    policy = BoxPolicy(PolicySettings(initial_hand_roi=(0.25, 0.25, 0.75, 0.75),
                                      initial_object_roi=(0.3, 0.3, 0.7, 0.7)), detector=True)
    hand = choose(policy, 0.0, [])
    assert hand.box.source == "roi"
    np.testing.assert_allclose(hand.box.box, [160, 120, 480, 360])
    assert policy.object_start(0.0, SIZE, hand).source == "roi"


def test_low_hand_score_ends_the_track():
    policy = BoxPolicy(PolicySettings(tracking_min_hand_score=0.5), detector=True)
    hand = choose(policy, 0.0, [detection([100, 100, 200, 200])])
    observe(policy, 0.0, hand, estimate_with_hand([100, 100, 200, 200], score=0.2))
    assert due(policy, 0.1)
    assert choose(policy, 0.1, []) is None


@pytest.mark.parametrize("selection, expected", [("right", 0), ("left", 1), ("larger", 1), ("holding", 0)])
def test_hand_selection(selection, expected):
    hands = [detection([100, 100, 200, 200], "right"), detection([300, 100, 450, 250], "left")]
    chosen = select_hand(hands, selection, lambda d: d.handedness, object_box=np.array([150, 150, 260, 260.0]))
    assert chosen is hands[expected]


def test_selection_by_side_ignores_the_other_side_and_forced_side_applies():
    assert select_hand([detection([0, 0, 50, 50], "right")], "left", lambda d: d.handedness) is None
    policy = BoxPolicy(PolicySettings(hand_side="left"), detector=True)
    assert choose(policy, 0.0, [detection([0, 0, 50, 50], "right")]).side == "left"


def test_object_box_starts_hand_centred_then_tracks():
    policy = BoxPolicy(PolicySettings(object_from_hand_scale=2.0), detector=True)
    hand = choose(policy, 0.0, [detection([200, 200, 300, 300])])
    start = policy.object_start(0.0, SIZE, hand)
    assert start.source == "hand"
    np.testing.assert_allclose(start.box, [150, 150, 350, 350])
    object_points = np.random.default_rng(0).uniform(220, 320, size=(21, 2))
    observe(policy, 0.0, hand, estimate_with_hand([200, 200, 300, 300], object_points=object_points))
    tracked = policy.object_start(0.1, SIZE, choose(policy, 0.1, None))
    assert tracked.source == "tracking"
    assert box_iou(tracked.box, points_box(object_points)) > 0.8


def test_object_box_from_estimate_uses_the_pose_else_confident_points():
    rotation, translation = np.eye(3), np.array([0.0, 0.0, 0.5])
    projected = project_points(transform_points(CONTROL_POINTS, rotation, translation), K)
    with_pose = ObjectEstimate("thing", rotation, translation, np.zeros((21, 2)), np.zeros(21), 21, np.zeros(4), 1.0)
    np.testing.assert_allclose(object_box_from_estimate(with_pose, K, CONTROL_POINTS), points_box(projected))
    scores = np.zeros(21)
    scores[:5] = 0.9
    points = np.arange(42, dtype=float).reshape(21, 2)
    without = ObjectEstimate("thing", None, None, points, scores, 0, np.zeros(4), 0.2)
    np.testing.assert_allclose(object_box_from_estimate(without, K, CONTROL_POINTS), points_box(points[:5]))
    assert object_box_from_estimate(without, K, CONTROL_POINTS, min_points=6) is None


def test_frame_object_comes_from_the_external_class_when_registered():
    rois = ExternalRois(0.0, None, None, object_class="025_mug")
    assert frame_object_name(rois, "006_mustard_bottle", {"025_mug", "006_mustard_bottle"}) == ("025_mug", None)
    name, warning = frame_object_name(rois, "006_mustard_bottle", {"006_mustard_bottle"})
    assert name == "006_mustard_bottle" and "025_mug" in warning
    assert frame_object_name(None, "006_mustard_bottle", set()) == ("006_mustard_bottle", None)
