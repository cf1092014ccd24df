"""HandObjectFilter: consistent filtered hand, per-part restarts, gate counts, estimates as input."""

import numpy as np
import pytest

from hfl_ros.filtering import FilteredFrame, HandObjectFilter, HandObservation, ObjectObservation, filtered_estimate
from hfl_ros.filtering.track import FilterSettings
from hfl_ros.geometry.so3 import exp_map, rotation_angle
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate
from hfl_ros.retargeting import joints_in_camera_frame

DT = 1 / 30
ARTICULATION = np.random.default_rng(0).normal(0, 0.04, (21, 3)) * [1, 1, 0.3]


def _hand(step: int, side: str = "right", shift=(0.0, 0.0, 0.0)) -> HandObservation:
    """A hand turning at 1 rad/s and moving at 0.1 m/s; joint 0 is the wrist."""
    pose = np.eye(4)
    pose[:3, :3] = exp_map(np.array([0.0, 1.0, 0.3]) * step * DT)
    pose[:3, 3] = np.array([0.0, 0.0, 0.5]) + np.array([0.1, 0.0, 0.0]) * step * DT + shift
    articulation = ARTICULATION - ARTICULATION[0]
    return HandObservation(side, joints_in_camera_frame(articulation, pose), pose)


def _object(step: int, name: str = "mug") -> ObjectObservation:
    pose = _hand(step).wrist_pose.copy()
    pose[:3, 3] += [0.05, 0.02, 0.03]
    return ObjectObservation(name, pose)


def test_filtered_hand_joints_are_the_filtered_wrist_frame_joints_placed_by_the_filtered_wrist():
    hand_object_filter = HandObjectFilter()
    rng = np.random.default_rng(1)
    for step in range(40):
        hand = _hand(step)
        noise = rng.normal(0, 0.004, (21, 3))
        noise[0] = 0  # as the estimator gives it: the wrist pose's position is joint 0
        noisy = HandObservation("right", hand.joints + noise, hand.wrist_pose)
        frame = hand_object_filter.update(step * DT, noisy, _object(step))
    filtered = frame.hand
    np.testing.assert_allclose(filtered.joints, joints_in_camera_frame(filtered.joints_wrist, filtered.wrist_pose),
                               atol=1e-12)
    np.testing.assert_allclose(filtered.joints[0], filtered.wrist_pose[:3, 3], atol=1e-12)
    # Filtered, not passed through: the wrist trails by the One-Euro lag, speed / (2 pi cut-off at that speed).
    settings, speed = FilterSettings(), 0.1
    lag = speed / (2 * np.pi * (settings.position_min_cutoff + settings.position_beta * speed))
    truth = _hand(39)
    assert np.linalg.norm(filtered.wrist_pose[:3, 3] - truth.wrist_pose[:3, 3]) == pytest.approx(lag, rel=0.02)
    rate = np.linalg.norm([0.0, 1.0, 0.3])
    lag_angle = rate / (2 * np.pi * (settings.rotation_min_cutoff + settings.rotation_beta * rate))
    assert rotation_angle(filtered.wrist_pose[:3, :3], truth.wrist_pose[:3, :3]) == pytest.approx(lag_angle, rel=0.02)


def test_hand_side_change_object_change_and_object_loss_restart_only_their_own_part():
    hand_object_filter = HandObjectFilter()
    for step in range(5):
        hand_object_filter.update(step * DT, _hand(step), _object(step))
    frame = hand_object_filter.update(5 * DT, _hand(5, side="left"), _object(5))
    assert frame.hand.reset == "identity_changed" and frame.object.reset is None
    frame = hand_object_filter.update(6 * DT, _hand(6, side="left"), _object(6, name="bowl"))
    assert frame.hand.reset is None and frame.object.reset == "identity_changed"
    frame = hand_object_filter.update(7 * DT, _hand(7, side="left"), None)
    assert frame.object is None
    frame = hand_object_filter.update(8 * DT, _hand(8, side="left"), _object(8, name="bowl"))
    assert frame.object.reset == "track_lost"
    np.testing.assert_allclose(frame.object.pose, _object(8).pose, atol=1e-12)
    frame = hand_object_filter.update(7 * DT, _hand(9, side="left"), _object(9, name="bowl"))
    assert frame.hand.reset == frame.object.reset == "time_backwards"
    assert hand_object_filter.counts.hand_resets == {"start": 1, "identity_changed": 1, "time_backwards": 1}
    assert hand_object_filter.counts.object_resets == {
        "start": 1, "identity_changed": 1, "track_lost": 1, "time_backwards": 1}


def test_gated_frames_are_flagged_held_and_counted():
    hand_object_filter = HandObjectFilter(FilterSettings(gate_persist_frames=3))
    outliers = {10, 20, 21, 30}
    held = None
    for step in range(40):
        hand = _hand(step, shift=(0.0, 0.0, 0.4) if step in outliers else (0.0, 0.0, 0.0))
        frame = hand_object_filter.update(step * DT, hand, _object(step))
        assert frame.gated == (step in outliers) == frame.hand.gated
        if step in outliers:
            np.testing.assert_array_equal(frame.hand.joints, held.joints)
        held = frame.hand
    counts = hand_object_filter.counts
    assert (counts.frames, counts.hand_gated, counts.object_gated) == (40, 4, 0)


def test_update_estimate_takes_the_estimate_hand_and_object_pose():
    hand = _hand(0)
    obj = _object(0)
    estimate = HandObjectEstimate(
        hand=HandEstimate(joints=hand.joints, vertices=np.zeros((778, 3)), faces=np.zeros((1538, 3), int),
                          joints_2d=np.zeros((21, 2)), wrist_pose=hand.wrist_pose, mano_pose=np.zeros(48),
                          mano_shape=np.zeros(10), box=np.zeros(4), score=1.0, side="left"),
        object=ObjectEstimate(name="mug", rotation=obj.pose[:3, :3], translation=obj.pose[:3, 3],
                              control_points_2d=np.zeros((21, 2)), control_point_scores=np.zeros(21), inliers=10,
                              box=np.zeros(4), score=1.0),
    )
    frame = HandObjectFilter().update_estimate(1.5, estimate)
    assert frame.stamp == 1.5 and frame.hand.side == "left" and frame.object.name == "mug"
    np.testing.assert_allclose(frame.hand.joints, hand.joints, atol=1e-12)
    np.testing.assert_allclose(frame.object.pose, obj.pose, atol=1e-12)
    no_pose = HandObjectEstimate(hand=estimate.hand, object=ObjectEstimate(
        name="mug", rotation=None, translation=None, control_points_2d=np.zeros((21, 2)),
        control_point_scores=np.zeros(21), inliers=0, box=np.zeros(4), score=0.0))
    assert HandObjectFilter().update_estimate(0.0, no_pose).object is None


def test_filtered_estimate_puts_the_filtered_poses_in_place_and_moves_the_mesh_with_the_wrist():
    hand, obj = _hand(0), _object(0)
    rng = np.random.default_rng(2)
    estimate = HandObjectEstimate(
        hand=HandEstimate(joints=hand.joints, vertices=hand.wrist_pose[:3, 3] + rng.normal(0, 0.05, (778, 3)),
                          faces=np.zeros((1538, 3), int), joints_2d=rng.uniform(0, 99, (21, 2)),
                          wrist_pose=hand.wrist_pose, mano_pose=np.zeros(48), mano_shape=np.zeros(10),
                          box=np.zeros(4), score=1.0),
        object=ObjectEstimate(name="mug", rotation=obj.pose[:3, :3], translation=obj.pose[:3, 3],
                              control_points_2d=np.zeros((21, 2)), control_point_scores=np.zeros(21), inliers=10,
                              box=np.zeros(4), score=1.0),
    )
    moved_hand, moved_object = _hand(9, shift=(0.02, 0.0, 0.01)), _object(9)
    frame = HandObjectFilter().update(0.0, moved_hand, moved_object)
    shown = filtered_estimate(estimate, frame)
    np.testing.assert_allclose(shown.hand.joints, moved_hand.joints, atol=1e-12)
    np.testing.assert_allclose(shown.hand.wrist_pose, moved_hand.wrist_pose, atol=1e-12)
    def in_wrist_frame(vertices, pose):
        return (vertices - pose[:3, 3]) @ pose[:3, :3]

    np.testing.assert_allclose(in_wrist_frame(shown.hand.vertices, shown.hand.wrist_pose),  # the same mesh
                               in_wrist_frame(estimate.hand.vertices, estimate.hand.wrist_pose), atol=1e-12)
    assert not np.allclose(shown.hand.vertices, estimate.hand.vertices, atol=1e-3)
    np.testing.assert_allclose(shown.object.rotation, moved_object.pose[:3, :3], atol=1e-12)
    np.testing.assert_allclose(shown.object.translation, moved_object.pose[:3, 3], atol=1e-12)
    np.testing.assert_array_equal(shown.hand.joints_2d, estimate.hand.joints_2d)  # 2D fields stay raw
    unchanged = filtered_estimate(estimate, FilteredFrame(0.0, None, None))
    assert unchanged.hand is estimate.hand and unchanged.object is estimate.object


def test_non_finite_joints_are_rejected_by_name():
    hand = _hand(0)
    with pytest.raises(ValueError, match="hand joints"):
        HandObjectFilter().update(0.0, HandObservation("right", hand.joints * np.nan, hand.wrist_pose), None)
