"""`hfl-video` on ROS 2 bags: a bag of a rendered grasp (compressed images, camera_info) runs with the bag's
intrinsics and header stamps, and `--mcap` writes the node's messages, which read back with rosbags (no ROS)
agree with trajectory.jsonl message for message (real detector, real untrained network)."""

import json
import os
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")
pytest.importorskip("rosbags")

from rosbags.highlevel import AnyReader  # noqa: E402

from hfl_ros.apps import video  # noqa: E402
from hfl_ros.evaluation.tracking_scenes import render_sequence  # noqa: E402
from hfl_ros.geometry.rotations import quaternion_to_matrix  # noqa: E402
from hfl_ros.inference.bags import write_image_bag  # noqa: E402
from hfl_ros.perception import GateSettings  # noqa: E402

#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py).
SEED, FRAMES = 18, 3
STAMPS = [1_700_000_000_123_456_789 + i * 33_333_333 for i in range(FRAMES)]
#: The trajectory's values are rounded to 6 decimals (m, px).
ROUNDING = 5e-7


@pytest.fixture(scope="module")
def run(tmp_path_factory, mano_dir):
    folder = tmp_path_factory.mktemp("video_bag")
    sequence = render_sequence(SEED, FRAMES)
    K = sequence[0].annotation.K
    bag = write_image_bag(folder / "recording", [frame.image for frame in sequence], STAMPS, K, image_format="png",
                          image_topic="/cam/color/image_raw/compressed", camera_info_topic="/cam/color/camera_info",
                          frame_id="cam_color_optical_frame")
    output = folder / "out"
    assert video.main([str(bag), "--output", str(output), "--mano-dir", str(mano_dir), "--device", "cpu",
                       "--side", "right", "--no-overlay", "--mcap"]) == 0
    records = [json.loads(line) for line in (output / video.TRAJECTORY).read_text().splitlines()]
    topics = defaultdict(dict)
    with AnyReader([output / "outputs.mcap"]) as reader:
        for connection, stamp, raw in reader.messages():
            message = reader.deserialize(raw, connection.msgtype)
            assert stamp not in topics[connection.topic], f"two messages on {connection.topic} at {stamp}"
            topics[connection.topic][stamp] = message
    return K, output, records, topics


def test_bag_input_uses_its_camera_info_and_header_stamps(run):
    K, output, records, _ = run
    np.testing.assert_allclose(json.loads((output / video.RUN_FILE).read_text())["K"], K, atol=ROUNDING)
    assert [record["frame"] for record in records] == list(range(FRAMES))
    np.testing.assert_allclose([record["stamp"] for record in records], np.asarray(STAMPS) / 1e9, rtol=0, atol=1e-6)


def _position(pose):
    return [pose.position.x, pose.position.y, pose.position.z]


def _matrix(pose):
    q = pose.orientation
    return quaternion_to_matrix(torch.tensor([q.w, q.x, q.y, q.z], dtype=torch.float64)).numpy()


def test_mcap_holds_the_node_messages_of_every_frame_as_in_the_trajectory(run):
    _, _, records, topics = run
    assert any(record["hand"] is not None for record in records)
    hand_objects = topics["/hand_object"]
    assert sorted(hand_objects) == STAMPS  # one per frame, at the image's header stamp
    gate = GateSettings()
    for record, stamp in zip(records, STAMPS):
        message = hand_objects[stamp]
        assert (message.header.stamp.sec, message.header.stamp.nanosec) == divmod(stamp, 10**9)
        assert message.header.frame_id == "cam_color_optical_frame"
        hand, obj = record["hand"], record["object"]
        assert message.hand_found == (hand is not None)
        if hand is None:
            assert all(stamp not in topics[topic] for topic in ("/tf", "/hand_joints", "/object_pose"))
            continue
        assert (message.hand.side, message.hand_box_source) == (hand["side"], hand["box_source"])
        np.testing.assert_allclose([[p.x, p.y, p.z] for p in message.hand.joints],
                                   hand["joints"], atol=ROUNDING)
        np.testing.assert_allclose(_position(message.hand.wrist_pose), np.asarray(hand["wrist_pose"])[:3, 3],
                                   atol=ROUNDING)
        np.testing.assert_allclose(_matrix(message.hand.wrist_pose), np.asarray(hand["wrist_pose"])[:3, :3],
                                   atol=1e-5)
        assert message.hand_filtered.valid == (hand["filtered"] is not None)
        output_hand = hand["filtered"] or hand
        if hand["filtered"] is not None:
            np.testing.assert_allclose([[p.x, p.y, p.z] for p in message.hand_filtered.joints_wrist],
                                       hand["filtered"]["joints_wrist"], atol=ROUNDING)
        assert message.object.has_pose == obj["has_pose"] and message.object.name == obj["name"]
        hand_shown = hand["score"] >= gate.min_hand_score
        object_shown = obj["has_pose"] and obj["score"] >= gate.min_object_score and \
            obj["inliers"] >= gate.min_object_inliers
        assert (stamp in topics["/hand_joints"], stamp in topics["/hand_joints_wrist"]) == (hand_shown, hand_shown)
        if hand_shown:
            np.testing.assert_allclose([_position(p) for p in topics["/hand_joints"][stamp].poses],
                                       output_hand["joints"], atol=ROUNDING)
        assert (stamp in topics["/object_pose"]) == object_shown
        if object_shown:
            pose = (obj["filtered"] or {}).get("pose") or obj["pose"]
            np.testing.assert_allclose(_position(topics["/object_pose"][stamp].pose), np.asarray(pose)[:3, 3],
                                       atol=ROUNDING)
        frames = {t.child_frame_id: t for t in topics["/tf"][stamp].transforms}
        assert set(frames) == {f"hfl/{hand['side']}_wrist"} | ({"hfl/object"} if object_shown else set())
        np.testing.assert_allclose(
            [frames[f"hfl/{hand['side']}_wrist"].transform.translation.__getattribute__(axis) for axis in "xyz"],
            np.asarray(output_hand["wrist_pose"])[:3, 3], atol=ROUNDING)
        markers = topics["/markers"][stamp].markers
        assert [marker.id for marker in markers] == [0, 1, 2]
    assert len(topics["/markers"]) == sum(record["hand"] is not None for record in records)


def test_mcap_without_the_ros_environment_is_one_line_saying_what_to_source(tmp_path):
    import cv2
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((48, 64, 3), 128, np.uint8))
    ros_variables = ("PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH", "ROS_DISTRO", "ROS_VERSION")
    env = {key: value for key, value in os.environ.items() if key not in ros_variables}
    completed = subprocess.run(
        [sys.executable, "-m", "hfl_ros.apps.video", str(image), "--output", str(tmp_path / "out"), "--mcap",
         "--fx", "50", "--fy", "50", "--cx", "32", "--cy", "24"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hfl-video: --mcap needs the ROS 2 environment"), completed.stderr
    assert "source" in lines[0]
