"""Weights with a trained network's per-layer statistics, for judging numerics where no checkpoint is at hand.

A default-initialised network is a poor stand-in for a trained one when rounding is judged: its BatchNorms
hold unit running statistics (so activations drift in scale from layer to layer) and unit affine
parameters. `trained_like_weights` gives every layer the statistics of a trained ResNet instead:
- convolutions and linear layers drawn with fan-in scaling (He, for the LeakyReLU that follows);
- BatchNorm affine parameters spread as in trained ResNets (scale 0.2-1.0, shift ~ N(0, 0.1)); the last norm
  of each residual branch smaller (scale 0.05-0.5), as training leaves it;
- BatchNorm running statistics equal to the mean and variance of the activations each norm sees on the
  calibration images (as after training, where they track the data) - far from 0 and 1;
- LayerNorm affine parameters around 1 and 0.
The shapes are the model's own (the published checkpoint's for `ModelConfig()`); the values are seeded.
"""

import math
from typing import Tuple

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

#: LeakyReLU slope of the network's activations (the He gain of the layers before them).
LEAKY_SLOPE = 0.01
#: Ranges of BatchNorm scales: inside a residual branch, and the branch's last norm.
NORM_SCALE = (0.2, 1.0)
LAST_NORM_SCALE = (0.05, 0.5)
NORM_SHIFT_STD = 0.1
LAYER_NORM_STD = 0.1


def _last_norms(model: nn.Module) -> set:
    """The norms that end a residual branch of the backbone's blocks."""
    last = set()
    for block in model.modules():
        if isinstance(block, Bottleneck):
            last.add(block.bn3)
        elif isinstance(block, BasicBlock):
            last.add(block.bn2)
    return last


def _uniform(size: int, bounds: Tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(size, generator=generator)


@torch.no_grad()
def trained_like_weights(model: nn.Module, calibration_inputs: Tuple[torch.Tensor, ...], seed: int) -> nn.Module:
    """Give `model` (an HFLNet on the CPU) trained-like weights in place and return it in eval mode.

    calibration_inputs: the forward's inputs, e.g. (images (B, 3, 256, 256) in [0, 1], hand_boxes (B, 4),
    object_boxes (B, 4) crop px), natural crops preferably; their activations set the running statistics.
    seed: the draw of the weights.
    """
    generator = torch.Generator().manual_seed(seed)
    gain = math.sqrt(2.0 / (1.0 + LEAKY_SLOPE ** 2))
    last = _last_norms(model)
    norms = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * gain / math.sqrt(fan_in))
            if module.bias is not None:
                module.bias.copy_(0.01 * torch.randn(module.bias.shape, generator=generator))
        elif isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.weight.copy_(_uniform(size, LAST_NORM_SCALE if module in last else NORM_SCALE, generator))
            module.bias.copy_(NORM_SHIFT_STD * torch.randn(size, generator=generator))
            norms.append(module)
        elif isinstance(module, nn.LayerNorm):
            module.weight.copy_(1.0 + LAYER_NORM_STD * torch.randn(module.weight.shape, generator=generator))
            module.bias.copy_(LAYER_NORM_STD * torch.randn(module.bias.shape, generator=generator))
    model.eval()
    for norm in norms:  # cumulative averages over the calibration batch, then frozen
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    model(*calibration_inputs)
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()
