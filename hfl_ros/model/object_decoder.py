"""HFL-Net's object decoder: per-cell confidences and offsets for the 21 control points."""

from dataclasses import dataclass

import torch
from torch import nn

from hfl_ros.constants import NUM_CONTROL_POINTS, OBJECT_OFFSET_SCALE, ROI_SIZE

OBJECT_LEAKY_SLOPE = 0.1
NUM_BLOCKS = 3


@dataclass
class ObjectMaps:
    """confidence: (B, R, R, K) sigmoid probabilities; x, y: (B, R, R, K) normalised [0, 1] in the object box;
    cell (row i, column j) predicts all K control points. R = ROI_SIZE, K = NUM_CONTROL_POINTS."""

    confidence: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor


class ObjectHead(nn.Module):
    """3 x [conv1x1 C -> C/2, BN, LeakyReLU(0.1), conv3x3 C/2 -> C, BN, LeakyReLU(0.1)], then conv1x1 C -> 3K."""

    def __init__(self, channels: int = 256, num_points: int = NUM_CONTROL_POINTS, roi_size: int = ROI_SIZE):
        super().__init__()
        mid = channels // 2
        self.blocks = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Conv2d(channels, mid, 1), nn.BatchNorm2d(mid), nn.LeakyReLU(OBJECT_LEAKY_SLOPE),
                    nn.Conv2d(mid, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.LeakyReLU(OBJECT_LEAKY_SLOPE),
                )
                for _ in range(NUM_BLOCKS)
            )
        )
        self.out_conv = nn.Conv2d(channels, 3 * num_points, 1)
        self.num_points = num_points
        centres = (torch.arange(roi_size, dtype=torch.float32) + 0.5) / roi_size
        self.register_buffer("cell_x", centres.reshape(1, roi_size, 1), persistent=False)
        self.register_buffer("cell_y", centres.reshape(roi_size, 1, 1), persistent=False)

    def forward(self, features: torch.Tensor) -> ObjectMaps:
        """features: (B, C, R, R) enhanced object ROI feature."""
        out = self.out_conv(self.blocks(features)).permute(0, 2, 3, 1)
        k = self.num_points
        logits, dx, dy = out[..., :k], out[..., k : 2 * k], out[..., 2 * k :]
        return ObjectMaps(
            confidence=torch.sigmoid(logits),
            x=dx / OBJECT_OFFSET_SCALE + self.cell_x,
            y=dy / OBJECT_OFFSET_SCALE + self.cell_y,
        )
