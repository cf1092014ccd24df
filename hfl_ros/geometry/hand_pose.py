"""Placing the root-relative hand in the camera: root translation from 2D joints and K; wrist pose."""

from typing import Optional

import numpy as np
import torch

from hfl_ros.geometry.checks import ArrayLike, ArrayT, as_numpy, as_tensor, as_type_of, check_shape

#: Smallest accepted ratio between the smallest and largest eigenvalue of the normal equations.
_MIN_CONDITION = 1e-12
_ROTATION_TOLERANCE = 1e-4


def solve_root_translation(
    joints_rel: ArrayT,
    joints_2d: ArrayLike,
    K: ArrayLike,
    weights: Optional[ArrayLike] = None,
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
    numpy_in = isinstance(joints_rel, np.ndarray)
    points = as_tensor(joints_rel, "joints_rel")
    check_shape(points, "*,N,3", "joints_rel")
    joints_shape = tuple(points.shape[:-1])
    uv = as_type_of(joints_2d, points)
    check_shape(uv, joints_shape + (2,), "joints_2d")
    intrinsics = as_type_of(K, points)
    check_shape(intrinsics, "*,3,3", "K")
    if weights is None:
        weight = torch.ones(joints_shape, dtype=points.dtype, device=points.device)
    else:
        weight = as_type_of(weights, points)
        check_shape(weight, joints_shape, "weights")
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
    return translation.detach().cpu().numpy() if numpy_in else translation


def weak_perspective_translation(joints_rel: ArrayLike, joints_2d: ArrayLike, K: ArrayLike) -> np.ndarray:
    """Root translation under a scaled-orthographic camera: always in front of the camera.

    The mean depth is ``f * s3 / s2`` (s3, s2: RMS spread of the joints about their centroid in x-y metres
    and in pixels); x and y put the 3D centroid on the ray of the 2D centroid. A fallback for predictions
    whose 2D and 3D joints disagree too much for ``solve_root_translation`` to keep every joint in front.

    joints_rel: (N, 3) m, camera-frame orientation; joints_2d: (N, 2) px; K: (3, 3).
    Returns (3,) m, camera frame. Raises ValueError when either spread is zero or not finite.
    """
    points = as_numpy(joints_rel, "joints_rel", shape="N,3")
    uv = as_numpy(joints_2d, "joints_2d", shape=(len(points), 2))
    intrinsics = as_numpy(K, "K", shape="3,3")
    centroid, centroid_2d = points.mean(axis=0), uv.mean(axis=0)
    spread_3d = np.sqrt(((points[:, :2] - centroid[:2]) ** 2).sum(axis=1).mean())
    spread_2d = np.sqrt(((uv - centroid_2d) ** 2).sum(axis=1).mean())
    if not (np.isfinite(spread_3d) and np.isfinite(spread_2d) and spread_3d > 0 and spread_2d > 0):
        raise ValueError(f"joint spreads must be positive and finite, got {spread_3d} m and {spread_2d} px")
    focal = (intrinsics[0, 0] + intrinsics[1, 1]) / 2
    depth = focal * spread_3d / spread_2d
    ray = np.linalg.solve(intrinsics, np.array([centroid_2d[0], centroid_2d[1], 1.0]))
    return ray / ray[2] * depth - centroid


def wrist_pose(global_rotation: ArrayLike, wrist_position: ArrayLike) -> np.ndarray:
    """Camera-from-wrist rigid transform.

    global_rotation: (3, 3) MANO global rotation, camera frame (camera-from-hand).
    wrist_position: (3,) m, camera frame, position of the wrist joint.
    Returns (4, 4) homogeneous transform ``[[R, p], [0, 0, 0, 1]]`` (float64).
    """
    rotation = as_numpy(global_rotation, "global_rotation", shape="3,3", finite=True)
    position = as_numpy(wrist_position, "wrist_position", shape="3", finite=True)
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=_ROTATION_TOLERANCE) or np.linalg.det(rotation) <= 0:
        raise ValueError(f"global_rotation must be a rotation matrix, got {rotation.tolist()}")
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = position
    return pose
