"""The package as colcon builds it: CMake over the root CMakeLists.txt into a prefix, then the generated
hfl_ros.msg and our hfl_ros modules import side by side from that prefix alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

REPO = Path(__file__).resolve().parents[2]
CHECK = """
import hfl_ros, hfl_ros.msg
from hfl_ros.msg import HandObject
from hfl_ros.ros.perception_node import PerceptionNode
from hfl_ros.ros.parameters import package_config_file
print(hfl_ros.__file__)
print(package_config_file("objects.yaml"))
"""


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_install_holds_messages_sources_executables_launch_and_config(tmp_path):
    source = tmp_path / "src" / "hfl_ros"
    source.mkdir(parents=True)
    for name in ("CMakeLists.txt", "package.xml"):
        shutil.copy2(REPO / name, source / name)
    for name in ("msg", "hfl_ros", "launch", "config"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    prefix, build = tmp_path / "install", tmp_path / "build"
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix)
    steps = (
        ["cmake", "-S", str(source), "-B", str(build), "-Wno-dev", f"-DCMAKE_INSTALL_PREFIX={prefix}",
         f"-DCMAKE_PREFIX_PATH={sys.prefix}", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
        ["cmake", "--build", str(build), "-j", "2"],
        ["cmake", "--install", str(build)],
    )
    for step in steps:
        completed = subprocess.run(step, env=env, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    site = prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert (site / "hfl_ros" / "__init__.py").read_text() == (REPO / "hfl_ros" / "__init__.py").read_text()
    for executable in ("perception_node", "synthetic_camera"):
        path = prefix / "lib" / "hfl_ros" / executable
        assert os.access(path, os.X_OK) and f"hfl_ros.ros.{executable} import main" in path.read_text()
    share = prefix / "share" / "hfl_ros"
    assert (share / "launch" / "perception.launch.py").is_file() and (share / "config" / "hfl_ros.rviz").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "hfl_ros").is_file()  # ros2 finds it

    run_env = dict(os.environ, PYTHONPATH=str(site), AMENT_PREFIX_PATH=f"{prefix}{os.pathsep}{sys.prefix}",
                   LD_LIBRARY_PATH=os.pathsep.join([str(prefix / "lib"), os.environ.get("LD_LIBRARY_PATH", "")]))
    completed = subprocess.run([sys.executable, "-c", CHECK], env=run_env, cwd=tmp_path, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    module_file, registry = completed.stdout.split()
    assert Path(module_file).parent == site / "hfl_ros"
    assert Path(registry) == share / "config" / "objects.yaml"
