"""The package installed as a user installs it: a wheel built from a copy of the sources, installed (not
editable) into a fresh virtual environment, run from a directory that is neither the checkout nor the venv.

The fresh venv gets hfl_ros only from the wheel; its dependencies (torch, OpenCV, MediaPipe, ...) come from
this test's own environment through one .pth line, so nothing is downloaded and nothing is installed twice.
Without the wheel's packaged config files, hfl-video stopped with "object registry file not found:
.../site-packages/config/objects.yaml".
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from hfl_ros.resources import PACKAGED_CONFIG_FILES

REPO = Path(__file__).resolve().parents[1]
#: What a wheel is built from (the rest of the checkout is not needed to build it).
SOURCES = ("setup.py", "setup.cfg", "MANIFEST.in", "config", "hfl_ros")
#: A real photo of one hand (test/data/real/README.md).
PHOTO = REPO / "test" / "data" / "real" / "thumb_up_still.jpg"
#: Printed by the installed interpreter: where the package and its defaults are.
WHERE = """
import json, hfl_ros
from hfl_ros.resources import package_config_file, package_asset
from hfl_ros.apps import demo, video
print(json.dumps({"package": hfl_ros.__file__, "demo_scene": str(demo.BUNDLED_SCENE),
                  "video_registry": str(video.DEFAULT_REGISTRY), "scene_asset": str(package_asset("demo_scene")),
                  "config": {name: str(package_config_file(name)) for name in %r}}))
""" % (PACKAGED_CONFIG_FILES,)
TIMEOUT_S = 600


def _run(command, cwd, env=None):
    completed = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=TIMEOUT_S)
    assert completed.returncode == 0, f"{command}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def _user_env():
    """This environment minus what would let the checkout or a ROS install be found instead of the wheel."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "AMENT_PREFIX_PATH", "COLCON_PREFIX_PATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """(wheel, venv's site-packages, venv's bin, a working directory elsewhere)."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
          root / "dist", source], cwd=root)
    (wheel,) = (root / "dist").glob("hfl_ros-*.whl")

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root)
                .stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel],
         cwd=root, env=_user_env())  # with the checkout on PYTHONPATH, pip would take hfl_ros as installed
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return wheel, site, venv / "bin", elsewhere


def test_the_wheel_carries_the_default_config_files_and_the_demo_scene(install):
    wheel = install[0]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in PACKAGED_CONFIG_FILES:
            assert archive.read(f"hfl_ros/assets/config/{name}") == (REPO / "config" / name).read_bytes()
    for path in (REPO / "hfl_ros" / "assets" / "demo_scene").iterdir():
        assert f"hfl_ros/assets/demo_scene/{path.name}" in names


def test_the_installed_package_finds_its_defaults_inside_itself(install):
    _, site, bin_dir, elsewhere = install
    where = json.loads(_run([bin_dir / "python", "-c", WHERE], cwd=elsewhere, env=_user_env()).stdout)
    package = site / "hfl_ros"
    assert Path(where["package"]) == package / "__init__.py"
    assert Path(where["demo_scene"]) == Path(where["scene_asset"]) == package / "assets" / "demo_scene"
    for name, path in where["config"].items():
        assert Path(path) == package / "assets" / "config" / name
    assert Path(where["video_registry"]) == package / "assets" / "config" / "objects.yaml"


def test_installed_hfl_video_runs_on_a_photo_from_another_directory(install):
    _, _, bin_dir, elsewhere = install
    shutil.copy2(PHOTO, elsewhere / "photo.jpg")
    _run([bin_dir / "hfl-video", "photo.jpg", "--output", "out", "--device", "cpu"], cwd=elsewhere, env=_user_env())
    records = (elsewhere / "out" / "trajectory.jsonl").read_text().splitlines()
    assert len(records) == 1
    assert json.loads((elsewhere / "out" / "run.json").read_text())["object"] == "006_mustard_bottle"
