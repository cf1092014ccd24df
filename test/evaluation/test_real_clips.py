"""Judging a run's hand boxes against the landmark model's own: which boxes lie on which hand, the sides of
the hands they lie on, and the fractions over the frames where the model sees a hand."""

import numpy as np
import pytest

from hfl_ros.evaluation.real_clips import ReferenceHand, judge_frame, summarise

LEFT_HAND = ReferenceHand(np.array([100.0, 100, 200, 200]), "right")
RIGHT_HAND = ReferenceHand(np.array([400.0, 100, 500, 200]), "left")


def test_boxes_are_matched_to_the_hands_they_lie_on():
    judged = judge_frame([np.array([410.0, 110, 510, 210]), np.array([150.0, 150, 250, 250])],
                         ["detector", "tracking"], ["left", "right"], [LEFT_HAND, RIGHT_HAND])
    assert judged.on_hand == (True, False)  # the second box: IoU 2500 / 17500 with the left hand
    assert judged.sides == (None, "left")
    assert judge_frame([], [], [], [LEFT_HAND]).sides == (None,)


def test_summary_counts_only_frames_where_the_model_sees_a_hand():
    on = judge_frame([LEFT_HAND.box], ["detector"], ["right"], [LEFT_HAND])
    off = judge_frame([np.array([300.0, 300, 350, 350])], ["tracking"], ["right"], [LEFT_HAND])
    missed = judge_frame([], [], [], [LEFT_HAND])
    unseen = judge_frame([LEFT_HAND.box], ["detector"], ["right"], [])
    summary = summarise([on, off, missed, unseen])
    assert summary["frames"] == 4 and summary["frames_with_hand"] == 3
    assert summary["on_hand"] == pytest.approx(1 / 3) and summary["missed"] == pytest.approx(1 / 3)
    assert summary["extra"] == pytest.approx(1 / 3) and summary["all_found"] == pytest.approx(1 / 3)
    assert summary["detector"] == pytest.approx(1 / 3) and summary["tracking_on_hand"] == 0.0
