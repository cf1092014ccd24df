"""Root translation from 2D joints (known translation -> project -> solve) and the wrist pose."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hfl_ros.constants import NUM_JOINTS
from hfl_ros.geometry.camera import project_points
from hfl_ros.geometry.hand_pose import solve_root_translation, weak_perspective_translation, wrist_pose

K = np.array([[615.0, 0.0, 320.0], [0.0, 612.0, 240.0], [0.0, 0.0, 1.0]])


def _hand(seed: int, batch: int = 4) -> np.ndarray:
    """Root-relative 'joints': wrist at the origin, the rest within a hand-sized volume, m."""
    joints = np.random.default_rng(seed).uniform(-0.09, 0.09, size=(batch, NUM_JOINTS, 3))
    joints[:, 0] = 0.0
    return joints


def _translations(batch: int = 4) -> np.ndarray:
    return np.array([[0.05, -0.02, 0.6], [-0.1, 0.08, 0.45], [0.0, 0.0, 0.9], [0.2, 0.1, 1.2]])[:batch]


def test_exact_projection_recovers_translation_numpy() -> None:
    joints, translation = _hand(0), _translations()
    uv = project_points(joints + translation[:, None], K)
    solved = solve_root_translation(joints, uv, K)
    assert isinstance(solved, np.ndarray) and solved.shape == (4, 3)
    np.testing.assert_allclose(solved, translation, atol=1e-9)


def test_torch_batched_with_per_sample_K_and_gradients() -> None:
    joints, translation = _hand(1), _translations()
    Ks = np.stack([K * np.array([[s], [s], [1.0]]) for s in (1.0, 0.5, 2.0, 1.3)])
    uv = project_points(joints + translation[:, None], Ks)
    joints_t = torch.tensor(joints, dtype=torch.float32, requires_grad=True)
    solved = solve_root_translation(joints_t, torch.tensor(uv, dtype=torch.float32), torch.tensor(Ks))
    assert isinstance(solved, torch.Tensor) and solved.dtype == torch.float32 and solved.shape == (4, 3)
    np.testing.assert_allclose(solved.detach().numpy(), translation, atol=1e-4)
    solved.sum().backward()
    assert joints_t.grad is not None and bool(torch.isfinite(joints_t.grad).all())


def test_unbatched_and_skewed_intrinsics() -> None:
    joints, translation = _hand(2, batch=1)[0], _translations(1)[0]
    skewed = K.copy()
    skewed[0, 1] = 3.0
    uv = project_points(joints + translation, skewed)
    np.testing.assert_allclose(solve_root_translation(joints, uv, skewed), translation, atol=1e-9)


def test_pixel_noise_gives_small_error() -> None:
    joints, translation = _hand(3), _translations()
    uv = project_points(joints + translation[:, None], K)
    noisy = uv + np.random.default_rng(4).normal(scale=1.0, size=uv.shape)  # 1 px
    error = np.linalg.norm(solve_root_translation(joints, noisy, K) - translation, axis=-1)
    # ~1 px on a hand 100-300 px across: the error stays within 2 % of the depth (a few mm at 0.5 m).
    assert np.all(error < 0.02 * translation[:, 2]), error
    assert error[1] < 0.005


def test_weights_ignore_an_outlier_joint() -> None:
    joints, translation = _hand(5), _translations()
    uv = project_points(joints + translation[:, None], K)
    uv[:, 7] += 80.0  # a badly detected joint
    unweighted = solve_root_translation(joints, uv, K)
    weights = np.ones(uv.shape[:-1])
    weights[:, 7] = 0.0
    weighted = solve_root_translation(joints, uv, K, weights=weights)
    np.testing.assert_allclose(weighted, translation, atol=1e-9)
    assert np.all(np.linalg.norm(unweighted - translation, axis=-1) > 1e-3)


def test_non_positive_depth_raises() -> None:
    joints = _hand(6, batch=1)
    translation = np.array([[0.0, 0.0, 0.05]])  # the hand straddles the camera plane
    uv = project_points(joints + translation[:, None], K)
    with pytest.raises(ValueError, match="non-positive depth"):
        solve_root_translation(joints, uv, K)


def test_degenerate_input_raises() -> None:
    joints = np.zeros((1, NUM_JOINTS, 3))
    uv = np.full((1, NUM_JOINTS, 2), 300.0)
    with pytest.raises(ValueError, match="not determined"):
        solve_root_translation(joints, uv, K)
    with pytest.raises(ValueError, match="not determined"):
        solve_root_translation(_hand(7), np.zeros((4, NUM_JOINTS, 2)), K, weights=np.zeros((4, NUM_JOINTS)))


@pytest.mark.parametrize(
    "args",
    [
        (np.zeros((2, 21, 2)), np.zeros((2, 21, 2)), K),
        (np.zeros((2, 21, 3)), np.zeros((2, 20, 2)), K),
        (np.zeros((2, 21, 3)), np.zeros((2, 21, 2)), np.eye(2)),
    ],
)
def test_bad_shapes_raise(args) -> None:
    with pytest.raises(ValueError, match="shape"):
        solve_root_translation(*args)


def test_bad_weights_and_types_raise() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        solve_root_translation(_hand(8), np.zeros((4, NUM_JOINTS, 2)), K, weights=-np.ones((4, NUM_JOINTS)))
    with pytest.raises(TypeError):
        solve_root_translation([[0.0, 0.0, 0.0]], np.zeros((1, 2)), K)


def test_wrist_pose_is_the_homogeneous_transform() -> None:
    rotation = Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix()
    position = np.array([0.05, -0.02, 0.6])
    pose = wrist_pose(torch.tensor(rotation, dtype=torch.float32), position)
    assert pose.shape == (4, 4) and pose.dtype == np.float64
    np.testing.assert_allclose(pose[:3, :3], rotation, atol=1e-7)
    np.testing.assert_allclose(pose[:3, 3], position)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1])
    # Maps wrist-frame points into the camera: the wrist origin lands on the wrist position.
    np.testing.assert_allclose(pose @ np.array([0.0, 0.0, 0.0, 1.0]), np.append(position, 1.0))
    with pytest.raises(ValueError, match="rotation matrix"):
        wrist_pose(np.diag([1.0, 1.0, -1.0]), position)
    with pytest.raises(ValueError, match="shape"):
        wrist_pose(rotation, np.zeros(4))


def test_weak_perspective_is_close_for_a_distant_hand_and_always_in_front() -> None:
    joints = _hand(5, batch=1)[0] * 0.5
    translation = np.array([0.1, -0.05, 1.5])
    uv = project_points(joints + translation, K)
    solved = weak_perspective_translation(joints, uv, K)
    assert np.linalg.norm(solved - translation) < 0.05 * translation[2]
    inconsistent = weak_perspective_translation(joints * np.array([1.0, 1.0, -1.0]) * 3, uv, K)
    assert inconsistent[2] > 0


def test_weak_perspective_refuses_collapsed_joints() -> None:
    with pytest.raises(ValueError, match="spread"):
        weak_perspective_translation(np.zeros((21, 3)), np.zeros((21, 2)), K)
