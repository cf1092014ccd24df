"""Placing the root-relative hand in the camera: root translation from 2D joints and K; wrist pose."""

from typing import Optional, TypeVar, Union

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: Smallest accepted ratio between the smallest and largest eigenvalue of the normal equations.
_MIN_CONDITION = 1e-12
_ROTATION_TOLERANCE = 1e-4


def _to_tensor(name: str, value: Union[np.ndarray, torch.Tensor], like: Optional[torch.Tensor] = None) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.asarray(value, dtype=np.float64))
    elif isinstance(value, torch.Tensor):
        tensor = value
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
    if like is not None:
        tensor = tensor.to(dtype=like.dtype, device=like.device)
    elif not tensor.is_floating_point():
        tensor = tensor.double()
    return tensor


def solve_root_translation(
    joints_rel: ArrayT,
    joints_2d: Union[np.ndarray, torch.Tensor],
    K: Union[np.ndarray, torch.Tensor],
    weights: Optional[Union[np.ndarray, torch.Tensor]] = None,
) -> ArrayT:
    """Camera-frame translation ``t`` that best reprojects ``joints_rel + t`` onto ``joints_2d``.

    With ``P = X + t`` and K's rows ``k0, k1, k2`` (``k2 = (0, 0, 1)``), the projection ``u = k0.P / k2.P``
    multiplied by the depth ``k2.P`` gives ``(k0 - u k2).t = -(k0 - u k2).X`` and likewise for ``v``: two
    equations linear in ``t`` per joint, solved in the (weighted) least-squares sense. The residual it
    minimises is the pixel error scaled by each joint's depth.

    joints_rel: (..., N, 3) m, camera-frame orientation, relative to any origin (HFL-Net: the wrist).
    joints_2d: (..., N, 2) px, image described by K.
    K: (..., 3, 3) intrinsics, broadcast over the batch dimensions.
    weights: optional (..., N) non-negative per-joint weights (e.g. heatmap confidences); default all 1.
    Returns (..., 3) m, camera frame: the position of the origin of ``joints_rel``. numpy in -> numpy out
    (float64); torch in -> torch out (differentiable, same dtype and device as ``joints_rel``).
    Raises ValueError when the system is degenerate or a weighted joint would get non-positive depth.
    """
    as_numpy = isinstance(joints_rel, np.ndarray)
    points = _to_tensor("joints_rel", joints_rel)
    uv = _to_tensor("joints_2d", joints_2d, like=points)
    intrinsics = _to_tensor("K", K, like=points)
    if points.ndim < 2 or points.shape[-1] != 3:
        raise ValueError(f"joints_rel must have shape (..., N, 3), got {tuple(points.shape)}")
    if uv.shape != points.shape[:-1] + (2,):
        raise ValueError(f"joints_2d must have shape {tuple(points.shape[:-1]) + (2,)}, got {tuple(uv.shape)}")
    if intrinsics.shape[-2:] != (3, 3):
        raise ValueError(f"K must have shape (..., 3, 3), got {tuple(intrinsics.shape)}")
    if weights is None:
        weight = torch.ones(points.shape[:-1], dtype=points.dtype, device=points.device)
    else:
        weight = _to_tensor("weights", weights, like=points)
        if weight.shape != points.shape[:-1]:
            raise ValueError(f"weights must have shape {tuple(points.shape[:-1])}, got {tuple(weight.shape)}")
        if bool((weight < 0).any()):
            raise ValueError("weights must be non-negative")

    rows = intrinsics[..., None, :2, :] - uv[..., :, :, None] * intrinsics[..., None, 2:3, :]  # (..., N, 2, 3)
    targets = -(rows * points[..., :, None, :]).sum(-1)  # (..., N, 2)
    weighted_rows = rows * weight[..., :, None, None]
    normal = torch.einsum("...nki,...nkj->...ij", weighted_rows, rows)
    rhs = torch.einsum("...nki,...nk->...i", weighted_rows, targets)
    eigenvalues = torch.linalg.eigvalsh(normal.detach())
    if bool((eigenvalues[..., 0] <= _MIN_CONDITION * eigenvalues[..., -1].clamp_min(1e-300)).any()):
        raise ValueError("root translation is not determined: need at least 2 weighted, non-coincident joints")
    translation = torch.linalg.solve(normal, rhs[..., None])[..., 0]

    depths = points[..., 2] + translation[..., None, 2]
    if bool(((depths <= 0) & (weight > 0)).any()):
        raise ValueError(
            f"solved root translation puts joints at non-positive depth (min depth {float(depths.min()):.4g} m)"
        )
    return translation.detach().cpu().numpy() if as_numpy else translation


def weak_perspective_translation(joints_rel: np.ndarray, joints_2d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Root translation under a scaled-orthographic camera: always in front of the camera.

    The mean depth is ``f * s3 / s2`` (s3, s2: RMS spread of the joints about their centroid in x-y metres
    and in pixels); x and y put the 3D centroid on the ray of the 2D centroid. A fallback for predictions
    whose 2D and 3D joints disagree too much for ``solve_root_translation`` to keep every joint in front.

    joints_rel: (N, 3) m, camera-frame orientation; joints_2d: (N, 2) px; K: (3, 3).
    Returns (3,) m, camera frame. Raises ValueError when either spread is zero or not finite.
    """
    points = np.asarray(joints_rel, dtype=np.float64)
    uv = np.asarray(joints_2d, dtype=np.float64)
    intrinsics = np.asarray(K, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or uv.shape != (points.shape[0], 2) or intrinsics.shape != (3, 3):
        raise ValueError(f"need joints_rel (N, 3), joints_2d (N, 2), K (3, 3); got {points.shape}, {uv.shape}, "
                         f"{intrinsics.shape}")
    centroid, centroid_2d = points.mean(axis=0), uv.mean(axis=0)
    spread_3d = np.sqrt(((points[:, :2] - centroid[:2]) ** 2).sum(axis=1).mean())
    spread_2d = np.sqrt(((uv - centroid_2d) ** 2).sum(axis=1).mean())
    if not (np.isfinite(spread_3d) and np.isfinite(spread_2d) and spread_3d > 0 and spread_2d > 0):
        raise ValueError(f"joint spreads must be positive and finite, got {spread_3d} m and {spread_2d} px")
    focal = (intrinsics[0, 0] + intrinsics[1, 1]) / 2
    depth = focal * spread_3d / spread_2d
    ray = np.linalg.solve(intrinsics, np.array([centroid_2d[0], centroid_2d[1], 1.0]))
    return ray / ray[2] * depth - centroid


def wrist_pose(
    global_rotation: Union[np.ndarray, torch.Tensor], wrist_position: Union[np.ndarray, torch.Tensor]
) -> np.ndarray:
    """Camera-from-wrist rigid transform.

    global_rotation: (3, 3) MANO global rotation, camera frame (camera-from-hand).
    wrist_position: (3,) m, camera frame, position of the wrist joint.
    Returns (4, 4) homogeneous transform ``[[R, p], [0, 0, 0, 1]]`` (float64).
    """
    rotation = _to_tensor("global_rotation", global_rotation).detach().cpu().double().numpy()
    position = _to_tensor("wrist_position", wrist_position).detach().cpu().double().numpy()
    if rotation.shape != (3, 3):
        raise ValueError(f"global_rotation must have shape (3, 3), got {rotation.shape}")
    if position.shape != (3,):
        raise ValueError(f"wrist_position must have shape (3,), got {position.shape}")
    if not (np.all(np.isfinite(rotation)) and np.all(np.isfinite(position))):
        raise ValueError("global_rotation and wrist_position must be finite")
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=_ROTATION_TOLERANCE) or np.linalg.det(rotation) <= 0:
        raise ValueError(f"global_rotation must be a rotation matrix, got {rotation.tolist()}")
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = position
    return pose
