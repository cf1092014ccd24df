"""HFL-Net composed from its parts: backbone -> ROI features -> interaction -> hand and object decoders.

One forward contract in training and evaluation (see `HFLNet.forward`).
"""

from dataclasses import dataclass

import torch
from torch import nn
from torchvision.ops import roi_align

from hfl_ros.config import ModelConfig
from hfl_ros.constants import CROP_SIZE, FEATURE_STRIDE, ROI_SIZE
from hfl_ros.model.attention import MapAttention
from hfl_ros.model.backbone import ResNetSpec, build_backbone
from hfl_ros.model.hand_decoder import HandEncoder, HandHeatmapHead, ManoRegressor
from hfl_ros.model.object_decoder import ObjectHead


@dataclass
class HFLNetOutput:
    """The network's predictions for a batch of B crops.

    joints_2d: (B, 21, 2) normalised [0, 1] (x, y) in the hand box.
    heatmaps: (B, 21, 32, 32) softmax probabilities over the hand ROI cells.
    mano_pose: (B, 48) axis-angle rad (global 3 + 45 articulation, flat-hand mean).
    mano_rotmats: (B, 16, 3, 3) the same rotations as matrices.
    mano_shape: (B, 10) betas.
    vertices: (B, 778, 3) m, camera-aligned axes, relative to the wrist.
    joints: (B, 21, 3) m, camera-aligned axes, relative to the wrist (joint 0 = 0).
    object_confidence, object_x, object_y: (B, 32, 32, 21) confidences and normalised [0, 1] control-point
      coordinates in the object box, per cell (row, column).
    """

    joints_2d: torch.Tensor
    heatmaps: torch.Tensor
    mano_pose: torch.Tensor
    mano_rotmats: torch.Tensor
    mano_shape: torch.Tensor
    vertices: torch.Tensor
    joints: torch.Tensor
    object_confidence: torch.Tensor
    object_x: torch.Tensor
    object_y: torch.Tensor


def box_intersection(boxes_a: torch.Tensor, boxes_b: torch.Tensor):
    """boxes_a, boxes_b: (B, 4) [x1, y1, x2, y2] -> (intersection boxes (B, 4), overlaps (B,) bool)."""
    top_left = torch.maximum(boxes_a[:, :2], boxes_b[:, :2])
    bottom_right = torch.minimum(boxes_a[:, 2:], boxes_b[:, 2:])
    overlaps = ((bottom_right - top_left) > 0).all(dim=1)
    return torch.cat((top_left, bottom_right), dim=1), overlaps


class HFLNet(nn.Module):
    """Harmonious Feature Learning Network (Lin et al., CVPR 2023) and its ablation variants.

    mano_layer: a `hfl_ros.mano.ManoLayer` (right hand). Its buffers come from the user's MANO file and are
    never part of our checkpoints (`hfl_ros.model.checkpoint` leaves them out).
    """

    def __init__(self, config: ModelConfig, mano_layer: nn.Module):
        super().__init__()
        self.config = config
        spec = ResNetSpec(config.resnet, config.resnet_width, config.resnet_blocks, config.imagenet_weights)
        self.backbone = build_backbone(config.backbone, spec, config.feature_channels)
        channels = self.backbone.out_channels
        self.hand_attention = None
        if config.hand_enhancement != "none":
            dim = 2 * channels if config.hand_enhancement == "concat_sa" else channels
            self.hand_attention = MapAttention(dim, config.attention_heads, config.attention_depth)
        self.object_attention = None
        if config.object_enhancement != "none":
            self.object_attention = MapAttention(channels, config.attention_heads, config.attention_depth)
        self.hand_head = HandHeatmapHead(channels)
        self.hand_encoder = HandEncoder(channels)
        self.mano_head = ManoRegressor(self.hand_encoder.out_features)
        self.object_head = ObjectHead(channels)
        self.mano_layer = mano_layer

    @staticmethod
    def _roi(feature_map: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """feature_map: (B, C, H/4, W/4); boxes: (B, 4) crop px -> (B, C, 32, 32)."""
        indices = torch.arange(boxes.shape[0], device=boxes.device, dtype=boxes.dtype)[:, None]
        return roi_align(
            feature_map, torch.cat((indices, boxes), dim=1), output_size=(ROI_SIZE, ROI_SIZE),
            spatial_scale=1.0 / FEATURE_STRIDE, sampling_ratio=-1,
        )

    def _cross(self, feature: torch.Tensor) -> torch.Tensor:
        """F^oh and F^ho enter attention detached in training when the config says so (published behaviour)."""
        return feature.detach() if self.training and self.config.detach_cross_features else feature

    def _enhance_hand(self, f_h: torch.Tensor, f_oh: torch.Tensor, f_o: torch.Tensor) -> torch.Tensor:
        mode = self.config.hand_enhancement
        if mode == "none":
            return f_h
        if mode == "concat_sa":
            joint = torch.cat((f_h, self._cross(f_oh)), dim=1)
            return self.hand_attention(joint, joint)[:, : f_h.shape[1]]
        if mode == "sa":
            return self.hand_attention(f_h, f_h)
        if mode == "ca":
            return self.hand_attention(f_h, f_o)
        fused = f_h + self._cross(f_oh)
        return self.hand_attention(fused, fused)

    @staticmethod
    def _check_inputs(images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[1:] != (3, CROP_SIZE, CROP_SIZE):
            raise ValueError(f"images must be (B, 3, {CROP_SIZE}, {CROP_SIZE}), got {tuple(images.shape)}")
        for name, boxes in (("hand_boxes", hand_boxes), ("object_boxes", object_boxes)):
            if boxes.shape != (images.shape[0], 4):
                raise ValueError(f"{name} must be ({images.shape[0]}, 4), got {tuple(boxes.shape)}")

    def forward(self, images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> HFLNetOutput:
        """images: (B, 3, 256, 256) RGB in [0, 1]; hand_boxes, object_boxes: (B, 4) crop px [x1, y1, x2, y2]."""
        self._check_inputs(images, hand_boxes, object_boxes)
        hand_boxes = hand_boxes.to(images.dtype)
        object_boxes = object_boxes.to(images.dtype)
        p_hand, p_object = self.backbone(images)
        inter_boxes, overlaps = box_intersection(hand_boxes, object_boxes)
        overlap_mask = overlaps.to(images.dtype)[:, None, None, None]

        f_h = self._roi(p_hand, hand_boxes)
        f_oh = self._roi(p_object, hand_boxes)
        f_o = self._roi(p_object, object_boxes)

        hand_feature = self._enhance_hand(f_h, f_oh, f_o)
        object_feature = f_o
        if self.config.object_enhancement != "none":
            source = p_hand if self.config.object_enhancement == "h_to_o" else p_object
            f_inter = self._cross(self._roi(source, inter_boxes) * overlap_mask)
            object_feature = self.object_attention(f_o, f_inter)

        heat = self.hand_head(hand_feature)
        mano = self.mano_head(self.hand_encoder(heat.heatmaps, heat.features))
        hand = self.mano_layer.from_rotmats(mano.rotmats, mano.shape)
        maps = self.object_head(object_feature)
        return HFLNetOutput(
            joints_2d=heat.joints_2d,
            heatmaps=heat.heatmaps,
            mano_pose=mano.pose,
            mano_rotmats=mano.rotmats,
            mano_shape=mano.shape,
            vertices=hand.vertices,
            joints=hand.joints,
            object_confidence=maps.confidence,
            object_x=maps.x,
            object_y=maps.y,
        )
