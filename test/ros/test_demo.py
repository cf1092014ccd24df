"""The README's demo: synthetic camera -> perception node (untrained) -> JSON lines and overlays."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

REPO = Path(__file__).resolve().parents[2]


def test_demo_records_untrained_results_and_says_so(tmp_path, mano_dir):
    out = tmp_path / "demo"
    completed = subprocess.run(
        [sys.executable, "-m", "hfl_ros.ros.demo", "--out", str(out), "--frames", "1", "--rate", "10",
         "--timeout", "180", "--mano-dir", str(mano_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "UNTRAINED" in completed.stdout
    records = [json.loads(line) for line in (out / "hand_object.jsonl").read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["untrained"] is True and record["frame_id"] == "synthetic_camera_optical_frame"
    assert len(record["hand"]["joints"]) == 21 and record["object"]["name"] == "006_mustard_bottle"
    assert any((out / "overlays").glob("*.png"))
