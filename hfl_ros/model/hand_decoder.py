"""HFL-Net's hand decoder: hourglass heatmaps -> 2D joints; heatmap encoder; MANO regression from 6D rotations.

Shapes use R = ROI_SIZE (32) and J = NUM_JOINTS (21).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hfl_ros.constants import NUM_BETAS, NUM_JOINTS, NUM_MANO_JOINTS, ROI_SIZE
from hfl_ros.geometry.rotations import matrix_to_axis_angle, rot6d_to_matrix

LEAKY_SLOPE = 0.01
HOURGLASS_DEPTH = 4
ENCODER_STAGES = 4
ENCODER_BLOCKS_PER_STAGE = 2


class PreActBottleneck(nn.Module):
    """BN -> act -> conv1x1 (C -> C/2) -> BN -> act -> conv3x3 -> BN -> act -> conv1x1 (C/2 -> C), identity skip."""

    def __init__(self, channels: int):
        super().__init__()
        mid = channels // 2
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, mid, 1)
        self.norm2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.norm3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, channels, 1)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.act(self.norm1(x)))
        y = self.conv2(self.act(self.norm2(y)))
        y = self.conv3(self.act(self.norm3(y)))
        return x + y


class Hourglass(nn.Module):
    """Recursive hourglass. `levels[0]` is the innermost level; each level holds branches
    [skip, down, up] and the innermost one also [bottom]."""

    def __init__(self, channels: int, depth: int = HOURGLASS_DEPTH):
        super().__init__()
        self.levels = nn.ModuleList(
            nn.ModuleList(PreActBottleneck(channels) for _ in range(4 if level == 0 else 3)) for level in range(depth)
        )

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        skip, down, up = self.levels[level][:3]
        low = down(F.max_pool2d(x, 2))
        low = self._level(level - 1, low) if level > 0 else self.levels[0][3](low)
        return skip(x) + F.interpolate(up(low), scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, R, R) with R divisible by 2**depth -> (B, C, R, R)."""
        return self._level(len(self.levels) - 1, x)


@dataclass
class HeatmapOutput:
    """heatmaps: (B, J, R, R) softmax over cells; joints_2d: (B, J, 2) normalised [0, 1] (x, y) in the hand box;
    features: (B, C, R, R) the decoder's last feature map (input of the hand encoder)."""

    heatmaps: torch.Tensor
    joints_2d: torch.Tensor
    features: torch.Tensor


class HandHeatmapHead(nn.Module):
    """Hourglass -> residual -> conv-BN-act -> 1x1 score; per-joint learnable softmax temperature; soft-argmax."""

    def __init__(self, channels: int = 256, num_joints: int = NUM_JOINTS, roi_size: int = ROI_SIZE):
        super().__init__()
        self.hourglass = Hourglass(channels)
        self.residual = PreActBottleneck(channels)
        self.fc = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.LeakyReLU(LEAKY_SLOPE))
        self.score = nn.Conv2d(channels, num_joints, 1)
        self.beta = nn.Parameter(torch.ones(num_joints, 1))
        centres = (torch.arange(roi_size, dtype=torch.float32) + 0.5) / roi_size
        grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("grid_x", grid_x.contiguous())
        self.register_buffer("grid_y", grid_y.contiguous())
        self.out_channels = channels

    def forward(self, features: torch.Tensor) -> HeatmapOutput:
        """features: (B, C, R, R) enhanced hand ROI feature."""
        y = self.fc(self.residual(self.hourglass(features)))
        logits = self.score(y)
        b, j, h, w = logits.shape
        heatmaps = torch.softmax(logits.reshape(b, j, h * w) * self.beta, dim=-1).reshape(b, j, h, w)
        joints_2d = torch.stack(
            ((heatmaps * self.grid_x).sum(dim=(2, 3)), (heatmaps * self.grid_y).sum(dim=(2, 3))), dim=-1
        )
        return HeatmapOutput(heatmaps=heatmaps, joints_2d=joints_2d, features=y)


class HandEncoder(nn.Module):
    """Heatmaps + decoder features -> a flat code: 1x1 convs summed, then 4 x (2 residuals, max-pool 2)."""

    def __init__(self, channels: int = 256, num_joints: int = NUM_JOINTS, roi_size: int = ROI_SIZE):
        super().__init__()
        self.heatmap_conv = nn.Conv2d(num_joints, channels, 1)
        self.feature_conv = nn.Conv2d(channels, channels, 1)
        self.blocks = nn.ModuleList(PreActBottleneck(channels) for _ in range(ENCODER_STAGES * ENCODER_BLOCKS_PER_STAGE))
        self.out_features = channels * (roi_size // 2**ENCODER_STAGES) ** 2

    def forward(self, heatmaps: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """heatmaps: (B, J, R, R); features: (B, C, R, R) -> (B, out_features)."""
        x = self.heatmap_conv(heatmaps) + self.feature_conv(features)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index % ENCODER_BLOCKS_PER_STAGE == ENCODER_BLOCKS_PER_STAGE - 1:
                x = F.max_pool2d(x, 2)
        return x.flatten(1)


@dataclass
class ManoParameters:
    """rotmats: (B, 16, 3, 3) global + 15 joint rotations; pose: (B, 48) the same as axis-angle rad;
    shape: (B, 10) betas."""

    rotmats: torch.Tensor
    pose: torch.Tensor
    shape: torch.Tensor


class ManoRegressor(nn.Module):
    """MLP 1024 -> 1024 -> 512, then 16 rotations in 6D and 10 shape coefficients.

    `coord_change_mat` (3, 3) is the published checkpoints' OpenCV-to-OpenGL frame change diag(1, -1, -1)
    (HO3D evaluates in the OpenGL frame). The network never applies it; it is kept so that published
    files load strictly. HO3D evaluation applies the same change (`hfl_ros.evaluation.ho3d.opencv_to_opengl`).
    """

    def __init__(self, in_features: int, hidden=(1024, 512)):
        super().__init__()
        layers = []
        for fan_in, fan_out in zip((in_features,) + tuple(hidden[:-1]), hidden):
            layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(LEAKY_SLOPE)]
        self.mlp = nn.Sequential(*layers)
        self.pose_head = nn.Linear(hidden[-1], NUM_MANO_JOINTS * 6)
        self.shape_head = nn.Linear(hidden[-1], NUM_BETAS)
        self.register_buffer("coord_change_mat", torch.diag(torch.tensor([1.0, -1.0, -1.0])))

    def forward(self, code: torch.Tensor) -> ManoParameters:
        """code: (B, in_features) -> MANO parameters."""
        hidden = self.mlp(code)
        rotmats = rot6d_to_matrix(self.pose_head(hidden).reshape(-1, NUM_MANO_JOINTS, 6))
        pose = matrix_to_axis_angle(rotmats).reshape(-1, NUM_MANO_JOINTS * 3)
        return ManoParameters(rotmats=rotmats, pose=pose, shape=self.shape_head(hidden))
