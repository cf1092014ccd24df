"""RigidTrack: outlier gating (single outliers held, persistent jumps accepted) and the filter restarts."""

import numpy as np
import pytest

from hfl_ros.filtering.track import FilterSettings, RigidTrack
from hfl_ros.geometry.so3 import exp_map

DT = 1 / 30


def _pose(translation, rotation_vector=(0.0, 0.0, 0.0)) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = exp_map(np.asarray(rotation_vector, dtype=float)), translation
    return pose


STILL = _pose([0.05, -0.02, 0.6], [0.2, 0.1, -0.3])


def _settled_track(settings: FilterSettings = FilterSettings(), frames: int = 10) -> RigidTrack:
    track = RigidTrack(settings)
    for step in range(frames):
        track.update(step * DT, "mug", STILL)
    return track


def test_single_frame_outlier_is_held_back_and_the_next_good_frame_is_filtered():
    track = _settled_track()
    outlier = track.update(10 * DT, "mug", _pose([0.05, -0.02, 0.9]))  # 0.3 m jump in depth
    assert outlier.gated and outlier.reset is None
    np.testing.assert_allclose(outlier.pose, STILL, atol=1e-12)
    back = track.update(11 * DT, "mug", STILL)
    assert not back.gated and back.reset is None
    np.testing.assert_allclose(back.pose, STILL, atol=1e-12)


def test_rotation_jump_beyond_the_angle_threshold_is_gated_and_one_within_is_not():
    settings = FilterSettings(gate_rotation_deg=30.0)
    turned = lambda degrees: STILL @ _pose([0, 0, 0], [0, np.radians(degrees), 0])  # noqa: E731
    assert _settled_track(settings).update(10 * DT, "mug", turned(35.0)).gated
    assert not _settled_track(settings).update(10 * DT, "mug", turned(25.0)).gated


@pytest.mark.parametrize("persist_frames", [2, 3, 5])
def test_persistent_jump_is_accepted_on_its_nth_frame(persist_frames):
    track = _settled_track(FilterSettings(gate_persist_frames=persist_frames))
    moved = _pose([0.35, -0.02, 0.6], [0.2, 0.1, -0.3])
    outputs = [track.update((10 + k) * DT, "mug", moved) for k in range(persist_frames)]
    assert [out.gated for out in outputs] == [True] * (persist_frames - 1) + [False]
    for out in outputs[:-1]:
        np.testing.assert_allclose(out.pose, STILL, atol=1e-12)
    assert outputs[-1].reset == "jump_accepted"
    np.testing.assert_allclose(outputs[-1].pose, moved, atol=1e-12)


def test_two_different_outliers_in_a_row_do_not_count_as_one_persistent_jump():
    track = _settled_track(FilterSettings(gate_persist_frames=2))
    assert track.update(10 * DT, "mug", _pose([0.35, -0.02, 0.6])).gated
    assert track.update(11 * DT, "mug", _pose([-0.3, -0.02, 0.6])).gated  # far from the first outlier too


def test_gating_off_lets_a_jump_into_the_filter():
    out = _settled_track(FilterSettings(gating=False)).update(10 * DT, "mug", _pose([0.05, -0.02, 0.9]))
    assert not out.gated and out.reset is None
    assert 0.6 < out.pose[2, 3] < 0.9  # smoothed towards the jump, neither held nor passed through


def _moved_within_gate(track: RigidTrack, stamp: float, identity: str = "mug"):
    return track.update(stamp, identity, _pose([0.1, -0.02, 0.6], [0.2, 0.1, -0.2]))


@pytest.mark.parametrize("event, reason", [
    ("none", None), ("lose", "track_lost"), ("identity", "identity_changed"), ("backwards", "time_backwards"),
    ("gap", "gap"),
])
def test_each_listed_event_restarts_the_filter_on_the_new_observation(event, reason):
    track = _settled_track(FilterSettings(max_gap=0.5))
    stamp, identity = 10 * DT, "mug"
    if event == "lose":
        track.lose()
    elif event == "identity":
        identity = "bowl"
    elif event == "backwards":
        stamp = 5 * DT
    elif event == "gap":
        stamp = 9 * DT + 0.6
    out = _moved_within_gate(track, stamp, identity)
    assert out.reset == reason and not out.gated
    restarted = np.allclose(out.pose, _pose([0.1, -0.02, 0.6], [0.2, 0.1, -0.2]), atol=1e-12)
    assert restarted == (reason is not None)  # a restart passes the observation through; else it is smoothed


def test_track_with_points_filters_them_and_holds_them_when_gated():
    track = RigidTrack(FilterSettings(), points=FilterSettings().joints)
    points = np.zeros((21, 3))
    for step in range(5):
        track.update(step * DT, "right", STILL, points)
    smoothed = track.update(5 * DT, "right", STILL, points + 0.01)
    assert 0 < smoothed.points[0, 0] < 0.01
    held = track.update(6 * DT, "right", _pose([0.05, -0.02, 1.0]), points + 0.05)
    assert held.gated
    np.testing.assert_array_equal(held.points, smoothed.points)


def test_bad_inputs_raise_errors_naming_them():
    track = RigidTrack(FilterSettings())
    with pytest.raises(ValueError, match="pose"):
        track.update(0.0, "mug", np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="stamp"):
        track.update(float("nan"), "mug", STILL)
    with pytest.raises(ValueError, match="points"):
        track.update(0.0, "mug", STILL, np.zeros((21, 3)))
    with pytest.raises(ValueError, match="gate_persist_frames"):
        FilterSettings(gate_persist_frames=0)
