"""config/hfl_ros.rviz: what it shows, and that it follows the launch's namespace (its topics are relative,
resolved in RViz's namespace like the node's outputs). The launched check, against the running node's
publishers for the default and a namespace, is in test_perception_launch.py."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
#: Relative topics of the perception node's outputs that RViz shows, and `image` (the launch remaps it to the
#: camera's image topic in RViz as in the node).
SHOWN = {"image", "debug_image", "markers", "object_pose", "hand_joints_wrist"}


def _displays() -> list:
    return yaml.safe_load((REPO / "config" / "hfl_ros.rviz").read_text())["Visualization Manager"]["Displays"]


def config_topics() -> set:
    """Every topic a display of config/hfl_ros.rviz subscribes."""
    return {display["Topic"]["Value"] for display in _displays() if "Topic" in display}


def test_rviz_config_shows_image_overlay_markers_poses_and_tf():
    classes = {display["Class"] for display in _displays()}
    assert {"rviz_default_plugins/Image", "rviz_default_plugins/MarkerArray", "rviz_default_plugins/TF",
            "rviz_default_plugins/Pose", "rviz_default_plugins/PoseArray"} <= classes
    assert config_topics() == SHOWN


def test_every_rviz_topic_is_relative_so_that_it_follows_the_namespace():
    absolute = sorted(topic for topic in config_topics() if topic.startswith("/"))
    assert absolute == [], f"absolute topics ignore the launch's namespace: {absolute}"
