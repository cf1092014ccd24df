"""OutputBag: messages built by the node's conversions, serialized by rclpy, written as one MCAP file that
rosbags reads back without ROS, every field as built (standard types and ours), at the given stamps."""

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")
pytest.importorskip("rosbags")

from builtin_interfaces.msg import Time  # noqa: E402
from rosbags.highlevel import AnyReader  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from hfl_ros.inference.frames import InputError  # noqa: E402
from hfl_ros.ros import conversions  # noqa: E402
from hfl_ros.msg import HandObjectRois  # noqa: E402  (after conversions: the generated package joins hfl_ros)
from hfl_ros.ros.recording import OutputBag, ros_type_name  # noqa: E402

STAMP_NS = 1_700_000_000_123_456_789
HEADER = Header(stamp=Time(sec=1_700_000_000, nanosec=123_456_789), frame_id="camera_color_optical_frame")
K = np.array([[500.0, 0.0, 160.0], [0.0, 500.0, 120.0], [0.0, 0.0, 1.0]])


def _read(path):
    with AnyReader([path]) as reader:
        return [(connection.topic, connection.msgtype, stamp, reader.deserialize(raw, connection.msgtype))
                for connection, stamp, raw in reader.messages()]


def test_bag_holds_the_messages_as_built_at_their_stamps(tmp_path, estimate_factory):
    estimate = estimate_factory(object_angle=0.4)
    tf = conversions.tf_message(estimate, HEADER, "hfl/")
    rois = HandObjectRois(header=HEADER, object_class="025_mug", side="left")
    rois.hand.x_offset, rois.hand.width = 12, 40
    path = tmp_path / "outputs.mcap"
    with OutputBag(path) as bag:
        bag.write("/camera_info", conversions.camera_info_message(K, 320, 240, HEADER), STAMP_NS)
        bag.write("/tf", tf, STAMP_NS)
        bag.write("/rois", rois, STAMP_NS + 1)
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["outputs.mcap"]
    messages = _read(path)
    assert [(topic, msgtype, stamp) for topic, msgtype, stamp, _ in messages] == [
        ("/camera_info", "sensor_msgs/msg/CameraInfo", STAMP_NS), ("/tf", "tf2_msgs/msg/TFMessage", STAMP_NS),
        ("/rois", "hfl_ros/msg/HandObjectRois", STAMP_NS + 1)]
    info, tf_back, rois_back = (message for *_, message in messages)
    np.testing.assert_array_equal(info.k, K.reshape(-1))
    assert (info.width, info.height, info.header.frame_id) == (320, 240, HEADER.frame_id)
    assert [t.child_frame_id for t in tf_back.transforms] == [t.child_frame_id for t in tf.transforms]
    for back, built in zip(tf_back.transforms, tf.transforms):
        assert (back.header.stamp.sec, back.header.stamp.nanosec) == (1_700_000_000, 123_456_789)
        assert (back.transform.rotation.w, back.transform.translation.z) == \
            (built.transform.rotation.w, built.transform.translation.z)
    assert (rois_back.object_class, rois_back.side, rois_back.hand.x_offset, rois_back.hand.width) == \
        ("025_mug", "left", 12, 40)


def test_type_names_and_an_existing_bag_refused(tmp_path):
    assert ros_type_name(HandObjectRois()) == "hfl_ros/msg/HandObjectRois"
    (tmp_path / "outputs.mcap").write_bytes(b"")
    with pytest.raises(InputError, match="exists already"):
        OutputBag(tmp_path / "outputs.mcap")
