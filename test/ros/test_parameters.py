"""Node parameters: one table; the shipped YAML sets every one with its declared type; settings are checked."""

from pathlib import Path

import pytest
import yaml

from hfl_ros.ros.parameters import PARAMETERS, NodeSettings, package_config_file

REPO = Path(__file__).resolve().parents[2]


def _shipped() -> dict:
    return yaml.safe_load((REPO / "config" / "perception.yaml").read_text())["/**"]["ros__parameters"]


def _ros_type(value: object) -> str:
    """The ROS parameter type a value declares (bool before int: bool is an int in Python)."""
    if isinstance(value, (list, tuple)):
        return "array of " + ", ".join(sorted({_ros_type(v) for v in value}))
    return next(name for kind, name in ((bool, "bool"), (int, "integer"), (float, "double"), (str, "string"))
                if isinstance(value, kind))


def test_shipped_yaml_sets_every_parameter_with_the_declared_type():
    shipped = _shipped()
    assert list(shipped) == list(PARAMETERS)  # same names, same order as the table
    for name, value in shipped.items():
        assert _ros_type(value) == _ros_type(PARAMETERS[name].default), name  # ROS parameters are strictly typed


def test_table_defaults_are_the_shipped_values_except_the_required_mano_dir():
    shipped = _shipped()
    assert {name: row.default for name, row in PARAMETERS.items()} == {
        name: tuple(value) if isinstance(value, list) else value for name, value in shipped.items()}
    assert [name for name, row in PARAMETERS.items() if row.dynamic] == ["object"]


def test_shipped_values_build_settings():
    values = dict(_shipped(), mano_dir="/some/mano")
    settings = NodeSettings.from_values(values)
    assert settings.checkpoint == ""  # empty = untrained
    assert settings.registry_file == package_config_file("objects.yaml")
    assert settings.policy.initial_hand_roi is None  # use_initial_roi: false, the detector finds hands
    assert settings.policy.min_box_size == values["min_box_size"] and settings.detector
    with_roi = NodeSettings.from_values(dict(values, use_initial_roi=True)).policy
    assert with_roi.initial_hand_roi == tuple(values["initial_hand_roi"])
    assert with_roi.initial_object_roi == tuple(values["initial_object_roi"])
    assert settings.detector_settings.grid_levels == tuple(values["detector_grid_levels"])
    assert settings.image_transport == "raw" and settings.min_object_inliers == 4
    assert NodeSettings.from_values(dict(values, object_registry="/my/objects.yaml")).registry_file == \
        Path("/my/objects.yaml")


def test_filter_parameters_are_the_filter_settings_fields_with_the_prefix():
    values = {name: value for name, value in _shipped().items() if name.startswith("filter_")}
    settings = NodeSettings.from_values(dict(values, mano_dir="/some/mano", filter_gate_translation=0.05,
                                             filter_gate_persist_frames=5))
    fields = settings.filter_settings.__dict__
    assert set(fields) == {name[len("filter_"):] for name in values}
    assert (fields["gate_translation"], fields["gate_persist_frames"]) == (0.05, 5)


@pytest.mark.parametrize("override, match", [
    ({"mano_dir": ""}, "parameter mano_dir is empty"),
    ({"image_transport": "theora"}, "parameter image_transport must be one of"),
    ({"intrinsics_source": "r"}, "parameter intrinsics_source must be one of"),
    ({"max_image_pixels": 0}, "parameter max_image_pixels must be > 0"),
    ({"min_object_inliers": -1}, "parameter min_object_inliers must be >= 0"),
    ({"marker_lifetime": float("nan")}, "parameter marker_lifetime must be >= 0"),
    ({"tracking_max_age": -0.1}, "parameter tracking_max_age must be >= 0"),
    ({"tracking_margin": 0.0}, "parameter tracking_margin must be > 0"),
    ({"hand_selection": "nearest"}, "parameter hand_selection must be one of"),
    ({"hand_side": "both"}, "parameter hand_side must be one of"),
    ({"object_refine_min_iou": 1.5}, r"parameter object_refine_min_iou must be in \[0.0, 1.0\]"),
    ({"object_refine_passes": 0}, "parameter object_refine_passes must be >= 1"),
    ({"detector_grid_levels": [1, 0]}, "parameter detector_grid_levels must be a non-empty list"),
    ({"initial_object_roi": [0.5, 0.5, 0.5, 0.6]}, "initial_object_roi must be"),
    ({"filter_gate_translation": 0.0}, "gate_translation"),
    ({"diagnostics_period": 0.0}, "parameter diagnostics_period must be > 0"),
    ({"no_such_thing": 1}, "no_such_thing"),
])
def test_bad_values_name_the_parameter(override, match):
    values = dict(_shipped(), mano_dir="/some/mano")
    values.update(override)
    with pytest.raises(ValueError, match=match):
        NodeSettings.from_values(values)


def test_the_default_registry_is_a_colcon_install_s_else_the_checkout_s(tmp_path, monkeypatch):
    values = dict(_shipped(), mano_dir="/some/mano")
    assert values["object_registry"] == ""  # the shipped file leaves the registry to the install
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    assert NodeSettings.from_values(values).registry_file == REPO / "config" / "objects.yaml"
    # a colcon install prefix: the ament index entry and share/hfl_ros/config (what CMakeLists.txt installs)
    prefix = tmp_path / "install"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / "hfl_ros").write_text("")
    installed = prefix / "share" / "hfl_ros" / "config" / "objects.yaml"
    installed.parent.mkdir(parents=True)
    installed.write_text((REPO / "config" / "objects.yaml").read_text())
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert NodeSettings.from_values(values).registry_file == installed
    # (an installed wheel's copy inside the package: test/test_install.py)


def test_inference_parameters_reach_the_estimator_config_and_a_bad_precision_is_refused_by_name():
    values = dict(_shipped(), mano_dir="/some/mano", optimize=False, precision="bf16", onnx_model="/m/hfl.onnx")
    inference = NodeSettings.from_values(values).inference
    assert (inference.optimize, inference.precision, inference.onnx_model) == (False, "bf16", "/m/hfl.onnx")
    assert NodeSettings.from_values(dict(_shipped(), mano_dir="/some/mano")).inference.onnx_model is None
    with pytest.raises(ValueError, match="precision.*'fp64'"):
        NodeSettings.from_values(dict(_shipped(), mano_dir="/some/mano", precision="fp64"))
