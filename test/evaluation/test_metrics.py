"""Metrics on cases with known answers."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hfl_ros.evaluation import metrics


def _cloud(seed: int, count: int = 21, batch: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.1, 0.1, size=(batch, count, 3))


def _similarity(points: np.ndarray, seed: int):
    """Apply a random similarity transform per sample; returns the moved points and (s, R, t)."""
    rng = np.random.default_rng(seed)
    batch = points.shape[0]
    scale = rng.uniform(0.5, 2.0, size=batch)
    rotation = Rotation.random(batch, random_state=seed).as_matrix()
    translation = rng.uniform(-0.5, 0.5, size=(batch, 3))
    moved = scale[:, None, None] * points @ rotation.transpose(0, 2, 1) + translation[:, None]
    return moved, scale, rotation, translation


def test_identical_sets_have_zero_error() -> None:
    points = _cloud(0)
    for metric in (metrics.mpjpe, metrics.pa_mpjpe, metrics.pa_mpvpe, metrics.add, metrics.add_s):
        result = metric(points, points)
        assert result.shape == (3,)
        np.testing.assert_allclose(result, 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.f_score(points, points, 0.005), 1.0)


def test_mpjpe_known_value() -> None:
    gt = _cloud(1)
    pred = gt + np.array([0.003, 0.004, 0.0])  # every joint off by 5 mm
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), 0.005)
    single = metrics.mpjpe(pred[0], gt[0])
    assert single.shape == () and float(single) == pytest.approx(0.005)


def test_similarity_transform_has_zero_pa_error_but_positive_mpjpe() -> None:
    gt = _cloud(2)
    pred, scale, rotation, translation = _similarity(gt, seed=3)
    assert np.all(metrics.mpjpe(pred, gt) > 0.01)
    np.testing.assert_allclose(metrics.pa_mpjpe(pred, gt), 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.procrustes_align(pred, gt), gt, atol=1e-9)
    s, r, t = metrics.procrustes_transform(gt, pred)  # gt -> pred recovers the applied transform
    np.testing.assert_allclose(s, scale)
    np.testing.assert_allclose(r, rotation, atol=1e-9)
    np.testing.assert_allclose(t, translation, atol=1e-9)


def test_procrustes_never_reflects() -> None:
    gt = _cloud(4)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # only a reflection would align it exactly
    _, rotation, _ = metrics.procrustes_transform(mirrored, gt)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)
    assert np.all(metrics.pa_mpjpe(mirrored, gt) > 1e-3)


def test_pa_error_is_not_larger_than_mpjpe_and_matches_brute_force_scale() -> None:
    gt = _cloud(5)
    pred = gt + np.random.default_rng(6).normal(scale=0.01, size=gt.shape)
    assert np.all(metrics.pa_mpjpe(pred, gt) <= metrics.mpjpe(pred, gt))
    # The optimal scale minimises the squared error: perturbing it can only increase it.
    s, r, t = metrics.procrustes_transform(pred, gt)
    for factor in (0.99, 1.01):
        moved = (factor * s)[:, None, None] * pred @ r.transpose(0, 2, 1) + t[:, None]
        best = s[:, None, None] * pred @ r.transpose(0, 2, 1) + t[:, None]
        assert np.all(((moved - gt) ** 2).sum(axis=(1, 2)) >= ((best - gt) ** 2).sum(axis=(1, 2)))


def test_torch_inputs_give_torch_outputs() -> None:
    gt = torch.tensor(_cloud(7), dtype=torch.float32)
    pred = gt + 0.001
    result = metrics.pa_mpjpe(pred, gt)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32 and result.shape == (3,)
    np.testing.assert_allclose(result.numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(metrics.mpjpe(pred, gt).numpy(), np.sqrt(3) * 0.001, rtol=1e-5)
    assert isinstance(metrics.f_score(pred, gt, 0.005), torch.Tensor)


def test_f_score_identical_far_and_partial() -> None:
    grid = np.stack(np.meshgrid(*[np.arange(9) * 0.02] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    gt = np.stack((grid, grid + 0.3))  # points 2 cm apart: no two within the thresholds below
    assert np.all(metrics.f_score(gt + 10.0, gt, 0.015) == 0.0)
    # Half of the predicted points are exact, the others far: precision 1/2 and half of the GT is covered.
    pred = gt.copy()
    pred[:, 1::2] += 1.0
    precision, recall = metrics.precision_recall(pred, gt, 0.005)
    half = np.ceil(len(grid) / 2) / len(grid)
    np.testing.assert_allclose(precision, half)
    np.testing.assert_allclose(recall, half)
    np.testing.assert_allclose(metrics.f_score(pred, gt, 0.005), half)
    # A subset prediction: perfect precision, partial recall; F = 2PR / (P + R).
    subset = gt[:, :200]
    precision, recall = metrics.precision_recall(subset, gt, 0.001)
    np.testing.assert_allclose(precision, 1.0)
    np.testing.assert_allclose(recall, 200 / len(grid))
    np.testing.assert_allclose(metrics.f_score(subset, gt, 0.001), 2 * precision * recall / (precision + recall))


def test_f_score_threshold_is_strict() -> None:
    gt = np.zeros((1, 3))
    pred = np.array([[0.005, 0.0, 0.0]])
    assert float(metrics.f_score(pred, gt, 0.005)) == 0.0
    assert float(metrics.f_score(pred, gt, 0.0051)) == 1.0


def test_nearest_distances_match_brute_force_across_chunks(monkeypatch) -> None:
    monkeypatch.setattr(metrics, "_DISTANCE_BUDGET", 500)  # force many chunks
    query, reference = _cloud(9, count=300, batch=2), _cloud(10, count=200, batch=2)
    brute = np.sqrt(((query[:, :, None] - reference[:, None]) ** 2).sum(-1)).min(-1)
    np.testing.assert_allclose(metrics.nearest_distances(query, reference), brute, atol=1e-12)


def test_auc_known_values() -> None:
    assert metrics.auc(np.zeros((10, 21))) == pytest.approx(1.0)
    assert metrics.auc(np.full((10, 21), 0.06)) == 0.0
    # Uniform errors on [0, 50 mm] give a linear PCK curve: AUC = 1/2 (up to sampling).
    errors = np.linspace(0.0, 0.05, 100001)
    assert metrics.auc(errors) == pytest.approx(0.5, abs=1e-3)
    # Half the errors at 0, half above the range: AUC = 1/2 exactly.
    assert metrics.auc(np.array([0.0, 1.0])) == pytest.approx(0.5)
    curve = metrics.pck_curve(np.array([0.01, 0.02, 0.03]), np.array([0.0, 0.01, 0.025, 0.05]))
    np.testing.assert_allclose(curve, [0.0, 1 / 3, 2 / 3, 1.0])


def test_add_s_is_at_most_add_and_zero_for_a_symmetric_object() -> None:
    model = _cloud(11, count=500, batch=1)[0]
    gt_rotation = Rotation.from_rotvec([0.2, 0.3, -0.1]).as_matrix()
    pred_rotation = Rotation.from_rotvec([0.25, 0.2, 0.0]).as_matrix()
    gt = model @ gt_rotation.T + [0.0, 0.0, 0.5]
    pred = model @ pred_rotation.T + [0.01, 0.0, 0.5]
    assert 0 < float(metrics.add_s(pred, gt)) <= float(metrics.add(pred, gt))
    # A cube's corners rotated by 90 degrees about z: ADD is large, ADD-S is zero.
    corners = np.array([[x, y, z] for x in (-0.05, 0.05) for y in (-0.05, 0.05) for z in (-0.05, 0.05)])
    quarter = Rotation.from_rotvec([0.0, 0.0, np.pi / 2]).as_matrix()
    assert float(metrics.add(corners @ quarter.T, corners)) > 0.05
    assert float(metrics.add_s(corners @ quarter.T, corners)) == pytest.approx(0.0, abs=1e-12)


def test_add_accuracy() -> None:
    errors = np.array([0.005, 0.01, 0.011, 0.03])
    assert metrics.add_accuracy(errors, 0.1) == 0.5  # 0.01 <= 0.1 * 0.1 counts
    assert metrics.add_accuracy(errors, np.array([0.1, 0.1, 0.2, 0.2]), fraction=0.1) == 0.75
    assert metrics.add_accuracy(torch.tensor(errors), 1.0, fraction=0.02) == 0.75
    with pytest.raises(ValueError, match="diameter"):
        metrics.add_accuracy(errors, np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="diameter"):
        metrics.add_accuracy(errors, 0.0)


def test_reprojection_error_known_value() -> None:
    K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
    gt = np.array([[[0.0, 0.0, 1.0], [0.1, 0.0, 1.0]]])
    pred = gt + np.array([0.01, 0.0, 0.0])  # 0.01 m at 1 m = 6 px
    np.testing.assert_allclose(metrics.reprojection_error(pred, gt, K), [6.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.mpjpe(np.zeros((2, 21, 3)), np.zeros((2, 20, 3))),
        lambda: metrics.mpjpe(np.zeros((2, 21, 2)), np.zeros((2, 21, 2))),
        lambda: metrics.pa_mpjpe(np.zeros((0, 3)), np.zeros((0, 3))),
        lambda: metrics.f_score(np.zeros((5, 3)), np.zeros((5, 3)), 0.0),
        lambda: metrics.nearest_distances(np.zeros((2, 5, 3)), np.zeros((3, 5, 3))),
        lambda: metrics.auc(np.zeros(5), steps=1),
        lambda: metrics.auc(np.zeros(0)),
        lambda: metrics.reprojection_error(np.ones((5, 3)), np.ones((5, 3)), np.eye(2)),
    ],
)
def test_bad_inputs_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_non_arrays_raise_type_error() -> None:
    with pytest.raises(TypeError):
        metrics.mpjpe([[0.0, 0.0, 0.0]], np.zeros((1, 3)))
