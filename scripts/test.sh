#!/usr/bin/env bash
# The test command: build the environment from nothing (Python venv, ROS 2 Jazzy from PyPI, our messages),
# then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/setup_ros.sh
# shellcheck disable=SC1091
source .venv/ros_env.sh
.venv/bin/python -m pytest test "$@"
