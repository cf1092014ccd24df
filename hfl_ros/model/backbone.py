"""Backbones: the harmonious ResNet-50 of HFL-Net and the paper's single- and double-stream baselines.

Every backbone maps images (B, 3, H, W) to two feature maps (P^h, P^o), each (B, C, H/4, W/4) with
C = 256 in HFL-Net: the hand stream's and the object stream's FPN outputs (the FPN's input widths are
read from the ResNet).
The single-stream backbone returns the same map twice. All activations are LeakyReLU(0.01), as in the
published model.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from hfl_ros.constants import FEATURE_STRIDE

LEAKY_SLOPE = 0.01
FPN_CHANNELS = 256
STANDARD_WIDTH = 64
#: Block type and blocks per stage of each ResNet depth (HFL-Net: resnet50).
RESNETS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


@dataclass(frozen=True)
class ResNetSpec:
    """Which ResNet a backbone is built from.

    name: one of RESNETS (block type and standard depth). width: channels of the stem and of stage 1's
    blocks (64 = torchvision's; stage outputs are width x (1, 2, 4, 8) x block expansion).
    blocks: blocks per stage, None = the standard depth. weights_path: a torchvision ImageNet state_dict
    file of that ResNet (standard width and depth only); nothing is downloaded.
    """

    name: str = "resnet50"
    width: int = STANDARD_WIDTH
    blocks: Optional[Tuple[int, int, int, int]] = None
    weights_path: Optional[str] = None


def _stage(block: type, inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    return nn.Sequential(block(inplanes, planes, stride, downsample), *(block(out, planes) for _ in range(blocks - 1)))


def leaky_resnet(spec: ResNetSpec = ResNetSpec()) -> nn.Module:
    """A torchvision-layout ResNet (conv1, bn1, relu, maxpool, layer1-4) whose ReLUs are LeakyReLU(0.01)."""
    if spec.name not in RESNETS:
        raise ValueError(f"unknown resnet {spec.name!r}; expected one of {sorted(RESNETS)}")
    block, standard_blocks = RESNETS[spec.name]
    blocks = tuple(spec.blocks or standard_blocks)
    if len(blocks) != 4 or min(blocks) < 1 or spec.width < 1:
        raise ValueError(f"resnet needs 4 stages of >= 1 block and a positive width, got {blocks}, {spec.width}")
    standard = spec.width == STANDARD_WIDTH and blocks == standard_blocks
    if spec.weights_path is not None and not standard:
        raise ValueError(f"ImageNet weights {spec.weights_path} need the standard {spec.name}, got width "
                         f"{spec.width} and blocks {blocks}")
    net = ResNet(block, list(blocks))
    if not standard:
        net.conv1 = nn.Conv2d(3, spec.width, 7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(spec.width)
        inplanes = spec.width
        for index, stride in enumerate((1, 2, 2, 2)):
            planes = spec.width * 2**index
            setattr(net, f"layer{index + 1}", _stage(block, inplanes, planes, blocks[index], stride))
            inplanes = planes * block.expansion
    if spec.weights_path is not None:
        net.load_state_dict(torch.load(Path(spec.weights_path), map_location="cpu", weights_only=True))
    net.relu = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        for stage_block in stage:
            stage_block.relu = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    return net


def _stem(net: nn.Module) -> nn.Sequential:
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)


def stage_channels(net: nn.Module) -> Tuple[int, int, int, int]:
    """Output channels of a torchvision ResNet's stages C2..C5, read from its last blocks."""
    def out_channels(stage: nn.Sequential) -> int:
        block = stage[-1]
        return (block.bn3 if hasattr(block, "bn3") else block.bn2).num_features

    return tuple(out_channels(stage) for stage in (net.layer1, net.layer2, net.layer3, net.layer4))


class FeaturePyramid(nn.Module):
    """Top-down FPN over C2..C5 that keeps only the finest level P2 (stride 4), `out_channels` wide."""

    def __init__(self, in_channels: Tuple[int, int, int, int], out_channels: int = FPN_CHANNELS):
        super().__init__()
        c2, c3, c4, c5 = in_channels
        self.top = nn.Conv2d(c5, out_channels, 1)
        self.lateral4 = nn.Conv2d(c4, out_channels, 1)
        self.lateral3 = nn.Conv2d(c3, out_channels, 1)
        self.lateral2 = nn.Conv2d(c2, out_channels, 1)
        self.smooth = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.out_channels = out_channels

    @staticmethod
    def _upsample_add(coarse: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        return F.interpolate(coarse, size=lateral.shape[-2:], mode="bilinear", align_corners=False) + lateral

    def forward(self, c2: torch.Tensor, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> torch.Tensor:
        p = self.top(c5)
        p = self._upsample_add(p, self.lateral4(c4))
        p = self._upsample_add(p, self.lateral3(c3))
        p = self._upsample_add(p, self.lateral2(c2))
        return self.smooth(p)


class HarmoniousBackbone(nn.Module):
    """HFL-Net's backbone: shared stem, stage 1 and stage 4; unshared stages 2-3; one FPN per stream."""

    def __init__(self, spec: ResNetSpec = ResNetSpec(), feature_channels: int = FPN_CHANNELS):
        super().__init__()
        hand = leaky_resnet(spec)
        obj = leaky_resnet(spec)
        self.stem = _stem(hand)
        self.stage1 = hand.layer1
        self.hand_stage2, self.hand_stage3 = hand.layer2, hand.layer3
        self.object_stage2, self.object_stage3 = obj.layer2, obj.layer3
        self.stage4 = hand.layer4
        self.hand_fpn = FeaturePyramid(stage_channels(hand), feature_channels)
        self.object_fpn = FeaturePyramid(stage_channels(obj), feature_channels)
        self.out_channels = self.hand_fpn.out_channels
        self.stride = FEATURE_STRIDE

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """images: (B, 3, H, W) in [0, 1] -> (P^h, P^o), each (B, C, H/4, W/4)."""
        c2 = self.stage1(self.stem(images))
        h3 = self.hand_stage2(c2)
        h4 = self.hand_stage3(h3)
        o3 = self.object_stage2(c2)
        o4 = self.object_stage3(o3)
        p_hand = self.hand_fpn(c2, h3, h4, self.stage4(h4))
        p_object = self.object_fpn(c2, o3, o4, self.stage4(o4))
        return p_hand, p_object


class SingleStreamBackbone(nn.Module):
    """Ablation baseline: one ResNet-50 + FPN for hand and object alike (P^h = P^o)."""

    def __init__(self, spec: ResNetSpec = ResNetSpec(), feature_channels: int = FPN_CHANNELS):
        super().__init__()
        net = leaky_resnet(spec)
        self.stem = _stem(net)
        self.stage1, self.stage2, self.stage3, self.stage4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.fpn = FeaturePyramid(stage_channels(net), feature_channels)
        self.out_channels = self.fpn.out_channels
        self.stride = FEATURE_STRIDE

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """images: (B, 3, H, W) in [0, 1] -> (P, P), each (B, C, H/4, W/4)."""
        c2 = self.stage1(self.stem(images))
        c3 = self.stage2(c2)
        c4 = self.stage3(c3)
        p = self.fpn(c2, c3, c4, self.stage4(c4))
        return p, p


class DoubleStreamBackbone(nn.Module):
    """Ablation baseline: two independent ResNet-50 + FPN streams, one for the hand, one for the object."""

    def __init__(self, spec: ResNetSpec = ResNetSpec(), feature_channels: int = FPN_CHANNELS):
        super().__init__()
        self.hand_stream = SingleStreamBackbone(spec, feature_channels)
        self.object_stream = SingleStreamBackbone(spec, feature_channels)
        self.out_channels = self.hand_stream.out_channels
        self.stride = FEATURE_STRIDE

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """images: (B, 3, H, W) in [0, 1] -> (P^h, P^o), each (B, C, H/4, W/4)."""
        return self.hand_stream(images)[0], self.object_stream(images)[0]


BACKBONES = {
    "harmonious": HarmoniousBackbone,
    "single": SingleStreamBackbone,
    "double": DoubleStreamBackbone,
}


def build_backbone(name: str, spec: ResNetSpec = ResNetSpec(), feature_channels: int = FPN_CHANNELS) -> nn.Module:
    """The backbone called `name` (one of BACKBONES) on the ResNet `spec`, with `feature_channels` FPN outputs."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[name](spec, feature_channels)
