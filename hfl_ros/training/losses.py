"""HFL-Net's training losses as named, individually weighted terms.

Definitions (the published training code's, re-derived; `B_v` = the samples of the batch that have the
term's target, so a term is a mean over those samples only and is absent when there are none):

* ``joints_2d``: mean squared error of the soft-argmax 2D joints, normalised [0, 1] in the hand box,
  over B_v x 21 x 2 values (the "heatmap" loss: the joints are the heatmaps' expectations). Weight 100.
* ``joints_3d``: mean squared error of the wrist-relative joints, m, over B_v x 21 x 3 values. Weight 1e4.
* ``vertices_3d``: the same over the B_v x 778 x 3 wrist-relative vertex coordinates, m. Weight 1e4.
* ``mano_pose``: mean squared error of the 16 rotation matrices (global + 15 articulation, flat-hand
  mean), over B_v x 16 x 3 x 3 entries. Weight 10.
* ``mano_shape``: mean squared error of the 10 betas over B_v x 10 values. Weight 0.1.
* ``object_offsets``: L1 error of every cell's control-point prediction (x and y normalised [0, 1] in the
  object box) against the true control point, counted only in cells inside the object mask; the sum of the
  x and y terms, each a mean over ALL B_v x 32 x 32 x 21 entries (cells outside the mask contribute 0).
  Weight 500.
* ``object_confidence``: L1 error of every cell's confidence against exp(-d) inside the mask and 0
  outside it, where d is the (detached) Euclidean distance, in normalised object-box units, between the
  cell's prediction and the true point; mean over B_v x 32 x 32 x 21 entries. Weight 100.

The object terms need both a pose (``object_valid``) and a mask (``mask_valid``).
"""

import math
from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Tuple

import torch
import torch.nn.functional as F

from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.model.hflnet import HFLNetOutput

#: Names of the loss terms, in reporting order.
LOSS_TERMS: Tuple[str, ...] = (
    "joints_2d", "joints_3d", "vertices_3d", "mano_pose", "mano_shape", "object_offsets", "object_confidence",
)
#: Key of the weighted sum in the dict `hflnet_losses` returns.
TOTAL = "total"


@dataclass
class LossWeights:
    """Weight of each loss term (the published values by default); 0 switches a term off."""

    joints_2d: float = 100.0
    joints_3d: float = 1.0e4
    vertices_3d: float = 1.0e4
    mano_pose: float = 10.0
    mano_shape: float = 0.1
    object_offsets: float = 500.0
    object_confidence: float = 100.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = float(getattr(self, item.name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"LossWeights.{item.name} must be a finite number >= 0, got {getattr(self, item.name)}")
            setattr(self, item.name, value)


def _check_batch(batch: Mapping[str, Any], keys: Tuple[str, ...]) -> None:
    missing = [key for key in keys if key not in batch]
    if missing:
        raise KeyError(f"batch lacks {missing}; expected a `hfl_ros.data.sample.collate` batch")


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the samples where valid (B,) is True; pred, target: (B, ...)."""
    return F.mse_loss(pred[valid].float(), target[valid].to(pred.device).float())


def object_losses(
    confidence: torch.Tensor, x: torch.Tensor, y: torch.Tensor, points_2d: torch.Tensor, mask: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Unweighted object offset and confidence losses (see the module docstring).

    confidence, x, y: (B, 32, 32, 21) decoder outputs (probabilities; normalised [0, 1] object-box coordinates).
    points_2d: (B, 21, 2) true control points, normalised [0, 1] in the object box.
    mask: (B, 32, 32) {0, 1} object mask on the object-box cells.
    Returns (offset loss, confidence loss), scalars.
    """
    if points_2d.shape[1:] != (confidence.shape[-1], 2) or mask.shape != confidence.shape[:3]:
        raise ValueError(
            f"object targets do not match the maps {tuple(confidence.shape)}: points_2d {tuple(points_2d.shape)}, "
            f"mask {tuple(mask.shape)}"
        )
    inside = mask.float()[..., None]  # (B, 32, 32, 1)
    target_x = points_2d[:, None, None, :, 0].float()
    target_y = points_2d[:, None, None, :, 1].float()
    error_x = (x.float() - target_x) * inside
    error_y = (y.float() - target_y) * inside
    offsets = error_x.abs().mean() + error_y.abs().mean()
    distance = torch.sqrt(error_x.detach() ** 2 + error_y.detach() ** 2)
    target_confidence = torch.exp(-distance) * inside
    return offsets, (confidence.float() - target_confidence).abs().mean()


def hflnet_losses(output: HFLNetOutput, batch: Mapping[str, Any], weights: LossWeights) -> Dict[str, torch.Tensor]:
    """Weighted loss terms of one batch, by name, plus their sum under ``"total"``.

    output: the network's predictions for B samples; batch: a `collate`d batch of the same B samples
    (targets and ``*_valid`` flags, on any device). Terms with weight 0 or without any valid sample are
    left out (never zero-filled). Raises ValueError when no term is present.
    """
    if not isinstance(weights, LossWeights):
        raise TypeError(f"weights must be LossWeights, got {type(weights).__name__}")
    flag_names = ("joints_valid", "vertices_valid", "mano_valid", "object_valid", "mask_valid")
    _check_batch(batch, flag_names)
    device = output.joints.device
    flags = {name: torch.as_tensor(batch[name]).to(device=device, dtype=torch.bool) for name in flag_names}
    size = output.joints.shape[0]
    for name, flag in flags.items():
        if flag.shape != (size,):
            raise ValueError(f"batch[{name!r}] must have shape ({size},), got {tuple(flag.shape)}")
    object_valid = flags["object_valid"] & flags["mask_valid"]

    terms: Dict[str, torch.Tensor] = {}

    def wanted(name: str, valid: torch.Tensor) -> bool:
        return getattr(weights, name) > 0 and bool(valid.any())

    if wanted("joints_2d", flags["joints_valid"]):
        terms["joints_2d"] = _masked_mse(output.joints_2d, batch["joints_2d"], flags["joints_valid"])
    if wanted("joints_3d", flags["joints_valid"]):
        terms["joints_3d"] = _masked_mse(output.joints, batch["joints_3d"], flags["joints_valid"])
    if wanted("vertices_3d", flags["vertices_valid"]):
        terms["vertices_3d"] = _masked_mse(output.vertices, batch["vertices_3d"], flags["vertices_valid"])
    if wanted("mano_pose", flags["mano_valid"]):
        valid = flags["mano_valid"]
        target = axis_angle_to_matrix(batch["mano_pose"].to(device)[valid].float().reshape(-1, 16, 3))
        terms["mano_pose"] = F.mse_loss(output.mano_rotmats[valid].float(), target)
    if wanted("mano_shape", flags["mano_valid"]):
        terms["mano_shape"] = _masked_mse(output.mano_shape, batch["mano_shape"], flags["mano_valid"])
    if wanted("object_offsets", object_valid) or wanted("object_confidence", object_valid):
        offsets, confidence = object_losses(
            output.object_confidence[object_valid], output.object_x[object_valid], output.object_y[object_valid],
            batch["object_points_2d"].to(device)[object_valid], batch["object_mask"].to(device)[object_valid],
        )
        if weights.object_offsets > 0:
            terms["object_offsets"] = offsets
        if weights.object_confidence > 0:
            terms["object_confidence"] = confidence
    if not terms:
        raise ValueError("no loss term has a target in this batch (every *_valid flag is False or weighted 0)")
    weighted = {name: getattr(weights, name) * value for name, value in terms.items()}
    weighted[TOTAL] = torch.stack(list(weighted.values())).sum()
    return weighted


__all__ = ["LOSS_TERMS", "TOTAL", "LossWeights", "hflnet_losses", "object_losses"]
