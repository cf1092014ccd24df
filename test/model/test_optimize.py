"""The inference path: fp32 equals the plain network, BatchNorm folding is complete and exact, reduced
precision stays within its bound, the compile fallback runs eagerly, CUDA graphs replay the same outputs."""

import logging

import pytest
import torch
from torch import nn

from hfl_ros.config import ModelConfig
from hfl_ros.model.export import example_inputs
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.model.optimize import (
    bf16_supported,
    compile_with_fallback,
    fold_batch_norms,
    optimize_for_inference,
    output_differences,
)

SMALL = ModelConfig(resnet_width=8, resnet_blocks=(1, 1, 1, 1), feature_channels=16)


def _with_random_norm_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every BatchNorm gets random running statistics and affine parameters (as after training), so that
    folding them changes the convolution weights."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                size = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.1 * torch.randn(size, generator=generator))
    return model.eval()


@pytest.fixture(scope="module")
def small_model(mano_layer):
    torch.manual_seed(0)
    return _with_random_norm_statistics(HFLNet(SMALL, mano_layer))


@pytest.fixture(scope="module")
def full_model(mano_layer):
    torch.manual_seed(0)
    return HFLNet(ModelConfig(), mano_layer).eval()


def _run(network, inputs):
    with torch.inference_mode():
        return network(*inputs)


def assert_equal_outputs(out, expected):
    """The issue's equality: 3D within 1e-5 m, 2D within 1e-4 normalised, object maps within 1e-4."""
    differences = output_differences(out, expected)
    assert differences["joints"] <= 1e-5 and differences["vertices"] <= 1e-5, differences
    assert differences["joints_2d"] <= 1e-4, differences
    assert max(differences[name] for name in ("object_confidence", "object_x", "object_y")) <= 1e-4, differences


@pytest.mark.parametrize("channels_last", [False, True])
def test_fp32_path_equals_the_plain_network(small_model, channels_last):
    inputs = example_inputs(3)
    optimized = optimize_for_inference(small_model, "cpu", "fp32", channels_last=channels_last)
    assert not any(isinstance(module, nn.BatchNorm2d) and "norm1" not in name
                   for name, module in optimized.named_modules())
    assert_equal_outputs(_run(optimized, inputs), _run(small_model, inputs))


def test_optimizing_leaves_the_input_model_untouched(small_model):
    before = {key: value.clone() for key, value in small_model.state_dict().items()}
    optimize_for_inference(small_model, "cpu", "fp32")
    after = small_model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_every_norm_after_a_convolution_is_folded(small_model):
    """Only the hand decoder's pre-activation norms (norm1: they see the skip path) remain."""
    optimized = optimize_for_inference(small_model, "cpu", "fp32", channels_last=False)
    norms = [name for name, module in small_model.named_modules() if isinstance(module, nn.BatchNorm2d)]
    remaining = [name for name, module in optimized.named_modules() if isinstance(module, nn.BatchNorm2d)]
    assert remaining and all(name.endswith(".norm1") for name in remaining)
    assert len(norms) - len(remaining) > 2 * len(remaining)


def test_folding_one_pair_is_exact():
    torch.manual_seed(1)
    block = _with_random_norm_statistics(nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU()))
    x = torch.randn(2, 4, 9, 9)
    expected = block(x)
    assert fold_batch_norms(block) == 1
    assert isinstance(block[1], nn.Identity)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_folding_refuses_a_training_module():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)).train())


def test_unknown_precision_is_refused(small_model):
    with pytest.raises(ValueError, match="'int8'"):
        optimize_for_inference(small_model, "cpu", "int8")


@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bfloat16")
def test_bf16_backbone_moves_the_published_size_network_by_at_most_1_mm(full_model):
    """bf16 in the backbone only, on the published-size network (seeded, untrained): joints and vertices
    within 1 mm, object maps within 1e-3 of float32."""
    inputs = example_inputs(1)
    differences = output_differences(_run(optimize_for_inference(full_model, "cpu", "bf16"), inputs),
                                     _run(full_model, inputs))
    assert differences["joints"] <= 1e-3 and differences["vertices"] <= 1.5e-3, differences
    assert max(differences[name] for name in ("object_confidence", "object_x", "object_y")) <= 1e-3, differences


def test_compile_failure_falls_back_to_eager(caplog):
    def failing_backend(graph_module, example_inputs):
        raise RuntimeError("no compiler here")

    module = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    wrapped = compile_with_fallback(module, backend=failing_backend)
    with caplog.at_level(logging.WARNING):
        torch.testing.assert_close(wrapped(x), module(x))
    assert "no compiler here" in caplog.text
    torch.testing.assert_close(wrapped(x), module(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replays_the_eager_outputs(small_model):
    from hfl_ros.model.optimize import CudaGraphRunner

    network = optimize_for_inference(small_model, "cuda", "fp32")
    runner = CudaGraphRunner(network)
    for batch in (1, 2, 1):  # one graph per batch size; the batch-1 graph replays again after batch 2
        for scale in (1.0, 0.9):
            inputs = tuple(t.cuda() * scale for t in example_inputs(batch))
            assert_equal_outputs(_run(runner, inputs), _run(network, inputs))
    assert sorted(shapes[0][0] for shapes in runner.captured_shapes) == [1, 2]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_outputs_match_the_cpu(small_model):
    inputs = example_inputs(2)
    cuda = _run(optimize_for_inference(small_model, "cuda", "fp32"), tuple(t.cuda() for t in inputs))
    differences = output_differences(cuda, _run(small_model, inputs))
    assert max(differences.values()) <= 1e-3, differences
