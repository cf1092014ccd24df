"""ROS 2 layer: image and message conversions (pure functions), parameters, diagnostics, the nodes.

Importing it checks the ROS 2 environment first: rclpy and the message package the ROS build generates
(`hfl_ros.msg`). Where either is missing the import fails with `RosEnvironmentError`, one line saying what
to source (or which command sets it up); a command that does not catch it (`python -m hfl_ros.ros.demo`,
the node executables) prints that line alone and exits with status 1, without a traceback.
"""

import importlib.util
import sys
from pathlib import Path
from typing import List

#: What every module of this package needs: the ROS 2 client library and our generated messages.
REQUIRED_MODULES = ("rclpy", "hfl_ros.msg")
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Written by scripts/setup_ros.sh in a checkout of this repository.
ROS_ENV_SCRIPT = REPO_ROOT / ".venv" / "ros_env.sh"
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup_ros.sh"


class RosEnvironmentError(ImportError):
    """The ROS 2 environment is not set up in this process; the message says what to source."""


def missing_ros_modules() -> List[str]:
    """The REQUIRED_MODULES this interpreter cannot find."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


def ros_environment_hint(missing: List[str]) -> str:
    """One line: what is missing and what to source (the checkout's ros_env.sh when it exists, else the
    command that writes it, else a colcon workspace's setup file)."""
    if ROS_ENV_SCRIPT.is_file():
        how = f"run `source {ROS_ENV_SCRIPT}` first"
    elif SETUP_SCRIPT.is_file():
        how = (f"set it up once with `bash {SETUP_SCRIPT}`, then run `source {ROS_ENV_SCRIPT}`"
               " (or source your ROS 2 workspace's install/setup.bash)")
    else:
        how = "source your ROS 2 workspace's install/setup.bash (colcon build --packages-select hfl_ros) first"
    return f"hfl_ros.ros needs the ROS 2 environment ({' and '.join(missing)} not found): {how}"


def _report_without_traceback(previous_hook):
    def hook(kind, error, traceback) -> None:
        if issubclass(kind, RosEnvironmentError):
            sys.stderr.write(f"{error}\n")
        else:
            previous_hook(kind, error, traceback)

    return hook


def _require_ros_environment() -> None:
    missing = missing_ros_modules()
    if missing:
        if not getattr(sys.excepthook, "reports_ros_environment", False):
            sys.excepthook = _report_without_traceback(sys.excepthook)
            sys.excepthook.reports_ros_environment = True
        raise RosEnvironmentError(ros_environment_hint(missing))


_require_ros_environment()
