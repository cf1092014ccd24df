"""The README's demo: synthetic camera -> perception node (untrained) -> JSON lines and overlays; and the
process helpers it shares with the latency benchmark and the integration tests."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from hfl_ros.ros import demo  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_node_parameters_keep_their_yaml_types():
    arguments = demo.node_parameters({"a": "", "b": "025", "c": "it's", "d": True, "e": 0.5, "f": 3})
    assert arguments[::2] == ["-p"] * 6
    values = dict(argument.split(":=", 1) for argument in arguments[1::2])
    parsed = {name: yaml.safe_load(text) for name, text in values.items()}
    assert parsed == {"a": "", "b": "025", "c": "it's", "d": True, "e": 0.5, "f": 3}


def test_isolated_environment_pins_domain_and_localhost_discovery():
    env = demo.isolated_environment(42, base={"PYTHONPATH": "/elsewhere"})
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["PYTHONPATH"].split(":") == [str(demo.REPO_ROOT), "/elsewhere"]
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"].endswith("fastdds_profile.xml")
    with pytest.raises(ValueError, match="102"):
        demo.isolated_environment(102)


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
    # The camera's images were recognised among the re-rendered loop: its ground truth is on the overlays.
    assert re.search(r"ground truth in magenta on [1-9]", completed.stdout), completed.stdout[-3000:]
    assert re.search(r"frames published: [1-9]", completed.stdout)  # the node's diagnostics were read back
