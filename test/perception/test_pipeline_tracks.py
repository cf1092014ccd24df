"""PerceptionPipeline over a rendered sequence with the real hand detector (MediaPipe): one hand that stays in
view keeps one track, so that side's filter runs on without restarting.

The hand sweeps a full circle in 12 frames at 30 fps (about 60 % of its box per frame, its direction turning
30 degrees a frame), and the detector's landmark box of the rendered hand is at times only part of it: a
track that asked a detection to overlap its constant-velocity prediction ended as "redetected" on half of
these frames (track ids 1, 2, 2, 2, 3, 4, 5, 5, 6, 6, 7, 7). The network is replaced by the ground truth
seen through the boxes (`BoxLimitedOracle`), so that what is judged is the association around it.
"""

import pytest

from hfl_ros.data.synthetic import default_assets
from hfl_ros.detection.policy import PolicySettings
from hfl_ros.evaluation.tracking_scenes import BoxLimitedOracle, render_sequence, sequence_object_model
from hfl_ros.filtering import FilterSettings
from hfl_ros.perception import PerceptionSettings
from hfl_ros.perception.pipeline import PerceptionPipeline

pytest.importorskip("mediapipe", reason="the hand detector needs the `detector` extra")

#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py), and its frame count.
SEED, FRAMES = 18, 12
FPS = 30.0


def test_one_hand_moving_through_the_sequence_keeps_one_track_and_its_filter():
    frames = render_sequence(SEED, FRAMES)
    oracle = BoxLimitedOracle(default_assets().faces)
    settings = PerceptionSettings(policy=PolicySettings(hand_side="right"), filter=FilterSettings())
    pipeline = PerceptionPipeline(oracle, settings)
    model = sequence_object_model(frames[0])
    try:
        hands = []
        for index, frame in enumerate(frames):
            oracle.with_truth(frame.annotation)
            hands.append(pipeline.process(frame.image, frame.annotation.K, index / FPS, model).hand)
        counts = pipeline.policy.counts
    finally:
        pipeline.close()
    assert all(hand is not None for hand in hands)
    assert [hand.track_id for hand in hands] == [hands[0].track_id] * FRAMES
    assert counts["track_ends"] == {} and counts["track_losses"] == 0
    resets = [hand.filtered.hand.reset for hand in hands]
    assert resets == ["start"] + [None] * (FRAMES - 1)
