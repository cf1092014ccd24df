"""Where the package's default files are, however it was installed.

Two kinds of default file:

- **config files** (`config/` of the repository: the object registry `objects.yaml`, the node's
  `perception.yaml`, the Fast DDS profile). They are found, in this order, in
  1. the ROS share directory `share/hfl_ros/config` of a colcon (CMake) install, through the ament index;
  2. the copy inside the package, `hfl_ros/assets/config`, that setup.py's build step adds to a wheel
     (`pip install .`, not editable);
  3. `config/` of the source checkout this package is imported from (a development tree or an editable
     install).
- **package assets** (`hfl_ros/assets/<name>`, e.g. the demo scene), which travel inside the package in every
  install (package data of the wheel; CMake installs the whole `hfl_ros/` directory).

`package_config_file` and `package_asset` are the only places that know this; the applications and the
node ask them for their defaults.
"""

from importlib import resources
from pathlib import Path
from typing import Optional

#: Name of the distribution, of the ROS package and of its share directory.
PACKAGE = "hfl_ros"
#: Directory of package assets inside the package.
ASSETS = "assets"
#: Directory of the config files: the repository's `config/`, the share directory's `config/`, and
#: `hfl_ros/assets/config` inside a wheel.
CONFIG = "config"
#: The config files a wheel carries (setup.py copies them into hfl_ros/assets/config).
PACKAGED_CONFIG_FILES = ("objects.yaml", "perception.yaml", "fastdds_profile.xml")
#: A file only a source checkout of this repository has beside hfl_ros/ and config/.
CHECKOUT_MARKER = "package.xml"


class ResourceNotFoundError(FileNotFoundError):
    """A default file of the package is in none of the places an install puts it; the message lists them."""


def _package_dir() -> Path:
    return Path(str(resources.files(PACKAGE)))


def _share_config_dir() -> Optional[Path]:
    """share/hfl_ros/config of an ament (colcon) install, or None without ament or outside one."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE)) / CONFIG
    except (PackageNotFoundError, OSError, ValueError):  # OSError / ValueError: AMENT_PREFIX_PATH unset or empty
        return None


def _checkout_config_dir() -> Optional[Path]:
    """config/ of the source checkout the package is imported from, or None for an installed package."""
    root = _package_dir().parent
    return root / CONFIG if (root / CHECKOUT_MARKER).is_file() else None


def config_candidates(name: str) -> list:
    """Where `package_config_file(name)` looks, in order (paths that need not exist)."""
    if not name or Path(name).name != name:
        raise ValueError(f"a config file is named by its file name alone, got {name!r}")
    places = [_share_config_dir(), _package_dir() / ASSETS / CONFIG, _checkout_config_dir()]
    return [place / name for place in places if place is not None]


def package_config_file(name: str) -> Path:
    """The package's config file `name` (e.g. "objects.yaml"): the first of `config_candidates(name)` that
    exists. Raises ResourceNotFoundError listing the places looked at when none does."""
    candidates = config_candidates(name)
    for path in candidates:
        if path.is_file():
            return path
    raise ResourceNotFoundError(f"config file {name!r} of {PACKAGE} not found; looked at: "
                                + ", ".join(str(path) for path in candidates))


def package_asset(name: str) -> Path:
    """The package asset `name` (a file or directory under hfl_ros/assets, e.g. "demo_scene").
    Raises ResourceNotFoundError naming the path when it is missing."""
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"an asset is named by a relative path inside hfl_ros/assets, got {name!r}")
    path = _package_dir() / ASSETS / name
    if not path.exists():
        raise ResourceNotFoundError(f"asset {name!r} of {PACKAGE} not found: {path} does not exist")
    return path
