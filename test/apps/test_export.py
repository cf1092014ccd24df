"""hfl-export on a CI-sized HFL-Net: ONNX Runtime runs the file with torch's outputs, and the estimator runs on it."""

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hfl_ros.apps.demo import BUNDLED_SCENE, scene_boxes
from hfl_ros.apps.export import load_network, main
from hfl_ros.data.synthetic import read_scene, read_scene_object
from hfl_ros.inference.estimator import HandObjectEstimator, InferenceConfig
from hfl_ros.model.export import OnnxNetwork, example_inputs, export_key
from hfl_ros.model.optimize import output_differences

SMOKE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "train_synthetic_smoke.yaml"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mano_dir):
    """(the .onnx file hfl-export wrote, the torch network it was made from)."""
    path = tmp_path_factory.mktemp("onnx") / "hflnet.onnx"
    arguments = ["--mano-dir", str(mano_dir), "--model-config", str(SMOKE_CONFIG)]
    assert main(["--output", str(path)] + arguments) == 0
    model, untrained = load_network(argparse.Namespace(checkpoint=None, mano_dir=mano_dir, model_config=SMOKE_CONFIG))
    assert untrained
    return path, model


@pytest.mark.parametrize("batch", [1, 4])
def test_onnx_runtime_reproduces_torch_within_1e_4(exported, batch):
    path, model = exported
    inputs = example_inputs(batch)
    with torch.inference_mode():
        expected = model(*inputs)
    differences = output_differences(OnnxNetwork(path)(*inputs), expected)
    assert max(differences.values()) <= 1e-4, differences


def test_estimator_on_onnx_runtime_equals_the_torch_estimator(exported):
    path, model = exported
    image, annotation, _ = read_scene(BUNDLED_SCENE)
    boxes = scene_boxes(annotation)
    object_model = read_scene_object(BUNDLED_SCENE)
    estimates = [HandObjectEstimator(model, "cpu", inference=config).estimate(
        image, annotation.K, boxes["hand"], boxes["object"], object_model)
        for config in (InferenceConfig(optimize=False), InferenceConfig(onnx_model=str(path)))]
    torch_estimate, onnx_estimate = estimates
    relative = [estimate.hand.vertices - estimate.hand.joints[:1] for estimate in estimates]
    np.testing.assert_allclose(relative[1], relative[0], atol=1e-5, rtol=0)
    # The untrained hand sits metres away, where the placement amplifies float rounding: 1e-5 of its distance
    # (per coordinate, a coordinate near 0 would get no float32 slack at all).
    np.testing.assert_allclose(onnx_estimate.hand.joints, torch_estimate.hand.joints, rtol=0,
                               atol=1e-5 * np.abs(torch_estimate.hand.joints).max())
    np.testing.assert_allclose(onnx_estimate.hand.joints_2d, torch_estimate.hand.joints_2d, atol=1e-3, rtol=0)
    np.testing.assert_allclose(onnx_estimate.object.control_points_2d, torch_estimate.object.control_points_2d,
                               atol=1e-3, rtol=0)



def test_the_apps_default_runtime_is_onnx_runtime_on_a_cached_checked_export(exported, tmp_path):
    """hfl-demo / hfl-video's default (--runtime auto) on the CPU: ONNX Runtime on the export cached under
    the weights' key (seeded here with hfl-export's file, so no second export; cached_export's own export
    and check are tested in test/model/test_export.py), no new file; bf16 stays on torch."""
    from hfl_ros.apps.options import add_inference_arguments, inference_config

    pytest.importorskip("onnxruntime")
    path, model = exported
    (tmp_path / "onnx").mkdir()
    cached = tmp_path / "onnx" / f"hflnet-{export_key(model)}.onnx"
    shutil.copy(path, cached)
    parser = argparse.ArgumentParser()
    add_inference_arguments(parser)
    config = inference_config(parser.parse_args(["--onnx-cache", str(tmp_path / "onnx")]))
    assert config.runtime == "auto"
    first = HandObjectEstimator(model, "cpu", inference=config)
    assert isinstance(first.network, OnnxNetwork) and list((tmp_path / "onnx").iterdir()) == [cached]
    inputs = example_inputs(2)
    with torch.inference_mode():
        differences = output_differences(first.network(*inputs), model(*inputs))
    assert max(differences.values()) <= 1e-4, differences
    bf16 = inference_config(parser.parse_args(["--onnx-cache", str(tmp_path), "--precision", "bf16"]))
    assert not isinstance(HandObjectEstimator(model, "cpu", inference=bf16).network, OnnxNetwork)


def test_runtime_onnx_refuses_a_path_that_is_not_the_exact_one(exported, tmp_path):
    _, model = exported
    with pytest.raises(ValueError, match="runtime 'onnx' runs the exact fp32 inference path"):
        HandObjectEstimator(model, "cpu", inference=InferenceConfig(runtime="onnx", precision="bf16",
                                                                    onnx_cache_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="runtime must be one of"):
        InferenceConfig(runtime="tensorflow")
