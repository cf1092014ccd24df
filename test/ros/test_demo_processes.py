"""Helpers that drive the node from outside: parameter arguments, environment, message builders."""

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from std_msgs.msg import Header  # noqa: E402

from hfl_ros.ros import harness  # noqa: E402
from hfl_ros.ros.camera_info import intrinsics_from_camera_info  # noqa: E402
from hfl_ros.ros.image_conversion import image_to_rgb  # noqa: E402


def test_node_parameters_keep_their_yaml_types():
    arguments = harness.node_parameters({"a": "", "b": "025", "c": "it's", "d": True, "e": 0.5, "f": 3})
    assert arguments[::2] == ["-p"] * 6
    values = dict(argument.split(":=", 1) for argument in arguments[1::2])
    parsed = {name: yaml.safe_load(text) for name, text in values.items()}
    assert parsed == {"a": "", "b": "025", "c": "it's", "d": True, "e": 0.5, "f": 3}


def test_isolated_environment_pins_domain_and_localhost_discovery():
    env = harness.isolated_environment(42, base={"PYTHONPATH": "/elsewhere"})
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["PYTHONPATH"].split(":") == [str(harness.REPO_ROOT), "/elsewhere"]
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"].endswith("fastdds_profile.xml")
    with pytest.raises(ValueError, match="102"):
        harness.isolated_environment(102)


def test_camera_messages_round_trip_through_the_node_conversions():
    K = np.array([[400.0, 0.0, 30.0], [0.0, 410.0, 20.0], [0.0, 0.0, 1.0]])
    header = Header(stamp=harness.stamp(12.25), frame_id="cam")
    info = harness.camera_info_message(K, 64, 48, header)
    np.testing.assert_array_equal(intrinsics_from_camera_info(info.k, info.p, "k"), K)
    np.testing.assert_array_equal(intrinsics_from_camera_info(info.k, info.p, "p"), K)
    rgb = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    image = harness.image_message(rgb, header)
    assert (image.header.stamp.sec, image.header.stamp.nanosec) == (12, 250_000_000)
    np.testing.assert_array_equal(image_to_rgb(image.encoding, image.height, image.width, image.step, image.data),
                                  rgb)
