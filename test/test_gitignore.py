"""The repository's .gitignore keeps what commands write out of `git status`: training runs (every
config's output_dir), the demos' and tools' output folders, the virtual environment and colcon folders;
and it ignores no tracked source."""

import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

from hfl_ros.training.config import TrainConfig, load_train_config

REPO = Path(__file__).resolve().parents[1]
#: Files the README's commands write: hfl-demo, the ROS demo, hfl-video, hfl-export, the latency benchmark.
OUTPUT_FILES = ("out/demo/overlay.png", "out/demo/procedural_mano/MANO_RIGHT.pkl", "out/ros_demo/overlays/1.5.png",
                "out/video/trajectory.jsonl", "out/hflnet.onnx", "out/ros_latency/perception_node.log")
ENVIRONMENT_FILES = (".venv/bin/python", "build/hfl_ros/Makefile", "install/setup.bash", "log/latest_build")


def _git(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module", autouse=True)
def git_checkout() -> None:
    if shutil.which("git") is None or _git("rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        pytest.skip("not a git checkout")


def _ignored(paths: List[str]) -> List[str]:
    """The paths .gitignore ignores (whether or not they exist or are tracked)."""
    completed = _git("check-ignore", "--no-index", *paths)
    assert completed.returncode in (0, 1), completed.stderr
    return completed.stdout.splitlines()


def _run_folders() -> List[str]:
    configs = sorted((REPO / "config").glob("train_*.yaml"))
    assert configs
    return [load_train_config(path).output_dir for path in configs] + [TrainConfig().output_dir]


def test_training_runs_are_ignored():
    files = [f"{folder}/checkpoint_last.pt" for folder in _run_folders()]
    files += [f"{folder}/procedural_mano/MANO_RIGHT.pkl" for folder in _run_folders()]
    assert _ignored(files) == files


def test_output_folders_and_environment_are_ignored():
    paths = list(OUTPUT_FILES + ENVIRONMENT_FILES)
    assert _ignored(paths) == paths


def test_no_tracked_source_is_ignored():
    tracked = _git("ls-files").stdout.splitlines()
    assert tracked
    assert _ignored(tracked) == []
