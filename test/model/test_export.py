"""ONNX Runtime behind the forward contract: provider choice, the export cache, I/O binding, files it must refuse."""

import logging

import pytest
import torch
from torch import nn

from hfl_ros.config import ModelConfig
from hfl_ros.model.export import (
    CPU,
    CUDA,
    TENSORRT,
    OnnxNetwork,
    cached_export,
    example_inputs,
    export_key,
    onnx_providers,
)
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.model.optimize import output_differences

SMALL = ModelConfig(resnet_width=8, resnet_blocks=(1, 1, 1, 1), feature_channels=16)
ALL_PROVIDERS = [TENSORRT, CUDA, CPU]


@pytest.fixture(scope="module")
def small_model(mano_layer):
    torch.manual_seed(0)
    return HFLNet(SMALL, mano_layer).eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory, small_model):
    """(the cache directory, the path cached_export returned for small_model)."""
    directory = tmp_path_factory.mktemp("onnx_cache")
    return directory, cached_export(small_model, directory)


def test_cuda_asks_for_the_cuda_provider_on_its_device_and_tensorrt_only_when_asked():
    assert onnx_providers(torch.device("cuda:1"), ALL_PROVIDERS) == [(CUDA, {"device_id": "1"}), (CPU, {})]
    providers = onnx_providers(torch.device("cuda:2"), ALL_PROVIDERS, tensorrt=True, engine_cache="/tmp/engines")
    assert providers[0] == (TENSORRT, {"device_id": "2", "trt_fp16_enable": "False", "trt_engine_cache_enable": "True",
                                       "trt_engine_cache_path": "/tmp/engines"})
    assert [name for name, _ in providers[1:]] == [CUDA, CPU]
    assert onnx_providers(torch.device("cpu"), ALL_PROVIDERS) == [(CPU, {})]


def test_cuda_with_a_cpu_only_onnxruntime_is_refused_not_run_on_the_cpu():
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        onnx_providers(torch.device("cuda"), ["AzureExecutionProvider", CPU])
    with pytest.raises(RuntimeError, match="TensorRT was asked for"):
        onnx_providers(torch.device("cuda"), [CUDA, CPU], tensorrt=True)


def test_this_onnxruntime_refuses_a_cuda_network_when_it_has_no_cuda_provider(cache):
    onnxruntime = pytest.importorskip("onnxruntime")
    if CUDA in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        OnnxNetwork(cache[1], "cuda")


def test_the_cached_export_reproduces_torch_through_io_binding(cache, small_model):
    pytest.importorskip("onnxruntime")
    for batch in (1, 3):
        inputs = example_inputs(batch)
        with torch.inference_mode():
            expected = small_model(*inputs)
        differences = output_differences(OnnxNetwork(cache[1])(*inputs), expected)
        assert max(differences.values()) <= 1e-4, (batch, differences)


def test_a_second_export_of_the_same_weights_comes_from_the_cache(cache, small_model, caplog):
    directory, path = cache
    written = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="hfl_ros.model.export"):
        assert cached_export(small_model, directory) == path
    assert path.stat().st_mtime_ns == written and "from the cache" in caplog.text
    assert [entry.name for entry in directory.iterdir()] == [path.name]


def test_the_cache_key_follows_the_weights(small_model):
    changed = HFLNet(SMALL, small_model.mano_layer).eval()
    changed.load_state_dict(small_model.state_dict())
    assert export_key(changed) == export_key(small_model)
    with torch.no_grad():
        changed.object_head.out_conv.bias[0] += 1e-6
    assert export_key(changed) != export_key(small_model)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        OnnxNetwork(tmp_path / "absent.onnx")


def test_a_model_that_is_not_hflnet_is_refused(tmp_path):
    path = tmp_path / "linear.onnx"
    torch.onnx.export(nn.Linear(3, 2), (torch.randn(1, 3),), str(path), input_names=["x"], output_names=["y"],
                      dynamo=False)
    with pytest.raises(ValueError, match="not an HFL-Net export"):
        OnnxNetwork(path)
