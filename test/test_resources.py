"""hfl_ros.resources: which copy of a default file is found, in a checkout, beside a colcon share directory,
and what a missing or badly named one says. (An installed wheel: test/test_install.py.)"""

from pathlib import Path

import pytest

import hfl_ros
from hfl_ros import resources
from hfl_ros.resources import ResourceNotFoundError, config_candidates, package_asset, package_config_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_ament(monkeypatch):
    """This process as outside any ROS environment (no ament prefix to find a share directory in)."""
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)


def _ament_prefix(root: Path, config_files: dict) -> Path:
    """A minimal ament install prefix that holds hfl_ros's share/config with `config_files` (name -> text)."""
    (root / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (root / "share" / "ament_index" / "resource_index" / "packages" / "hfl_ros").write_text("")
    config = root / "share" / "hfl_ros" / "config"
    config.mkdir(parents=True)
    for name, text in config_files.items():
        (config / name).write_text(text)
    return root


def test_a_checkout_without_ros_finds_its_own_config_directory(no_ament):
    assert Path(hfl_ros.__file__).resolve().parent == REPO / "hfl_ros"  # these tests run on the checkout
    for name in resources.PACKAGED_CONFIG_FILES:
        assert package_config_file(name) == REPO / "config" / name


def test_a_colcon_share_directory_comes_before_the_checkout(tmp_path, monkeypatch):
    pytest.importorskip("ament_index_python", reason="ament_index_python is not installed (scripts/setup_ros.sh)")
    prefix = _ament_prefix(tmp_path / "install", {"objects.yaml": "objects: {}\n"})
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert package_config_file("objects.yaml") == prefix / "share" / "hfl_ros" / "config" / "objects.yaml"
    # a file the share directory lacks still comes from the next place
    assert package_config_file("perception.yaml") == REPO / "config" / "perception.yaml"
    assert config_candidates("objects.yaml")[0] == prefix / "share" / "hfl_ros" / "config" / "objects.yaml"


def test_a_missing_config_file_names_every_place_looked_at(no_ament):
    with pytest.raises(ResourceNotFoundError, match="'no_such.yaml'") as raised:
        package_config_file("no_such.yaml")
    for place in config_candidates("no_such.yaml"):
        assert str(place) in str(raised.value)


@pytest.mark.parametrize("name", ["", "config/objects.yaml", "../objects.yaml", "/etc/objects.yaml"])
def test_a_config_file_is_named_by_its_file_name_alone(name):
    with pytest.raises(ValueError, match="file name alone"):
        package_config_file(name)


def test_the_demo_scene_is_an_asset_inside_the_package():
    scene = package_asset("demo_scene")
    assert scene == Path(hfl_ros.__file__).resolve().parent / "assets" / "demo_scene"
    assert (scene / "rgb.png").is_file() and (scene / "annotation.json").is_file()


@pytest.mark.parametrize("name", ["", "../config", "/tmp"])
def test_an_asset_outside_the_package_is_refused(name):
    with pytest.raises(ValueError, match="relative path inside hfl_ros/assets"):
        package_asset(name)


def test_a_missing_asset_names_its_path():
    with pytest.raises(ResourceNotFoundError, match="no_such_scene"):
        package_asset("no_such_scene")
