"""The inference path: fp32 equals the plain network, BatchNorm folding is complete and exact, reduced
precision stays within the error it states on trained-like weights, the compile fallback runs eagerly (a
failed recompile too), CUDA float32 math is chosen per call, CUDA graphs replay the same outputs."""

import logging

import pytest
import torch
from torch import nn

from hfl_ros.apps.bench import calibration_crops, demo_frame
from hfl_ros.config import ModelConfig
from hfl_ros.model.export import example_inputs
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.model.trained_like import trained_like_weights
from hfl_ros.model.optimize import (
    REDUCED_PRECISION_JOINT_ERROR_MM,
    CudaFloat32Math,
    bf16_supported,
    compile_with_fallback,
    fold_batch_norms,
    optimize_for_inference,
    output_differences,
)

SMALL = ModelConfig(resnet_width=8, resnet_blocks=(1, 1, 1, 1), feature_channels=16)
TRAINED_LIKE_SEEDS = (0, 1, 2)


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


@pytest.fixture(scope="module")
def trained_like_outputs(mano_layer):
    """Per seed: the plain network's outputs on the bundled demo crop and those of the fp32, bf16 and fp16
    paths, for HFL-Net at the published size with trained-like weights (`trained_like_weights`, running
    statistics calibrated on crops of the demo frame). Batch 1, three seeds: about 10 s of CPU."""
    images, hand, obj, geometry, object_model = demo_frame(torch.device("cpu"))
    calibration = calibration_crops(images, hand, obj)
    results = {}
    for seed in TRAINED_LIKE_SEEDS:
        torch.manual_seed(seed)
        model = trained_like_weights(HFLNet(ModelConfig(), mano_layer), calibration, seed)
        paths = {"plain": model, "fp32": optimize_for_inference(model, "cpu", "fp32")}
        if bf16_supported():
            paths["bf16"] = optimize_for_inference(model, "cpu", "bf16")
        paths["fp16"] = optimize_for_inference(model, "cpu", "fp16")
        results[seed] = {name: _run(network, (images, hand, obj)) for name, network in paths.items()}
    return results, geometry, object_model, mano_layer.faces.cpu().numpy()


def test_trained_like_weights_have_a_trained_networks_norm_statistics(mano_layer):
    """Running statistics are those of the calibration activations, far from the default 0 / 1."""
    images, hand, obj, _, _ = demo_frame(torch.device("cpu"))
    model = trained_like_weights(HFLNet(SMALL, mano_layer), (images, hand, obj), seed=0)
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    variances = torch.cat([norm.running_var for norm in norms])
    means = torch.cat([norm.running_mean for norm in norms])
    assert not model.training and not any(norm.training for norm in norms)
    assert (variances - 1).abs().median() > 0.1 and means.abs().median() > 0.01
    assert torch.cat([norm.weight for norm in norms]).max() <= 1.0


def test_fp32_path_keeps_joints_and_maps_of_trained_like_weights_within_the_bound(trained_like_outputs):
    """The default exact path on weights like a trained network's: root-relative joints and vertices
    within 1 mm (0.1 mm measured: rounding grows through the calibrated network), decoder maps within 1e-3.
    The object pose after PnP is not asserted here: on these weights the object decoder is untrained, its
    correspondences incoherent, and RANSAC turns even this path's rounding into 12-156 mm (seeds 2, 3)."""
    results, _, _, _ = trained_like_outputs
    for seed, outputs in results.items():
        differences = output_differences(outputs["fp32"], outputs["plain"])
        assert differences["joints"] <= 1e-3 and differences["vertices"] <= 1e-3, (seed, differences)
        assert max(differences[name] for name in ("object_confidence", "object_x", "object_y")) <= 1e-3, \
            (seed, differences)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_error_on_trained_like_weights_is_within_what_the_help_states(
        trained_like_outputs, precision):
    """The error --help, the node parameter and the README state (REDUCED_PRECISION_JOINT_ERROR_MM) bounds
    the root-relative joints on trained-like weights; the old claim (about 1 mm) does not."""
    results, _, _, _ = trained_like_outputs
    if precision not in results[TRAINED_LIKE_SEEDS[0]]:
        pytest.skip("this CPU has no native bfloat16")
    worst = max(output_differences(outputs[precision], outputs["plain"])["joints"] * 1e3
                for outputs in results.values())
    assert 1.0 < worst <= REDUCED_PRECISION_JOINT_ERROR_MM[precision], worst


def test_only_the_named_backbone_stages_run_in_low_precision(small_model):
    optimized = optimize_for_inference(small_model, "cpu", "bf16", low_precision_stages=["hand_fpn"])
    dtypes = {name: {parameter.dtype for parameter in child.parameters()}
              for name, child in optimized.backbone.backbone.named_children()}
    assert dtypes.pop("hand_fpn") == {torch.bfloat16}
    assert all(found == {torch.float32} for found in dtypes.values()), dtypes
    with pytest.raises(ValueError, match="unknown backbone stages.*'stage9'"):
        optimize_for_inference(small_model, "cpu", "bf16", low_precision_stages=["stage9"])


def test_tf32_is_refused_off_cuda(small_model):
    with pytest.raises(ValueError, match="'tf32' is a CUDA precision"):
        optimize_for_inference(small_model, "cpu", "tf32")


@pytest.mark.parametrize("math", ["ieee", "tf32"])
def test_cuda_float32_math_holds_inside_the_call_and_is_restored_after(math):
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = conv.fp32_precision, matmul.fp32_precision
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((conv.fp32_precision, matmul.fp32_precision))
            return x

    CudaFloat32Math(Probe(), math)(torch.zeros(1))
    assert seen == [(math, math)]
    assert (conv.fp32_precision, matmul.fp32_precision) == before


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


def test_a_failed_recompile_for_a_new_batch_size_falls_back_to_eager(caplog):
    compiled_shapes = []

    def first_shape_only(graph_module, example_inputs):
        compiled_shapes.append(sorted(tuple(tensor.shape) for tensor in example_inputs))
        if len(compiled_shapes) > 1:
            raise RuntimeError("no recompiling here")
        return graph_module.forward

    module = nn.Linear(3, 2)
    wrapped = compile_with_fallback(module, backend=first_shape_only, dynamic=False)
    torch.testing.assert_close(wrapped(torch.ones(4, 3)), module(torch.ones(4, 3)))
    assert not wrapped.eager
    with caplog.at_level(logging.WARNING):
        torch.testing.assert_close(wrapped(torch.ones(5, 3)), module(torch.ones(5, 3)))
    assert [(4, 3) in shapes for shapes in compiled_shapes] == [True, False]
    assert wrapped.eager and "no recompiling here" in caplog.text


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
    assert max(differences.values()) <= 1e-4, differences  # IEEE float32 (TF32 would move maps by ~1e-3)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_cuda_graph_on_the_second_gpu_replays_its_eager_outputs(small_model):
    from hfl_ros.model.optimize import CudaGraphRunner

    network = optimize_for_inference(small_model, "cuda:1", "fp32")
    runner = CudaGraphRunner(network)
    for scale in (1.0, 0.9):
        inputs = tuple(t.to("cuda:1") * scale for t in example_inputs(1))
        assert_equal_outputs(_run(runner, inputs), _run(network, inputs))
    assert torch.cuda.current_device() == 0 and len(runner.captured_shapes) == 1
