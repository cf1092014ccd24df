"""Hand tracks: identity by position with handedness votes (crossing hands do not swap, one hand leaving does
not disturb the other), the side decided by votes with hysteresis, and the network's joints as a fallback
box only while plausible (an untrained network's collapsed joints end the track; a box never shrinks to a
dot). The policy is driven with detections and estimates built here, frame by frame."""

import numpy as np
import pytest

from hfl_ros.constants import CONTROL_POINT_LAYOUT
from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.detection.policy import BoxPolicy, PolicySettings
from hfl_ros.detection.tracks import SideVotes, joints_spread, landmark_error
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

SIZE = (640, 480)
K = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
CONTROL_POINTS = np.array(CONTROL_POINT_LAYOUT) * 0.1 - 0.05
#: A hand's 21 landmarks in a unit square (a spread-out hand), scaled into boxes below.
UNIT_HAND = np.random.default_rng(7).uniform(0.0, 1.0, size=(21, 2))
UNIT_HAND[:2] = [[0.0, 0.0], [1.0, 1.0]]


def landmarks_in(box):
    box = np.asarray(box, dtype=np.float64)
    return box[:2] + UNIT_HAND * (box[2:] - box[:2])


def detection(box, side="right", score=0.95):
    """A detection whose landmarks fill `box` (4,) px (its box: their box x1.1, as the detector makes it)."""
    marks = landmarks_in(box)
    centre, half = np.asarray(box, float).reshape(2, 2).mean(axis=0), (np.asarray(box[2:]) - box[:2]) * 1.1 / 2
    return HandDetection(marks, score, side, np.concatenate((centre - half, centre + half)), "full")


def estimate(joints_2d, score=1.0):
    """An estimate with these 2D joints (21, 2) px and an object without pose or confident points."""
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    hand = HandEstimate(np.zeros((21, 3)), np.zeros((778, 3)), np.zeros((1538, 3), int), joints_2d, np.eye(4),
                        np.zeros(48), np.zeros(10), np.zeros(4), score)
    obj = ObjectEstimate("thing", None, None, np.zeros((21, 2)), np.zeros(21), 0, np.zeros(4), 1.0)
    return HandObjectEstimate(hand, obj)


def collapsed(box):
    """Joints (21, 2) px of an untrained network: all within a few px of the box centre."""
    centre = np.asarray(box, float).reshape(2, 2).mean(axis=0)
    return centre + np.random.default_rng(3).normal(0.0, 1.5, size=(21, 2))


def step(policy, stamp, detections, joints_of=landmarks_in):
    """One frame: choose, then observe with joints_of(target box without the 1.1) per target."""
    targets = policy.choose_hands(stamp, SIZE, detections)
    results = []
    for target in targets:
        box = target.box.box
        centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 / 1.1
        results.append((target, estimate(joints_of(np.concatenate((centre - half, centre + half))))))
    policy.observe_hands(stamp, results, K, CONTROL_POINTS)
    return targets


def test_plausible_joints_carry_the_hand_over_frames_the_detector_misses():
    policy = BoxPolicy(PolicySettings(tracking_margin=1.0), detector=True)
    first = step(policy, 0.0, [detection([100, 100, 200, 200])])
    missed = step(policy, 1 / 30, [])
    assert [t.box.source for t in missed] == ["tracking"] and missed[0].track_id == first[0].track_id
    assert box_iou(missed[0].box.box, first[0].box.box) > 0.9


def test_untrained_network_collapsed_joints_end_the_track_instead_of_shrinking_the_box():
    policy = BoxPolicy(PolicySettings(), detector=True)
    step(policy, 0.0, [detection([100, 100, 260, 260])], joints_of=collapsed)
    assert step(policy, 1 / 30, []) == []
    assert policy.counts["track_ends"] == {"landmark_disagreement": 1}


def test_collapsed_joints_are_implausible_even_without_landmarks_to_compare():
    """No detector (initial ROI): nothing to compare with, the joints' spread alone ends the track."""
    policy = BoxPolicy(PolicySettings(initial_hand_roi=(0.25, 0.25, 0.75, 0.75)), detector=False)
    first = step(policy, 0.0, None, joints_of=collapsed)
    again = step(policy, 1 / 30, None, joints_of=collapsed)
    assert [t.box.source for t in first + again] == ["roi", "roi"]
    assert again[0].track_id > first[0].track_id
    assert policy.counts["track_ends"] == {"implausible_spread": 1}


def test_a_box_that_shrinks_faster_than_the_area_bound_ends_the_track():
    policy = BoxPolicy(PolicySettings(track_max_area_change=1.5, tracking_margin=1.0), detector=True)
    step(policy, 0.0, [detection([100, 100, 200, 200])], joints_of=lambda box: landmarks_in([105, 105, 195, 195]))
    kept = step(policy, 1 / 30, [], joints_of=lambda box: landmarks_in([115, 115, 185, 185]))
    assert [t.box.source for t in kept] == ["tracking"]  # joints' box 0.81 of the landmarks' area: plausible
    assert step(policy, 2 / 30, []) == []  # then (70 / 90) ** 2 = 0.60 of the area in one frame: ended
    assert policy.counts["track_ends"] == {"implausible_area": 1}


def test_an_implausible_track_is_redetected_in_the_same_frame():
    policy = BoxPolicy(PolicySettings(), detector=True)
    first = step(policy, 0.0, [detection([100, 100, 260, 260])], joints_of=collapsed)
    targets = step(policy, 1 / 30, [detection([400, 200, 520, 320])])
    assert [t.box.source for t in targets] == ["detector"] and targets[0].track_id > first[0].track_id
    np.testing.assert_allclose(targets[0].box.box, detection([400, 200, 520, 320]).box)


def test_side_follows_votes_with_hysteresis_not_one_detection():
    policy = BoxPolicy(PolicySettings(side_decay=0.8, side_hysteresis=1.5), detector=True)
    sides = []
    labels = ["right"] * 5 + ["left"] + ["right"] * 3 + ["left"] * 6
    for frame, label in enumerate(labels):
        sides.append(step(policy, frame / 30, [detection([100, 100, 200, 200], label)])[0].side)
    assert sides[:9] == ["right"] * 9  # one wrong label among rights changes nothing
    first_left = sides.index("left")
    assert 9 + 1 < first_left < len(labels)  # several left labels in a row are needed
    assert sides[first_left:] == ["left"] * (len(labels) - first_left)
    assert policy.counts["track_losses"] == 0


def test_side_votes_switch_only_past_the_hysteresis():
    votes = SideVotes("right", decay=1.0, hysteresis=1.0)
    assert votes.add("right", 0.9) is None
    assert votes.add("left", 0.9) is None and votes.add("left", 0.9) is None  # 1.8 vs 0.9: lead 0.9
    assert votes.add("left", 0.2) == "left"  # lead 1.1


def test_two_hands_get_one_track_each_with_the_primary_first():
    policy = BoxPolicy(PolicySettings(max_hands=2, hand_selection="left"), detector=True)
    targets = step(policy, 0.0, [detection([100, 100, 200, 200], "right"), detection([350, 100, 470, 220], "left")])
    assert [t.side for t in targets] == ["left", "right"]
    assert len({t.track_id for t in targets}) == 2 and min(t.track_id for t in targets) >= 1
    one = BoxPolicy(PolicySettings(hand_selection="right"), detector=True).choose_hands(
        0.0, SIZE, [detection([100, 100, 200, 200], "right"), detection([350, 100, 470, 220], "left")])
    assert [t.side for t in one] == ["right"]


def _crossing(frame, frames):
    """Boxes of a right hand moving right and a left hand moving left, crossing mid-way, 40 px apart vertically."""
    shift = 300.0 * frame / (frames - 1)
    return np.array([100 + shift, 100, 200 + shift, 200]), np.array([400 - shift, 140, 500 - shift, 240])


@pytest.mark.parametrize("wrong_labels", [False, True])
def test_crossing_hands_keep_their_tracks(wrong_labels):
    """Hands pass each other; with wrong_labels the detector labels both "right" while they overlap."""
    policy = BoxPolicy(PolicySettings(max_hands=2), detector=True)
    frames, ids = 11, []
    for frame in range(frames):
        right, left = _crossing(frame, frames)
        overlapping = box_iou(right, left) > 0
        detections = [detection(left, "right" if wrong_labels and overlapping else "left"), detection(right, "right")]
        targets = step(policy, frame / 30, detections)
        by_side = {t.side: t for t in targets}
        assert set(by_side) == {"right", "left"}
        assert box_iou(by_side["right"].box.box, detection(right).box) > 0.99
        assert box_iou(by_side["left"].box.box, detection(left).box) > 0.99
        ids.append((by_side["right"].track_id, by_side["left"].track_id))
    assert len(set(ids)) == 1 and policy.counts["track_losses"] == 0


def test_one_hand_leaving_does_not_disturb_the_other_and_returns_with_a_new_id():
    policy = BoxPolicy(PolicySettings(max_hands=2, max_unconfirmed=2), detector=True)
    right, left = np.array([100.0, 100, 200, 200]), np.array([400.0, 100, 500, 200])
    start = {t.side: t.track_id for t in step(policy, 0.0, [detection(right, "right"), detection(left, "left")])}
    during = []
    for frame in range(1, 6):  # the left hand is out of view
        during.append({t.side: (t.track_id, t.box.source) for t in step(policy, frame / 30, [detection(right)])})
    assert all(seen["right"] == (start["right"], "detector") for seen in during)
    assert "left" not in during[-1] and policy.counts["track_ends"] == {"not_confirmed": 1}
    back = {t.side: t.track_id for t in step(policy, 6 / 30, [detection(right, "right"), detection(left, "left")])}
    assert back["right"] == start["right"] and back["left"] > max(start.values())
    assert policy.counts["reacquisitions"] == 1


def test_detection_request_asks_for_the_missing_hand_with_hints_at_the_tracks():
    policy = BoxPolicy(PolicySettings(max_hands=2, search_every=3), detector=True)
    request = policy.detection_request(0.0)
    assert request.search and request.wanted == 2 and request.hints == ()
    step(policy, 0.0, [detection([100, 100, 200, 200])])
    searches = []
    for frame in range(1, 7):
        request = policy.detection_request(frame / 30)
        assert len(request.hints) == 1 and box_iou(request.hints[0], detection([100, 100, 200, 200]).box) > 0.99
        searches.append(request.search)
        step(policy, frame / 30, [detection([100, 100, 200, 200])])
    assert searches == [False, True, False, False, True, False]
    assert request.follow is None  # the video mode looks for every hand while one is missing
    one = BoxPolicy(PolicySettings(), detector=True)
    assert one.detection_request(0.0).follow is None
    step(one, 0.0, [detection([100, 100, 200, 200])])
    assert one.detection_request(1 / 30).follow == 1  # one hand wanted and followed: no palm detection
    assert BoxPolicy(PolicySettings(), detector=False).detection_request(0.0) is None


def test_settings_reject_two_hands_with_a_forced_side_and_bad_bounds():
    with pytest.raises(ValueError, match="max_hands"):
        PolicySettings(max_hands=3)
    with pytest.raises(ValueError, match="hand_side"):
        PolicySettings(max_hands=2, hand_side="right")
    with pytest.raises(ValueError, match="track_max_area_change"):
        PolicySettings(track_max_area_change=0.5)


def test_spread_and_landmark_error_measure_in_box_units():
    box = np.array([0.0, 0, 100, 100])
    marks = landmarks_in(box)
    assert landmark_error(marks + [10.0, 0.0], marks) == pytest.approx(0.1)
    assert joints_spread(collapsed(box)) < 3.0 < joints_spread(marks)


def test_two_hands_labelled_alike_at_first_swap_sides_when_the_votes_say_so():
    policy = BoxPolicy(PolicySettings(max_hands=2, side_decay=1.0, side_hysteresis=1.0), detector=True)
    small, large = np.array([100.0, 100, 200, 200]), np.array([350.0, 100, 470, 220])
    first = step(policy, 0.0, [detection(small, "right"), detection(large, "right")])
    ids = {t.side: t.track_id for t in first}
    assert {t.side for t in first} == {"right", "left"}
    wrong = [t for t in first if box_iou(t.box.box, detection(large).box) > 0.99][0]
    assert wrong.side == "right"  # the larger took the label's side; it is the left hand
    sides = []
    for frame in range(1, 5):
        targets = step(policy, frame / 30, [detection(small, "right"), detection(large, "left")])
        sides.append({t.side: t.track_id for t in targets})
    assert sides[-1] == {"left": ids["right"], "right": ids["left"]}  # sides swapped, identities kept
    assert policy.counts["track_losses"] == 0


def test_a_hand_entering_the_view_keeps_its_track_and_takes_the_side_of_its_later_labels():
    """Seen first as fingertips (a small box the detector labels wrongly), then growing into the whole hand."""
    policy = BoxPolicy(PolicySettings(side_hysteresis=2.0, side_decay=0.98), detector=True)
    boxes = [[276, 7, 327, 39], [228, 10, 332, 67], [217, 12, 332, 90], [218, 11, 333, 84]]
    labels = [("right", 0.72), ("left", 0.86), ("left", 0.84), ("left", 0.79)]
    seen = []
    for frame, (box, (label, score)) in enumerate(zip(boxes, labels)):
        seen.append([(t.side, t.track_id) for t in step(policy, frame / 30, [detection(box, label, score)])])
    assert seen == [[("right", 1)], [("right", 1)], [("left", 1)], [("left", 1)]]


def test_a_fast_hand_that_barely_overlaps_its_prediction_keeps_its_track_and_a_jump_ends_it():
    """A young track (no velocity yet) whose hand moves 60 % of its box in a frame; then one hand size away."""
    policy = BoxPolicy(PolicySettings(), detector=True)
    boxes = [[100, 100, 200, 180], [160, 100, 260, 180], [220, 110, 320, 190]]
    ids = [step(policy, frame / 30, [detection(box)])[0].track_id for frame, box in enumerate(boxes)]
    assert ids == [1, 1, 1] and policy.counts["track_ends"] == {}
    jumped = step(policy, 3 / 30, [detection([520, 300, 620, 380])])
    assert jumped[0].track_id == 2 and policy.counts["track_ends"] == {"redetected": 1}
