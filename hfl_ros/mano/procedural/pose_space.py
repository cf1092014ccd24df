"""The articulation space of the model files: the kinematic tree table, the hand-pose PCA basis (an
orthonormal DCT basis), its mean (a slight curl) and coefficients of curls from flat to a loose fist."""

from typing import Sequence

import numpy as np

from hfl_ros.constants import MANO_PARENTS, NUM_HAND_POSE, NUM_MANO_JOINTS
from hfl_ros.mano.procedural.dimensions import FINGERS, THUMB_CHAIN, chain_joints

#: Root entry of kintree_table's parent row, as the official files store it (uint32 -1).
KINTREE_ROOT = 2**32 - 1


def hands_components() -> np.ndarray:
    """(45, 45) orthonormal rows: the DCT-II basis."""
    n = np.arange(NUM_HAND_POSE)
    basis = np.cos(np.pi * (n[None] + 0.5) * n[:, None] / NUM_HAND_POSE) * np.sqrt(2.0 / NUM_HAND_POSE)
    basis[0] /= np.sqrt(2.0)
    return basis


def _curl_pose(finger_flex: Sequence[float]) -> np.ndarray:
    """(45,) articulation with each finger joint flexed about +z (curling towards the palm, -y)."""
    pose = np.zeros((NUM_MANO_JOINTS - 1, 3))
    for chain in range(len(FINGERS)):
        for level, joint in enumerate(chain_joints(chain)):
            pose[joint - 1, 2] = finger_flex[level]
    thumb = chain_joints(THUMB_CHAIN)
    for level, joint in enumerate(thumb):
        pose[joint - 1] = 0.5 * finger_flex[level] * np.array([0.3, 0.3, 1.0])
    return pose.reshape(-1)


def hands_mean() -> np.ndarray:
    return _curl_pose((0.15, 0.1, 0.06))


def hands_coeffs(components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(8, 45) PCA coefficients of curls from flat to a loose fist, relative to the mean."""
    poses = np.stack([_curl_pose((0.9 * a, 1.1 * a, 0.7 * a)) for a in np.linspace(0.0, 1.0, 8)])
    return (poses - mean) @ components.T


def kintree_table() -> np.ndarray:
    parents = [KINTREE_ROOT if parent < 0 else parent for parent in MANO_PARENTS]
    return np.array([parents, list(range(NUM_MANO_JOINTS))], dtype=np.int64)
