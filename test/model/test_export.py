"""ONNX Runtime behind the forward contract: provider choice, and files it must refuse."""

import pytest
import torch
from torch import nn

from hfl_ros.model.export import OnnxNetwork, onnx_providers


def test_providers_put_the_gpu_ones_first_on_cuda_only():
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers(torch.device("cuda"), available) == available
    assert onnx_providers(torch.device("cuda"), ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert onnx_providers(torch.device("cpu"), available) == ["CPUExecutionProvider"]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        OnnxNetwork(tmp_path / "absent.onnx")


def test_a_model_that_is_not_hflnet_is_refused(tmp_path):
    path = tmp_path / "linear.onnx"
    torch.onnx.export(nn.Linear(3, 2), (torch.randn(1, 3),), str(path), input_names=["x"], output_names=["y"],
                      dynamo=False)
    with pytest.raises(ValueError, match="not an HFL-Net export"):
        OnnxNetwork(path)
