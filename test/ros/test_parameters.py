"""Node parameters: the shipped YAML sets every one with its declared type; settings are checked."""

from pathlib import Path

import pytest
import yaml

from hfl_ros.ros.parameters import PARAMETERS, package_config_file, settings_from_values

REPO = Path(__file__).resolve().parents[2]


def _shipped() -> dict:
    return yaml.safe_load((REPO / "config" / "perception.yaml").read_text())["/**"]["ros__parameters"]


def test_shipped_yaml_sets_every_parameter_with_the_declared_type():
    shipped = _shipped()
    assert set(shipped) == set(PARAMETERS)
    for name, value in shipped.items():
        assert type(value) is type(PARAMETERS[name].default), name  # ROS parameters are strictly typed
        if isinstance(value, list):
            assert all(isinstance(v, float) for v in value), name


def test_shipped_values_build_settings():
    values = dict(_shipped(), mano_dir="/some/mano")
    settings = settings_from_values(values, REPO / "config" / "objects.yaml")
    assert settings.checkpoint is None  # empty = untrained
    assert settings.object_registry == str(REPO / "config" / "objects.yaml")
    assert settings.boxes.initial_hand_box == tuple(values["initial_hand_roi"])
    assert settings.image_transport == "raw" and settings.min_object_inliers == 4


@pytest.mark.parametrize("override, match", [
    ({"mano_dir": ""}, "mano_dir is empty"),
    ({"image_transport": "theora"}, "image_transport"),
    ({"intrinsics_source": "r"}, "intrinsics_source"),
    ({"tracking_max_age": -0.1}, "tracking_max_age"),
    ({"initial_object_roi": [0.5, 0.5, 0.5, 0.6]}, "initial_object_box"),
    ({"diagnostics_period": 0.0}, "diagnostics_period"),
    ({"no_such_thing": 1}, "no_such_thing"),
])
def test_bad_values_name_the_parameter(override, match):
    values = dict(_shipped(), mano_dir="/some/mano")
    values.update(override)
    with pytest.raises(ValueError, match=match):
        settings_from_values(values, REPO / "config" / "objects.yaml")


def test_package_config_file_finds_the_registry():
    path = package_config_file("objects.yaml")
    assert path.is_file() and path.name == "objects.yaml"
