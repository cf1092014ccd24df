"""Render a given hand and object pose: z-buffer rasterisation and Lambert (Gouraud) shading.

The ground truth is a `FrameAnnotation` in the format the dataset readers produce, plus the visible hand
and object masks.
"""

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.synthetic.assets import SceneAssets, unit_vector
from hfl_ros.data.synthetic.raster import rasterize
from hfl_ros.geometry.camera import transform_points
from hfl_ros.geometry.mesh import vertex_normals

@dataclass(frozen=True)
class Appearance:
    """How a scene looks: background (H, W, 3) float [0, 1]; light: unit direction towards the light
    (camera frame); ambient, diffuse intensities; skin and object RGB albedos; noise_std."""

    background: np.ndarray
    light: np.ndarray = field(default_factory=lambda: unit_vector(np.array([0.3, -0.4, -1.0])))
    ambient: float = 0.35
    diffuse: float = 0.7
    skin: Tuple[float, float, float] = (0.85, 0.65, 0.5)
    object_colour: Tuple[float, float, float] = (0.2, 0.45, 0.8)
    noise_std: float = 0.0


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
