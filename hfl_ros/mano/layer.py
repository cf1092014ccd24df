"""Differentiable MANO hand model in torch (manopth semantics as HFL-Net uses them, in metres).

Pipeline for a batch of B hands:
shape blend ``v_shaped = v_template + shapedirs . betas``; joints regressed from ``v_shaped``;
pose blend ``v_posed = v_shaped + posedirs . vec(R_1..15 - I)``; forward kinematics along
``MANO_PARENTS``; linear blend skinning. Outputs are centred on the wrist (MANO joint 0) and in
metres (the MANO file's unit; manopth multiplies by 1000, this layer does not).

The model buffers are registered non-persistent: they come from the licensed MANO file at
construction and are never written to or required from a checkpoint ``state_dict``.
"""

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Union

import numpy as np
import torch
from torch import nn

from hfl_ros.constants import (
    FINGERTIP_VERTICES_LEFT,
    FINGERTIP_VERTICES_RIGHT,
    MANO_PARENTS,
    MANO_TO_OUTPUT_JOINTS,
    NUM_BETAS,
    NUM_HAND_POSE,
    NUM_MANO_JOINTS,
    SIDES,
    WRIST,
)
from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.mano.pickle_io import ManoModelData, read_mano_pickle

#: File names of the official models, per side.
MANO_FILE_NAMES: Dict[str, str] = {"right": "MANO_RIGHT.pkl", "left": "MANO_LEFT.pkl"}
FINGERTIP_VERTICES: Dict[str, tuple] = {"right": FINGERTIP_VERTICES_RIGHT, "left": FINGERTIP_VERTICES_LEFT}
#: Global rotation size (axis-angle) at the start of the pose vector.
NUM_GLOBAL_POSE = 3


@dataclass
class ManoOutput:
    """MANO layer output, wrist-centred (MANO joint 0 at the origin), metres.

    vertices: (B, 778, 3) m; joints: (B, 21, 3) m in JOINT_NAMES order.
    """

    vertices: torch.Tensor
    joints: torch.Tensor


def _ancestor_table(parents: tuple) -> List[List[int]]:
    """For each joint, its chain of ancestors from the root down to itself, left-padded with the index
    ``len(parents)`` (which stands for the identity transform) to the depth of the deepest joint."""
    chains: List[List[int]] = []
    for joint, parent in enumerate(parents):
        if parent >= joint:
            raise ValueError(f"kinematic tree must list parents before children, got {parents}")
        chains.append([joint] if parent < 0 else chains[parent] + [joint])
    depth = max(len(chain) for chain in chains)
    return [[len(parents)] * (depth - len(chain)) + chain for chain in chains]


def _check_batch(name: str, tensor: torch.Tensor, trailing: tuple) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() != 1 + len(trailing) or tuple(tensor.shape[1:]) != trailing:
        shown = ", ".join(str(n) for n in trailing)
        raise ValueError(f"{name} must have shape (B, {shown}), got {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {tensor.dtype}")


def _bone_matrix(parents: tuple) -> np.ndarray:
    """(J, J) matrix taking joint positions to bone vectors J_j - J_parent(j) (the root keeps its position)."""
    matrix = np.eye(len(parents))
    for joint, parent in enumerate(parents):
        if parent >= 0:
            matrix[joint, parent] = -1.0
    return matrix


def _rotate(matrices: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """matrices: (..., 3, 3) applied to points: (..., 3) -> (..., 3)."""
    return (matrices @ points[..., None])[..., 0]


class ManoLayer(nn.Module):
    """MANO as an ``nn.Module``.

    data: arrays of a MANO model file (``read_mano_pickle``); side: "right" or "left" (selects the
    fingertip vertices); use_pca: pose is global 3 + ``ncomps`` PCA coefficients mapped through the
    first ``ncomps`` rows of ``hands_components``; flat_hand_mean: if False, ``hands_mean`` is added
    to the 45 articulation parameters (as manopth does); dtype: floating dtype of the model buffers
    (inputs are cast to it).

    Buffers (``dtype`` unless stated, non-persistent): v_template (778, 3) m, shapedirs (778, 3, 10),
    posedirs (778, 3, 135), J_regressor (16, 778), weights (778, 16), faces (1538, 3) int64,
    hands_mean (45,), hands_components (45, 45), fingertips (5,) int64, bone_matrix (16, 16) (joint
    positions -> bone vectors), ancestors (16, 4) int64 (each joint's chain, root first).
    """

    def __init__(
        self,
        data: ManoModelData,
        side: str = "right",
        use_pca: bool = False,
        ncomps: int = NUM_HAND_POSE,
        flat_hand_mean: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        if not isinstance(data, ManoModelData):
            raise TypeError(f"data must be a ManoModelData, got {type(data).__name__}")
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch dtype, got {dtype}")
        if not 1 <= int(ncomps) <= NUM_HAND_POSE:
            raise ValueError(f"ncomps must be in [1, {NUM_HAND_POSE}], got {ncomps}")
        self.side = side
        self.use_pca = bool(use_pca)
        self.ncomps = int(ncomps) if use_pca else NUM_HAND_POSE
        self.flat_hand_mean = bool(flat_hand_mean)
        self.source = data.source

        def buffer(name: str, array: np.ndarray, buffer_dtype: torch.dtype = dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.array(array), dtype=buffer_dtype), persistent=False)

        buffer("v_template", data.v_template)
        buffer("shapedirs", data.shapedirs)
        buffer("posedirs", data.posedirs)
        buffer("J_regressor", data.J_regressor)
        buffer("weights", data.weights)
        buffer("faces", data.faces, torch.int64)
        hands_mean = np.zeros(NUM_HAND_POSE) if flat_hand_mean else data.hands_mean
        buffer("hands_mean", hands_mean)
        buffer("hands_components", data.hands_components)
        buffer("fingertips", np.asarray(FINGERTIP_VERTICES[side]), torch.int64)
        buffer("output_order", np.asarray(MANO_TO_OUTPUT_JOINTS), torch.int64)
        buffer("bone_matrix", _bone_matrix(MANO_PARENTS))
        buffer("ancestors", np.asarray(_ancestor_table(MANO_PARENTS)), torch.int64)

    @property
    def pose_size(self) -> int:
        """Length of the axis-angle pose vector ``forward`` expects: 3 + ncomps (48 without PCA)."""
        return NUM_GLOBAL_POSE + self.ncomps

    def full_pose(self, pose: torch.Tensor) -> torch.Tensor:
        """Layer input to the 16 joint rotations.

        pose: (B, 3 + ncomps) rad, global axis-angle then articulation (PCA coefficients if use_pca).
        Returns (B, 48) axis-angle rad: global 3 + 45 articulation, hands_mean included.
        """
        _check_batch("pose", pose, (self.pose_size,))
        pose = pose.to(self.hands_mean.dtype)
        articulation = pose[:, NUM_GLOBAL_POSE:]
        if self.use_pca:
            articulation = articulation @ self.hands_components[: self.ncomps]
        return torch.cat((pose[:, :NUM_GLOBAL_POSE], articulation + self.hands_mean), dim=1)

    def forward(self, pose: torch.Tensor, betas: torch.Tensor) -> ManoOutput:
        """pose: (B, 3 + ncomps) rad axis-angle (see ``full_pose``); betas: (B, 10) shape coefficients.

        Returns ManoOutput with vertices (B, 778, 3) m and joints (B, 21, 3) m, wrist-centred.
        """
        full = self.full_pose(pose)
        rotmats = axis_angle_to_matrix(full.reshape(full.shape[0], NUM_MANO_JOINTS, 3))
        return self.from_rotmats(rotmats, betas)

    def from_rotmats(self, rotmats: torch.Tensor, betas: torch.Tensor) -> ManoOutput:
        """rotmats: (B, 16, 3, 3) joint rotations (global first, MANO joint order), used as given
        (no hands_mean is added); betas: (B, 10). Returns the same ManoOutput as ``forward``.
        """
        _check_batch("rotmats", rotmats, (NUM_MANO_JOINTS, 3, 3))
        _check_batch("betas", betas, (NUM_BETAS,))
        if rotmats.shape[0] != betas.shape[0]:
            raise ValueError(f"batch sizes differ: rotmats {tuple(rotmats.shape)}, betas {tuple(betas.shape)}")
        dtype = self.v_template.dtype
        rotmats, betas = rotmats.to(dtype), betas.to(dtype)
        batch = rotmats.shape[0]

        v_shaped = self.v_template + torch.einsum("bl,vcl->bvc", betas, self.shapedirs)
        rest_joints = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        identity = torch.eye(3, dtype=dtype, device=rotmats.device)
        pose_feature = (rotmats[:, 1:] - identity).reshape(batch, -1)
        v_posed = v_shaped + torch.einsum("bp,vcp->bvc", pose_feature, self.posedirs)

        transforms = self._forward_kinematics(rotmats, rest_joints)
        positions = transforms[..., :3, 3]
        rotations = transforms[..., :3, :3]
        # Skinning: x -> R_j (x - J_j) + p_j per joint, blended per vertex as one (778 x 16) @ (16 x 12) product.
        skinning = torch.cat((rotations, (positions - _rotate(rotations, rest_joints))[..., None]), dim=-1)
        blended = (self.weights @ skinning.reshape(batch, NUM_MANO_JOINTS, 12)).reshape(batch, -1, 3, 4)
        vertices = _rotate(blended[..., :3], v_posed) + blended[..., 3]

        stacked = torch.cat((positions, vertices[:, self.fingertips]), dim=1)
        joints = stacked[:, self.output_order]
        root = positions[:, WRIST : WRIST + 1]
        return ManoOutput(vertices=vertices - root, joints=joints - root)

    def _forward_kinematics(self, rotmats: torch.Tensor, rest_joints: torch.Tensor) -> torch.Tensor:
        """rotmats: (B, 16, 3, 3) local rotations; rest_joints: (B, 16, 3) m.

        Returns the global rigid transforms (B, 16, 4, 4) of the posed joints: each joint's chain of local
        transforms [R_j | J_j - J_parent(j)] multiplied root first, all joints at once (one batched product
        per level of the tree, no per-joint work).
        """
        batch = rotmats.shape[0]
        # Homogeneous local transforms, plus one identity (index 16) that pads the shorter chains.
        local = torch.eye(4, dtype=rotmats.dtype, device=rotmats.device).repeat(batch, NUM_MANO_JOINTS + 1, 1, 1)
        local[:, :NUM_MANO_JOINTS, :3, :3] = rotmats
        local[:, :NUM_MANO_JOINTS, :3, 3] = self.bone_matrix @ rest_joints
        chains = local[:, self.ancestors]
        return functools.reduce(torch.matmul, chains.unbind(dim=2))

    def extra_repr(self) -> str:
        return (f"side={self.side!r}, use_pca={self.use_pca}, ncomps={self.ncomps}, "
                f"flat_hand_mean={self.flat_hand_mean}, source={self.source!r}")


def resolve_mano_path(path_or_dir: Union[str, Path], side: str = "right") -> Path:
    """A MANO model file: ``path_or_dir`` itself if a file, else ``MANO_{SIDE}.pkl`` in it or in
    its ``models/`` subfolder. Raises FileNotFoundError naming every path tried."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    path = Path(path_or_dir).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"MANO model path does not exist: {path}")
    candidates = [path / MANO_FILE_NAMES[side], path / "models" / MANO_FILE_NAMES[side]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {MANO_FILE_NAMES[side]} for side {side!r}; tried {[str(c) for c in candidates]}")


def load_mano(path_or_dir: Union[str, Path], side: str = "right", **layer_options) -> ManoLayer:
    """Build a ManoLayer from a MANO pickle file or a directory holding MANO_RIGHT.pkl / MANO_LEFT.pkl
    (directly or under ``models/``). ``layer_options``: use_pca, ncomps, flat_hand_mean, dtype.

    A file whose name says the other side (MANO_LEFT.pkl with side="right", or the reverse) is refused.
    """
    path = resolve_mano_path(path_or_dir, side)
    other = MANO_FILE_NAMES[SIDES[1 - SIDES.index(side)]]
    if path.name.upper() == other.upper():
        raise ValueError(f"{path} is the {SIDES[1 - SIDES.index(side)]} hand model but side={side!r}")
    return ManoLayer(read_mano_pickle(path), side=side, **layer_options)
