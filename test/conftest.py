"""Test configuration: the repository on sys.path and shared fixtures (a procedural MANO hand)."""

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def mano_dir(tmp_path_factory) -> Path:
    """A directory with procedural MANO_RIGHT.pkl / MANO_LEFT.pkl in the official layout."""
    from hfl_ros.mano.procedural import procedural_mano_dir

    return procedural_mano_dir(tmp_path_factory.mktemp("mano"))


@pytest.fixture(scope="session")
def mano_layer(mano_dir):
    """The right-hand MANO layer loaded from the procedural pickle through the real loader."""
    from hfl_ros.mano import load_mano

    return load_mano(mano_dir, side="right")


@pytest.fixture(scope="session", autouse=True)
def onnx_export_cache(tmp_path_factory) -> Iterator[Path]:
    """The ONNX export cache of the whole session (tools, nodes and launches it starts inherit it): each network
    is exported once per test run, and nothing is written into the user's ~/.cache."""
    from hfl_ros.model.export import CACHE_ENV

    path = tmp_path_factory.mktemp("hfl_ros_cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    yield path
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous
