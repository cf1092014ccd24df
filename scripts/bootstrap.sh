#!/usr/bin/env bash
# Create .venv (from nothing) with torch 2.14.1 / torchvision 0.29.1 from this machine's disk and hfl_ros
# installed in editable mode. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
# The constraint keeps the extras (onnxruntime, ...) from moving torch.
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,ycb,onnx,bags,ray,lerobot]" \
  --constraint <(printf 'torch==2.14.1\ntorchvision==0.29.1\n')
# LeRobot's dataset writer without its own OpenCV pin (setup.py's `lerobot` extra holds its other dependencies).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "lerobot-dataset==0.4.4"
bash scripts/install_detector.sh .venv/bin/python
.venv/bin/python -c "import torch, hfl_ros; print('hfl_ros environment ready: torch', torch.__version__)"
