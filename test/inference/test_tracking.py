"""The tracker on a rendered sequence (procedural hand + object, MediaPipe detector): the hand is found and
boxed in every frame it is in view, lost when it leaves the view and re-acquired when it comes back; the
object box converges from a hand-centred start and is tracked after. The network is replaced by `BoxLimitedOracle` (the ground truth seen only through the
boxes), so that what is judged is the choice of boxes."""

import numpy as np
import pytest

from hfl_ros.data.synthetic import default_assets
from hfl_ros.detection.hand_detector import HandDetector
from hfl_ros.detection.policy import BoxPolicy, PolicySettings, SourcedBox
from hfl_ros.evaluation.tracking_scenes import BoxLimitedOracle, render_sequence, sequence_object_model
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.geometry.camera import points_box
from hfl_ros.inference.tracking import HandObjectTracker, refine_object_boxes
from hfl_ros.objects import object_model_from_mesh
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

#: A grasp whose hand MediaPipe finds (see test/detection/test_hand_detector.py), 24 frames, out of view 10-13.
SEED, FRAMES, HIDDEN = 18, 24, range(10, 14)


@pytest.fixture(scope="module")
def run():
    sequence = render_sequence(SEED, FRAMES, hidden=HIDDEN)
    oracle = BoxLimitedOracle(default_assets().faces)
    model = sequence_object_model(sequence[0])
    settings = PolicySettings(hand_side="right", tracking_min_hand_score=0.5)
    with HandDetector() as detector:
        tracker = HandObjectTracker(oracle, BoxPolicy(settings, detector=True), detector)
        frames = []
        for index, frame in enumerate(sequence):
            oracle.with_truth(frame.annotation)
            frames.append(tracker.process(frame.image, frame.annotation.K, index / 30.0, model))
    return sequence, frames, tracker.policy.counts


def _hand_iou(frame, tracked):
    return 0.0 if tracked.hand is None else box_iou(tracked.hand.box.box, frame.hand_box)


def test_hand_is_boxed_by_the_detector_in_every_frame_before_it_leaves(run):
    sequence, frames, _ = run
    assert all(frames[i].hand is not None and frames[i].side == "right" for i in range(10))
    # the landmark model misses this rendered hand in the odd frame (full frame and crops); the box then
    # comes from the oracle's joints (plausible), still on the hand
    assert sum(frames[i].hand_source == "detector" for i in range(10)) >= 8
    assert sum(_hand_iou(sequence[i], frames[i]) >= 0.5 for i in range(10)) >= 9


def test_lost_hand_is_reacquired_when_it_comes_back(run):
    sequence, frames, counts = run
    assert all(_hand_iou(sequence[i], frames[i]) == 0.0 for i in HIDDEN)
    assert any(frames[i].estimate is None for i in HIDDEN)
    back = HIDDEN[-1] + 1
    assert frames[back].hand_source == "detector" and _hand_iou(sequence[back], frames[back]) >= 0.5
    assert sum(_hand_iou(sequence[i], frames[i]) >= 0.5 for i in range(back, FRAMES)) >= FRAMES - back - 1
    assert counts["track_losses"] >= 1 and counts["reacquisitions"] >= 1


def test_object_box_converges_from_the_hand_centred_start(run):
    sequence, frames, _ = run
    first = frames[0]
    assert first.object_source == "refined" and first.passes >= 2
    assert box_iou(first.object_box.box, sequence[0].object_box) > 0.9
    assert frames[1].object_source == "tracking"


class CollapsedObjectDecoder:
    """Stands in for an untrained network whose object decoder puts every control point, confidently, on
    one pixel (seen with random weights): their box has zero size. Records the object boxes it is given."""

    untrained = True
    POINT = (352.6, 85.2)

    def __init__(self) -> None:
        self.object_boxes = []

    def estimate(self, image, K, hand_box, object_box, object_model) -> HandObjectEstimate:
        self.object_boxes.append(np.asarray(object_box, dtype=np.float64))
        centre = (np.asarray(hand_box[:2]) + np.asarray(hand_box[2:])) / 2
        hand = HandEstimate(joints=np.zeros((21, 3)), vertices=np.zeros((778, 3)), faces=np.zeros((1538, 3), int),
                            joints_2d=centre + np.linspace(-20, 20, 42).reshape(21, 2), wrist_pose=np.eye(4),
                            mano_pose=np.zeros(48), mano_shape=np.zeros(10), box=np.asarray(hand_box), score=0.9)
        obj = ObjectEstimate(name=object_model.name, rotation=None, translation=None,
                             control_points_2d=np.tile(self.POINT, (21, 1)), control_point_scores=np.ones(21),
                             inliers=0, box=np.asarray(object_box), score=1.0)
        return HandObjectEstimate(hand=hand, object=obj)

    def estimate_batch(self, image, requests) -> list:
        return [self.estimate(image, r.K, r.hand_box, r.object_box, r.object_model) for r in requests]


def test_a_collapsed_refined_object_box_is_grown_to_the_smallest_box_size():
    decoder = CollapsedObjectDecoder()
    settings = PolicySettings(initial_hand_roi=(0.3, 0.25, 0.7, 0.75), min_box_size=24.0)
    tracker = HandObjectTracker(decoder, BoxPolicy(settings))
    cube = object_model_from_mesh("cube", np.array([[x, y, z] for x in (0, 0.05) for y in (0, 0.05)
                                                    for z in (0, 0.05)]), np.zeros((0, 3), int))
    K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
    frame = tracker.process(np.zeros((480, 640, 3), np.uint8), K, 0.0, cube)
    assert frame.object_source == "refined" and frame.passes == 2 == len(decoder.object_boxes)
    refined = decoder.object_boxes[1]
    np.testing.assert_allclose(refined, [*np.subtract(decoder.POINT, 12.0), *np.add(decoder.POINT, 12.0)])


def _decoder_given_true_points(truth_points, reach):
    """The object decoder given the true control points (N, 2) px: confidence 1 for those within `reach` x
    its box about the box centre, 0 (and clamped into that region) for the others. Returns (points, scores)."""
    def run(box):
        centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) * reach / 2
        seen = np.all(np.abs(truth_points - centre) <= half, axis=1)
        return np.clip(truth_points, centre - half, centre + half), seen.astype(float)
    return run


def _confident_box(result):
    points, scores = result
    return points_box(points[scores >= 0.5]) if (scores >= 0.5).sum() >= 4 else None


@pytest.mark.parametrize("passes, converged", [(1, False), (3, True)])
def test_object_box_converges_onto_the_true_box_from_a_hand_centred_start(passes, converged):
    """(Moved from test/detection/test_policy.py with the single-hand refine_object_box it tested.)"""
    truth = np.random.default_rng(1).uniform((330, 190), (420, 330), size=(21, 2))
    true_box = points_box(truth)
    start = SourcedBox(np.array([160.0, 110, 400, 350]), "hand")  # the hand-centred box of hand [220, 170, 340, 290]
    assert box_iou(start.box, true_box) < 0.3
    decoder = _decoder_given_true_points(truth, 1.3)
    [(result, used, count)] = refine_object_boxes(lambda indices, boxes: [decoder(box) for box in boxes], [start],
                                                  _confident_box, PolicySettings(refine_max_passes=passes))
    assert count == (2 if converged else 1)  # one refinement lands on the object; the next pass confirms it
    assert (box_iou(used.box, true_box) > 0.99) is converged
    assert used.source == ("refined" if converged else "hand")
    assert result[1].all()


def test_external_and_tracked_object_boxes_get_one_pass():
    calls = []
    refine_object_boxes(lambda indices, boxes: calls.append(boxes) or boxes,
                        [SourcedBox(np.array([0.0, 0, 10, 10]), "tracking")], lambda b: b + 50, PolicySettings())
    assert len(calls) == 1
