"""The ROS package files: package.xml, CMakeLists.txt, Fast DDS profile (the RViz config: test_rviz_config.py;
the launch file runs in test_perception_launch.py)."""

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_package_xml_is_a_valid_ament_cmake_interface_package():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg comes with scripts/setup_ros.sh")
    package = catkin_pkg.parse_package(str(REPO / "package.xml"))
    package.validate()  # checks, among others, the maintainer e-mail
    assert package.name == "hfl_ros" and package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [group.name for group in package.member_of_groups]
    exec_depends = {d.name for d in package.exec_depends}
    assert {"rclpy", "tf2_msgs", "vision_msgs", "visualization_msgs", "diagnostic_msgs", "lifecycle_msgs"} <= exec_depends


def test_cmake_generates_every_message_and_installs_the_executables():
    cmake = (REPO / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"msg/(\w+\.msg)"', cmake))
    assert listed == {path.name for path in (REPO / "msg").glob("*.msg")}
    # a second Python package of the same name collides with the generated one
    assert not re.search(r"^\s*ament_python_install_package\(", cmake, re.MULTILINE)
    assert "DESTINATION ${PYTHON_INSTALL_DIR}/${PROJECT_NAME}" in cmake
    for executable in ("perception_node", "synthetic_camera"):
        assert executable in cmake
        assert (REPO / "hfl_ros" / "ros" / f"{executable}.py").is_file()
        assert "def main(" in (REPO / "hfl_ros" / "ros" / f"{executable}.py").read_text()
    assert "install(DIRECTORY launch config DESTINATION share/${PROJECT_NAME})" in cmake


def test_fastdds_profile_has_a_large_default_shared_memory_segment():
    namespace = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ElementTree.parse(REPO / "config" / "fastdds_profile.xml").getroot()
    descriptor = root.find("dds:profiles/dds:transport_descriptors/dds:transport_descriptor", namespace)
    assert descriptor.find("dds:type", namespace).text == "SHM"
    assert int(descriptor.find("dds:segment_size", namespace).text) >= 1280 * 720 * 3 * 2
    participant = root.find("dds:profiles/dds:participant", namespace)
    assert participant.get("is_default_profile") == "true"
    assert participant.find("dds:rtps/dds:useBuiltinTransports", namespace).text == "true"
