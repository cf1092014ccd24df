"""Shared fixtures of the synthetic-scene tests: assets of the procedural hand, a small scene."""

import pytest

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene


@pytest.fixture(scope="module")
def assets(mano_dir) -> SceneAssets:
    return SceneAssets.load(mano_dir)


@pytest.fixture(scope="session")
def small_scene() -> SyntheticScene:
    return SyntheticScene(image_size=(160, 120))
