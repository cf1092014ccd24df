"""Hand and object pose metrics (numpy or torch, batched).

Units: metres in, metres out (callers convert to mm for reporting; pixels for ``reprojection_error``).
``...`` is any number of leading batch dimensions; per-sample metrics return an array of shape ``(...)``.
numpy inputs give numpy float64 results; torch inputs give torch results of the input dtype and device.

Protocols:
* MPJPE / PA-MPJPE / PA-MPVPE: mean Euclidean distance per sample; "PA" first aligns the prediction to the
  ground truth with a per-sample similarity transform (scale, rotation without reflection, translation).
* F-score (HO3D / FreiHAND): nearest-neighbour distances between the two point sets (after any alignment,
  done by the caller); precision = fraction of predicted points closer than the threshold to the ground
  truth, recall = the converse; F = 2PR / (P + R), 0 when both are 0. "Closer than" is strict.
* AUC (HO3D PCK AUC): PCK at ``steps`` evenly spaced thresholds in ``[min_threshold, max_threshold]``
  (0 - 50 mm), area by the trapezoidal rule divided by the threshold range. A PCK counts errors ``<=``
  the threshold.
* ADD: mean distance between corresponding model points under the predicted and ground-truth poses.
  ADD-S: mean, over the ground-truth-posed model points, of the distance to the NEAREST predicted-posed
  point (Hinterstoisser et al. 2012 / BOP). ADD-0.1D: fraction of samples with error ``<=`` 0.1 x diameter.
"""

from typing import Tuple, TypeVar, Union

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
Array = Union[np.ndarray, torch.Tensor]
Scalar = Union[float, np.ndarray, torch.Tensor]

#: Threshold range and steps of HO3D's PCK curve, m.
AUC_MIN_THRESHOLD = 0.0
AUC_MAX_THRESHOLD = 0.05
AUC_STEPS = 100
#: F-score thresholds reported by HO3D, m.
F_SCORE_THRESHOLDS = (0.005, 0.015)
#: Largest number of pairwise distances computed at once by the nearest-neighbour search.
_DISTANCE_BUDGET = 8_000_000
_EPS = 1e-12


def _tensor(name: str, value: Array) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.asarray(value, dtype=np.float64))
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.double()
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")


def _points_pair(pred: Array, gt: Array, same_count: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    pred_t = _tensor("pred", pred)
    gt_t = _tensor("gt", gt).to(dtype=pred_t.dtype, device=pred_t.device)
    for name, value in (("pred", pred_t), ("gt", gt_t)):
        if value.ndim < 2 or value.shape[-1] != 3 or value.shape[-2] == 0:
            raise ValueError(f"{name} must have shape (..., N, 3) with N >= 1, got {tuple(value.shape)}")
    if same_count and pred_t.shape[-2] != gt_t.shape[-2]:
        raise ValueError(
            f"pred and gt must have the same number of points, got {tuple(pred_t.shape)} and {tuple(gt_t.shape)}"
        )
    return pred_t, gt_t


def _output(result: torch.Tensor, like: Array) -> Array:
    return result.detach().cpu().numpy() if isinstance(like, np.ndarray) else result


def mpjpe(pred: ArrayT, gt: Array) -> ArrayT:
    """Mean per-point Euclidean error.

    pred, gt: (..., N, 3) m, same frame, corresponding points. Returns (...) m.
    """
    pred_t, gt_t = _points_pair(pred, gt)
    return _output((pred_t - gt_t).norm(dim=-1).mean(dim=-1), pred)


def procrustes_transform(pred: ArrayT, gt: Array) -> Tuple[ArrayT, ArrayT, ArrayT]:
    """Per-sample similarity transform minimising ``sum |s R pred + t - gt|^2`` (Umeyama, no reflection).

    pred, gt: (..., N, 3) m, corresponding points.
    Returns ``scale`` (...), ``rotation`` (..., 3, 3) with det +1, ``translation`` (..., 3) m.
    A prediction whose points all coincide gets scale 0 (it is mapped onto the ground-truth centroid).
    """
    pred_t, gt_t = _points_pair(pred, gt)
    pred_mean, gt_mean = pred_t.mean(dim=-2, keepdim=True), gt_t.mean(dim=-2, keepdim=True)
    pred_c, gt_c = pred_t - pred_mean, gt_t - gt_mean
    covariance = gt_c.transpose(-1, -2) @ pred_c  # (..., 3, 3): sum of gt_i pred_i^T
    u, singular, vh = torch.linalg.svd(covariance)
    sign = torch.sign(torch.linalg.det(u @ vh))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    correction = torch.ones_like(singular)
    correction[..., -1] = sign
    rotation = u @ (correction[..., :, None] * vh)
    variance = (pred_c**2).sum(dim=(-1, -2))
    scale = (singular * correction).sum(dim=-1) / variance.clamp_min(_EPS)
    translation = gt_mean[..., 0, :] - scale[..., None] * (rotation @ pred_mean[..., 0, :, None])[..., 0]
    return _output(scale, pred), _output(rotation, pred), _output(translation, pred)


def procrustes_align(pred: ArrayT, gt: Array) -> ArrayT:
    """``pred`` moved onto ``gt`` by the per-sample similarity Procrustes transform.

    pred, gt: (..., N, 3) m, corresponding points. Returns (..., N, 3) m, the frame of ``gt``.
    """
    pred_t, gt_t = _points_pair(pred, gt)
    scale, rotation, translation = procrustes_transform(pred_t, gt_t)
    aligned = scale[..., None, None] * pred_t @ rotation.transpose(-1, -2) + translation[..., None, :]
    return _output(aligned, pred)


def pa_mpjpe(pred: ArrayT, gt: Array) -> ArrayT:
    """MPJPE after per-sample Procrustes alignment. pred, gt: (..., N, 3) m. Returns (...) m."""
    pred_t, gt_t = _points_pair(pred, gt)
    return _output(mpjpe(procrustes_align(pred_t, gt_t), gt_t), pred)


def pa_mpvpe(pred: ArrayT, gt: Array) -> ArrayT:
    """Mean per-vertex error after per-sample Procrustes alignment on the vertices.

    pred, gt: (..., V, 3) m, corresponding mesh vertices (MANO: V = 778). Returns (...) m.
    """
    return pa_mpjpe(pred, gt)


def nearest_distances(query: ArrayT, reference: Array) -> ArrayT:
    """Distance from every query point to its nearest reference point (exact, chunked brute force).

    query: (..., Q, 3) m; reference: (..., R, 3) m, same batch dimensions. Returns (..., Q) m.
    """
    query_t, reference_t = _points_pair(query, reference, same_count=False)
    if query_t.shape[:-2] != reference_t.shape[:-2]:
        raise ValueError(
            f"query and reference batch shapes differ: {tuple(query_t.shape)} vs {tuple(reference_t.shape)}"
        )
    batch = query_t.shape[:-2]
    flat_query = query_t.reshape((-1,) + query_t.shape[-2:])
    flat_reference = reference_t.reshape((-1,) + reference_t.shape[-2:])
    rows = max(1, _DISTANCE_BUDGET // max(1, flat_reference.shape[0] * flat_reference.shape[1]))
    chunks = [
        torch.cdist(flat_query[:, start:start + rows], flat_reference, compute_mode="donot_use_mm_for_euclid_dist")
        .min(dim=-1).values
        for start in range(0, flat_query.shape[1], rows)
    ]
    return _output(torch.cat(chunks, dim=-1).reshape(batch + (query_t.shape[-2],)), query)


def precision_recall(pred: ArrayT, gt: Array, threshold: float) -> Tuple[ArrayT, ArrayT]:
    """Point-set precision and recall at a distance threshold (see the module docstring).

    pred: (..., P, 3) m; gt: (..., G, 3) m, already aligned by the caller; threshold: m.
    Returns ``precision`` (...) and ``recall`` (...), fractions in [0, 1].
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    pred_t, gt_t = _points_pair(pred, gt, same_count=False)
    precision = (nearest_distances(pred_t, gt_t) < threshold).to(pred_t.dtype).mean(dim=-1)
    recall = (nearest_distances(gt_t, pred_t) < threshold).to(pred_t.dtype).mean(dim=-1)
    return _output(precision, pred), _output(recall, pred)


def f_score(pred_verts: ArrayT, gt_verts: Array, threshold: float) -> ArrayT:
    """F-score of two point sets at a distance threshold (HO3D reports 5 mm and 15 mm on aligned meshes).

    pred_verts: (..., P, 3) m; gt_verts: (..., G, 3) m, aligned by the caller; threshold: m.
    Returns (...) in [0, 1].
    """
    precision, recall = precision_recall(_tensor("pred_verts", pred_verts), gt_verts, threshold)
    total = precision + recall
    score = torch.where(total > 0, 2 * precision * recall / total.clamp_min(_EPS), torch.zeros_like(total))
    return _output(score, pred_verts)


def pck_curve(errors: Array, thresholds: Array) -> np.ndarray:
    """Fraction of errors ``<=`` each threshold.

    errors: (...) m, any shape (e.g. (samples, joints) per-joint errors); thresholds: (T,) m.
    Returns (T,) fractions in [0, 1] (float64 numpy).
    """
    values = _tensor("errors", errors).detach().cpu().double().reshape(-1)
    if values.numel() == 0:
        raise ValueError("errors must not be empty")
    limits = _tensor("thresholds", thresholds).detach().cpu().double()
    if limits.ndim != 1:
        raise ValueError(f"thresholds must have shape (T,), got {tuple(limits.shape)}")
    return (values[None, :] <= limits[:, None]).double().mean(dim=-1).numpy()


def auc(
    errors: Array,
    min_threshold: float = AUC_MIN_THRESHOLD,
    max_threshold: float = AUC_MAX_THRESHOLD,
    steps: int = AUC_STEPS,
) -> float:
    """Normalised area under the PCK curve (HO3D protocol: 100 thresholds over 0 - 50 mm).

    errors: (...) m, per-point errors (e.g. (samples, 21) joint errors); pooling all of them equals HO3D's
    mean over keypoints of per-keypoint AUCs when every keypoint has the same number of samples.
    Returns a float in [0, 1].
    """
    if steps < 2 or not max_threshold > min_threshold:
        raise ValueError(
            f"need steps >= 2 and max_threshold > min_threshold, got {steps}, [{min_threshold}, {max_threshold}]"
        )
    thresholds = np.linspace(min_threshold, max_threshold, steps)
    curve = pck_curve(errors, thresholds)
    area = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(thresholds)))
    return area / (max_threshold - min_threshold)


def add(pred_points: ArrayT, gt_points: Array) -> ArrayT:
    """ADD: mean distance between corresponding model points.

    pred_points, gt_points: (..., N, 3) m, the same model points under the predicted and the ground-truth
    pose (see ``hfl_ros.geometry.camera.transform_points``). Returns (...) m.
    """
    return mpjpe(pred_points, gt_points)


def add_s(pred_points: ArrayT, gt_points: Array) -> ArrayT:
    """ADD-S (symmetric objects): mean distance from each ground-truth point to the nearest predicted point.

    pred_points, gt_points: (..., N, 3) m, the model points under the predicted and ground-truth pose.
    Returns (...) m; always <= ``add`` of the same inputs.
    """
    pred_t, gt_t = _points_pair(pred_points, gt_points)
    return _output(nearest_distances(gt_t, pred_t).mean(dim=-1), pred_points)


def add_accuracy(errors: Array, diameter: Scalar, fraction: float = 0.1) -> float:
    """ADD-0.1D: fraction of samples whose ADD(-S) error is ``<= fraction * diameter``.

    errors: (S,) m, per-sample ADD or ADD-S; diameter: m, scalar or (S,) per sample (HFL-Net: the diagonal
    of the model's axis-aligned box). Returns a float in [0, 1].
    """
    values = _tensor("errors", errors).detach().cpu().double().reshape(-1)
    if values.numel() == 0:
        raise ValueError("errors must not be empty")
    if isinstance(diameter, torch.Tensor):
        diameter = diameter.detach().cpu().numpy()
    sizes = torch.as_tensor(np.asarray(diameter, dtype=np.float64)).reshape(-1)
    if sizes.numel() not in (1, values.numel()) or bool((sizes <= 0).any()):
        raise ValueError(f"diameter must be positive, a scalar or one per error, got shape {tuple(sizes.shape)}")
    if not fraction > 0:
        raise ValueError(f"fraction must be positive, got {fraction}")
    return float((values <= fraction * sizes).double().mean())


def reprojection_error(pred_points: ArrayT, gt_points: Array, K: Array) -> ArrayT:
    """Mean 2D distance between the projections of the predicted- and ground-truth-posed model points.

    pred_points, gt_points: (..., N, 3) m, camera frame; K: (..., 3, 3). Returns (...) px
    (HFL-Net reports REP-5: the fraction of samples under 5 px).
    """
    pred_t, gt_t = _points_pair(pred_points, gt_points)
    intrinsics = _tensor("K", K).to(dtype=pred_t.dtype, device=pred_t.device)
    if intrinsics.shape[-2:] != (3, 3):
        raise ValueError(f"K must have shape (..., 3, 3), got {tuple(intrinsics.shape)}")
    pred_h = pred_t @ intrinsics.transpose(-1, -2)
    gt_h = gt_t @ intrinsics.transpose(-1, -2)
    difference = pred_h[..., :2] / pred_h[..., 2:] - gt_h[..., :2] / gt_h[..., 2:]
    return _output(difference.norm(dim=-1).mean(dim=-1), pred_points)
