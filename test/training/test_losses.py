"""HFL-Net's loss terms: known answers, masking of absent targets, weights."""

import math

import numpy as np
import pytest
import torch

from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.model.hflnet import HFLNetOutput
from hfl_ros.training.losses import LOSS_TERMS, TOTAL, LossWeights, hflnet_losses, object_losses

B = 3


def _batch(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    return {
        "joints_2d": rand(B, 21, 2),
        "joints_3d": rand(B, 21, 3) * 0.1,
        "vertices_3d": rand(B, 778, 3) * 0.1,
        "mano_pose": rand(B, 48) - 0.5,
        "mano_shape": rand(B, 10),
        "object_points_2d": rand(B, 21, 2),
        "object_mask": (rand(B, 32, 32) > 0.5).float(),
        **{name: torch.ones(B, dtype=torch.bool) for name in
           ("joints_valid", "vertices_valid", "mano_valid", "object_valid", "mask_valid")},
    }


def _perfect(batch: dict) -> HFLNetOutput:
    """Predictions equal to the targets (object cells all predict the true points with confidence 1)."""
    points = batch["object_points_2d"]
    grid = (B, 32, 32, 21)
    return HFLNetOutput(
        joints_2d=batch["joints_2d"].clone(),
        heatmaps=torch.zeros(B, 21, 32, 32),
        mano_pose=batch["mano_pose"].clone(),
        mano_rotmats=axis_angle_to_matrix(batch["mano_pose"].reshape(B, 16, 3)),
        mano_shape=batch["mano_shape"].clone(),
        vertices=batch["vertices_3d"].clone(),
        joints=batch["joints_3d"].clone(),
        object_confidence=batch["object_mask"][..., None].expand(grid).clone(),
        object_x=points[:, None, None, :, 0].expand(grid).clone(),
        object_y=points[:, None, None, :, 1].expand(grid).clone(),
    )


def test_perfect_predictions_give_zero_for_every_term() -> None:
    batch = _batch()
    losses = hflnet_losses(_perfect(batch), batch, LossWeights())
    assert set(losses) == set(LOSS_TERMS) | {TOTAL}
    for name, value in losses.items():
        assert value.item() == pytest.approx(0.0, abs=1e-6), name


def test_known_answers_of_the_hand_terms() -> None:
    batch = _batch()
    output = _perfect(batch)
    output.joints_2d = output.joints_2d + 0.1          # every coordinate off by 0.1
    output.joints = output.joints + 0.002              # 2 mm on every coordinate
    output.vertices = output.vertices - 0.003
    output.mano_shape = output.mano_shape + 0.5
    losses = hflnet_losses(output, batch, LossWeights())
    assert losses["joints_2d"].item() == pytest.approx(100 * 0.1**2, rel=1e-5)
    assert losses["joints_3d"].item() == pytest.approx(1e4 * 0.002**2, rel=1e-4)
    assert losses["vertices_3d"].item() == pytest.approx(1e4 * 0.003**2, rel=1e-4)
    assert losses["mano_shape"].item() == pytest.approx(0.1 * 0.5**2, rel=1e-5)
    assert losses[TOTAL].item() == pytest.approx(sum(losses[n].item() for n in LOSS_TERMS), rel=1e-6)


def test_mano_pose_term_compares_rotation_matrices() -> None:
    batch = _batch()
    batch["mano_pose"] = torch.zeros(B, 48)
    output = _perfect(batch)
    # Predict a rotation of pi/2 about z for the global joint: ||R - I||^2 = 4 (1 - cos) = 4 over 9 x 16 entries.
    output.mano_rotmats = output.mano_rotmats.clone()
    output.mano_rotmats[:, 0] = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    losses = hflnet_losses(output, batch, LossWeights())
    assert losses["mano_pose"].item() == pytest.approx(10 * 4 / (16 * 9), rel=1e-5)


def test_object_terms_count_only_cells_inside_the_mask() -> None:
    points = torch.full((1, 21, 2), 0.5)
    mask = torch.zeros(1, 32, 32)
    mask[0, 3, 4] = 1.0
    x = torch.full((1, 32, 32, 21), 0.9)  # wrong everywhere; only cell (3, 4) counts
    y = torch.full((1, 32, 32, 21), 0.1)
    x[0, 3, 4], y[0, 3, 4] = 0.5 + 0.3, 0.5 + 0.4  # distance 0.5 in box units
    confidence = torch.full((1, 32, 32, 21), 0.2)
    offsets, conf = object_losses(confidence, x, y, points, mask)
    cells = 32 * 32 * 21
    assert offsets.item() == pytest.approx((0.3 * 21 + 0.4 * 21) / cells, rel=1e-5)
    # Inside: |0.2 - exp(-0.5)|; outside the target is 0: |0.2|.
    expected = (21 * abs(0.2 - math.exp(-0.5)) + (cells - 21) * 0.2) / cells
    assert conf.item() == pytest.approx(expected, rel=1e-5)


def test_confidence_target_is_detached_from_the_offsets() -> None:
    points = torch.full((1, 21, 2), 0.5)
    mask = torch.ones(1, 32, 32)
    x = torch.full((1, 32, 32, 21), 0.7, requires_grad=True)
    y = torch.full((1, 32, 32, 21), 0.5, requires_grad=True)
    confidence = torch.full((1, 32, 32, 21), 0.5, requires_grad=True)
    _, conf = object_losses(confidence, x, y, points, mask)
    conf.backward()
    assert x.grad is None or torch.count_nonzero(x.grad) == 0
    assert torch.count_nonzero(confidence.grad) > 0


def test_invalid_samples_do_not_count_and_absent_terms_are_left_out() -> None:
    batch = _batch()
    output = _perfect(batch)
    output.joints = output.joints.clone()
    output.joints[1] += 1.0  # sample 1 is wrong but has no joint targets
    batch["joints_valid"] = torch.tensor([True, False, True])
    batch["mano_valid"] = torch.zeros(B, dtype=torch.bool)
    batch["mask_valid"] = torch.tensor([True, False, False])
    batch["object_valid"] = torch.tensor([False, True, True])  # no sample has both pose and mask
    losses = hflnet_losses(output, batch, LossWeights())
    assert losses["joints_3d"].item() == pytest.approx(0.0, abs=1e-9)
    assert "mano_pose" not in losses and "mano_shape" not in losses
    assert "object_offsets" not in losses and "object_confidence" not in losses
    assert set(losses) == {"joints_2d", "joints_3d", "vertices_3d", TOTAL}


def test_mean_is_over_valid_samples_only() -> None:
    batch = _batch()
    output = _perfect(batch)
    output.joints_2d = output.joints_2d.clone()
    output.joints_2d[0] += 0.2
    batch["joints_valid"] = torch.tensor([True, False, False])
    losses = hflnet_losses(output, batch, LossWeights())
    assert losses["joints_2d"].item() == pytest.approx(100 * 0.2**2, rel=1e-5)


def test_zero_weight_switches_a_term_off_and_weights_scale() -> None:
    batch = _batch()
    output = _perfect(batch)
    output.joints_2d = output.joints_2d + 0.1
    losses = hflnet_losses(output, batch, LossWeights(joints_2d=7.0, vertices_3d=0.0))
    assert "vertices_3d" not in losses
    assert losses["joints_2d"].item() == pytest.approx(7.0 * 0.01, rel=1e-5)


def test_no_target_at_all_is_an_error_and_bad_weights_are_named() -> None:
    batch = _batch()
    for name in ("joints_valid", "vertices_valid", "mano_valid", "object_valid", "mask_valid"):
        batch[name] = torch.zeros(B, dtype=torch.bool)
    with pytest.raises(ValueError, match="no loss term"):
        hflnet_losses(_perfect(batch), batch, LossWeights())
    with pytest.raises(ValueError, match="joints_3d"):
        LossWeights(joints_3d=-1.0)
    with pytest.raises(ValueError, match="mano_shape"):
        LossWeights(mano_shape=float("nan"))
    with pytest.raises(KeyError, match="mask_valid"):
        hflnet_losses(_perfect(_batch()), {k: v for k, v in _batch().items() if k != "mask_valid"}, LossWeights())


def test_gradients_reach_every_prediction_with_a_target() -> None:
    batch = _batch()
    output = _perfect(batch)
    tensors = {}
    for name in ("joints_2d", "joints", "vertices", "mano_rotmats", "mano_shape", "object_x", "object_y", "object_confidence"):
        tensor = (getattr(output, name) + torch.from_numpy(np.full(getattr(output, name).shape, 0.01, np.float32))).requires_grad_()
        setattr(output, name, tensor)
        tensors[name] = tensor
    hflnet_losses(output, batch, LossWeights())[TOTAL].backward()
    for name, tensor in tensors.items():
        assert tensor.grad is not None and torch.count_nonzero(tensor.grad) > 0, name
