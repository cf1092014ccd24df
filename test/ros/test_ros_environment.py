"""hfl_ros.ros without the ROS environment: every ROS entry point says in one line what to source and exits
non-zero without a traceback; with the environment the same commands run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The ROS entry points as a user starts them: `python -m` modules and the installed executables.
MODULE_COMMANDS = (
    ["-m", "hfl_ros.ros.demo", "--help"],
    ["-m", "hfl_ros.ros.demo", "--out", "unused"],
    ["-m", "hfl_ros.ros.perception_node"],
    ["-m", "hfl_ros.ros.synthetic_camera"],
)
EXECUTABLES = ("hfl-perception-node", "hfl-synthetic-camera")
#: What ros_env.sh and a ROS installation put into the environment.
ROS_VARIABLES = ("PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH", "ROS_DISTRO", "ROS_VERSION",
                 "RMW_IMPLEMENTATION", "FASTRTPS_DEFAULT_PROFILES_FILE", "ROS_AUTOMATIC_DISCOVERY_RANGE")


def _environment_without_ros() -> dict:
    """This process's environment less everything ROS set (as in a shell that did not source ros_env.sh)."""
    env = {key: value for key, value in os.environ.items() if key not in ROS_VARIABLES}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "/opt/ros/" not in p)
    return env


def _commands():
    bin_dir = Path(sys.executable).parent
    commands = [[sys.executable, *arguments] for arguments in MODULE_COMMANDS]
    return commands + [[str(bin_dir / name)] for name in EXECUTABLES if (bin_dir / name).is_file()]


@pytest.mark.parametrize("command", _commands(), ids=lambda command: " ".join(Path(command[0]).name.split() + command[1:]))
def test_entry_point_without_ros_environment_says_what_to_source(command, tmp_path):
    completed = subprocess.run(command, env=_environment_without_ros(), cwd=tmp_path, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode != 0
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "hfl_ros.msg" in lines[0] and "source" in lines[0]
    ros_env = REPO / ".venv" / "ros_env.sh"
    if ros_env.is_file():
        assert f"source {ros_env}" in lines[0]


def test_demo_help_runs_in_the_ros_environment(tmp_path):
    pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy is not importable: run scripts/setup_ros.sh")
    completed = subprocess.run([sys.executable, "-m", "hfl_ros.ros.demo", "--help"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "--out" in completed.stdout


def test_import_without_ros_raises_an_import_error_naming_the_setup():
    completed = subprocess.run([sys.executable, "-c",
                                "try:\n import hfl_ros.ros\nexcept ImportError as e:\n"
                                " print(type(e).__name__, e)"],
                               env=_environment_without_ros(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("RosEnvironmentError hfl_ros.ros needs the ROS 2 environment")
