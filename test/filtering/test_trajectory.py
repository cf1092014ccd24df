"""Trajectory records: filtered fields beside the raw ones, the .npz export, errors naming the bad input."""

import json

import numpy as np
import pytest

from hfl_ros.filtering.trajectory import (
    filter_records, read_trajectory, save_trajectory_npz, trajectory_arrays, with_filtered,
)
from hfl_ros.geometry.so3 import exp_map
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate, estimate_to_dict
from hfl_ros.retargeting import joints_in_camera_frame, joints_in_wrist_frame

DT = 1 / 30
ARTICULATION = np.random.default_rng(0).normal(0, 0.04, (21, 3))
ARTICULATION -= ARTICULATION[0]


def _record(step: int, jump: float = 0.0, object_pose: bool = True) -> dict:
    """estimate_to_dict of a hand moving at 0.1 m/s beside an object, plus "stamp"; `jump`: m, the hand's
    depth error."""
    wrist = np.eye(4)
    wrist[:3, :3] = exp_map(np.array([0.0, 0.5, 0.0]) * step * DT)
    wrist[:3, 3] = [0.1 * step * DT, 0.0, 0.5]
    object_translation = wrist[:3, 3] + 0.05
    wrist[2, 3] += jump
    joints = joints_in_camera_frame(ARTICULATION, wrist)
    estimate = HandObjectEstimate(
        hand=HandEstimate(joints=joints, vertices=np.zeros((778, 3)), faces=np.zeros((1538, 3), int),
                          joints_2d=np.zeros((21, 2)), wrist_pose=wrist, mano_pose=np.zeros(48),
                          mano_shape=np.zeros(10), box=np.zeros(4), score=0.9),
        object=ObjectEstimate(name="mug", rotation=wrist[:3, :3] if object_pose else None,
                              translation=object_translation if object_pose else None,
                              control_points_2d=np.zeros((21, 2)), control_point_scores=np.zeros(21),
                              inliers=12 if object_pose else 0, box=np.zeros(4), score=0.5),
    )
    return dict(estimate_to_dict(estimate), stamp=step * DT)


def _records() -> list:
    records = [_record(step, jump=0.4 if step == 12 else 0.0, object_pose=step != 15) for step in range(20)]
    records[17]["hand"] = None
    return records


def test_filtered_fields_sit_beside_unchanged_raw_fields_and_a_gated_frame_holds_the_pose():
    records = _records()
    filtered = list(filter_records(records))
    for raw, out in zip(records, filtered):
        for part in ("hand", "object"):
            if raw[part] is not None:
                assert {key: value for key, value in out[part].items() if key != "filtered"} == raw[part]
    hand = filtered[10]["hand"]["filtered"]
    assert set(hand) == {"joints", "joints_wrist", "wrist_pose", "gated", "reset"}
    np.testing.assert_allclose(joints_in_wrist_frame(hand["joints"], hand["wrist_pose"]), hand["joints_wrist"],
                               atol=2e-6)
    assert [out["gated"] for out in filtered] == [step == 12 for step in range(20)]
    assert filtered[12]["hand"]["filtered"]["gated"] and not filtered[12]["object"]["filtered"]["gated"]
    assert filtered[12]["hand"]["filtered"]["wrist_pose"] == filtered[11]["hand"]["filtered"]["wrist_pose"]
    assert filtered[15]["object"]["filtered"] is None  # no object pose: nothing to filter
    assert filtered[16]["object"]["filtered"]["reset"] == "track_lost"
    assert filtered[17]["hand"] is None and filtered[18]["hand"]["filtered"]["reset"] == "track_lost"
    json.dumps(filtered)  # JSON-serialisable as written


def test_filtering_off_writes_null_filtered_fields():
    out = with_filtered(_record(0), None)
    assert out["hand"]["filtered"] is None and out["object"]["filtered"] is None and out["gated"] is None


def test_npz_export_holds_raw_and_filtered_arrays_with_validity_masks(tmp_path):
    records = list(filter_records(_records()))
    path = save_trajectory_npz(tmp_path / "trajectory.npz", records)
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    assert path == tmp_path / "trajectory.npz"
    np.testing.assert_allclose(arrays["stamps"], np.arange(20) * DT)
    assert arrays["hand_valid"].tolist() == [step != 17 for step in range(20)]
    assert arrays["object_valid"].tolist() == [step != 15 for step in range(20)]
    assert arrays["filtered_object_valid"].tolist() == arrays["object_valid"].tolist()
    assert arrays["hand_gated"].tolist() == [step == 12 for step in range(20)]
    np.testing.assert_allclose(arrays["joints"][3], records[3]["hand"]["joints"])
    np.testing.assert_allclose(arrays["wrist_pose"][3], records[3]["hand"]["wrist_pose"])
    np.testing.assert_allclose(arrays["object_pose"][3, :3, :3], records[3]["object"]["rotation"])
    np.testing.assert_allclose(arrays["object_pose"][3, :3, 3], records[3]["object"]["translation"])
    np.testing.assert_allclose(arrays["filtered_object_pose"][3], records[3]["object"]["filtered"]["pose"])
    np.testing.assert_allclose(arrays["filtered_joints_wrist"][3], records[3]["hand"]["filtered"]["joints_wrist"])
    np.testing.assert_allclose(arrays["filtered_wrist_pose"][12], records[12]["hand"]["filtered"]["wrist_pose"])
    np.testing.assert_allclose(arrays["joints_wrist"][3], ARTICULATION, atol=2e-6)
    assert np.isnan(arrays["joints"][17]).all() and np.isnan(arrays["object_pose"][15]).all()
    assert arrays["object_name"][0] == "mug" and arrays["hand_side"][17] == ""
    assert arrays["joint_names"][4] == "thumb4"


def test_export_of_unfiltered_records_marks_filtered_arrays_invalid():
    arrays = trajectory_arrays([with_filtered(_record(step), None) for step in range(3)])
    assert not arrays["filtered_hand_valid"].any() and np.isnan(arrays["filtered_joints"]).all()
    assert arrays["hand_valid"].all()


def test_bad_trajectory_files_and_records_are_named(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    path.write_text(json.dumps(_record(0)) + "\n\n{not json\n")
    with pytest.raises(ValueError, match=r"trajectory.jsonl:3: not valid JSON"):
        read_trajectory(path)
    bad = _record(1)
    bad["hand"]["joints"] = bad["hand"]["joints"][:20]
    with pytest.raises(ValueError, match=r"record 1: hand.joints must be finite with shape \(21, 3\)"):
        list(filter_records([_record(0), bad]))
    with pytest.raises(ValueError, match="record 0: 'stamp'"):
        list(filter_records([dict(_record(0), stamp=None)]))
