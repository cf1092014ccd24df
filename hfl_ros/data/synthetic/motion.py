"""One random grasp moving frame after frame, rendered with its ground truth.

`draw_grasp` draws a hand holding an object, the camera and the appearance once (as `render_frame` does);
`render_moved` renders that grasp turned about its hand-object centre and shifted, one frame per given
rotation and shift; `sway` is the smooth periodic motion the synthetic camera and the tracking scenes
give it; `true_boxes` reads a frame's ground-truth hand and object boxes.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.constants import HAND_BOX_EXPANSION
from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.synthetic.assets import SceneAssets
from hfl_ros.data.synthetic.render import Appearance, render_scene
from hfl_ros.data.synthetic.sampling import SyntheticScene, random_appearance, render_frame
from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.geometry.checks import as_numpy
from hfl_ros.geometry.so3 import exp_map, log_map


@dataclass(frozen=True)
class Grasp:
    """A drawn grasp: start, its ground truth as drawn (camera frame: K, MANO pose and shape, wrist,
    object and its pose); appearance; hand_mesh, the wrist-centred (vertices (778, 3), joints (21, 3)) m
    of its pose and shape."""

    start: FrameAnnotation
    appearance: Appearance
    hand_mesh: Tuple[np.ndarray, np.ndarray]

    @property
    def centre(self) -> np.ndarray:
        """(3,) m camera frame: midway between the wrist and the object's origin, where the motion turns."""
        return (self.start.wrist + self.start.object_translation) / 2


def draw_grasp(rng: np.random.Generator, scene: SyntheticScene, assets: SceneAssets) -> Grasp:
    """A random grasp of `scene` (`render_frame`'s draw), then a random appearance, both from `rng`."""
    _, start, _ = render_frame(rng, scene, assets)
    appearance = random_appearance(rng, scene)
    return Grasp(start, appearance, assets.hand(start.mano_pose, start.mano_shape))


def sway(phases: Sequence[float], rotation_peaks: Tuple[float, float],
         shift_peaks: Tuple[float, float]) -> Tuple[np.ndarray, np.ndarray]:
    """Rotations (F, 3, 3) and shifts (F, 3) m, camera frame, of a smooth sway at `phases` (F,) (period 1).

    The rotation turns by rotation_peaks[1] sin(4 pi phase) rad about the camera's x axis, then by
    rotation_peaks[0] sin(2 pi phase) about its y axis; the shift is (shift_peaks[0] sin(2 pi phase),
    shift_peaks[1] cos(2 pi phase), 0) m.
    """
    angle = 2 * np.pi * np.asarray(phases, dtype=np.float64)
    zero = np.zeros_like(angle)
    about_y = exp_map(np.stack((zero, rotation_peaks[0] * np.sin(angle), zero), axis=-1))
    about_x = exp_map(np.stack((rotation_peaks[1] * np.sin(2 * angle), zero, zero), axis=-1))
    shifts = np.stack((shift_peaks[0] * np.sin(angle), shift_peaks[1] * np.cos(angle), zero), axis=-1)
    return about_y @ about_x, shifts


def render_moved(assets: SceneAssets, grasp: Grasp, rotations: np.ndarray, shifts: np.ndarray,
                 frame_id: str = "synthetic",
                 rng: Optional[np.random.Generator] = None) -> List[Tuple[np.ndarray, FrameAnnotation]]:
    """The grasp rendered once per step: turned by rotations[i] (F, 3, 3) about grasp.centre, then moved
    by shifts[i] (F, 3) m, camera frame. Frame i's annotation is named f"{frame_id}/{i:04d}"; rng: the
    pixel-noise generator, needed only when the appearance has noise.

    Returns per frame (image (H, W, 3) uint8 RGB, FrameAnnotation in the camera frame).
    """
    rotations = as_numpy(rotations, "rotations", shape="F,3,3", finite=True)
    shifts = as_numpy(shifts, "shifts", shape=(len(rotations), 3), finite=True)
    start, centre = grasp.start, grasp.centre
    global_rotation = exp_map(start.mano_pose[:3])
    vertices, joints = grasp.hand_mesh
    frames = []
    for index, (rotation, shift) in enumerate(zip(rotations, shifts)):
        pose = np.concatenate((log_map(rotation @ global_rotation), start.mano_pose[3:]))
        image, truth, _ = render_scene(
            assets, pose, start.mano_shape, rotation @ (start.wrist - centre) + centre + shift, start.object_name,
            rotation @ start.object_rotation, rotation @ (start.object_translation - centre) + centre + shift,
            start.K, start.image_size, grasp.appearance, rng, f"{frame_id}/{index:04d}",
            (vertices @ rotation.T, joints @ rotation.T),
        )
        frames.append((image, truth))
    return frames


def true_boxes(annotation: FrameAnnotation) -> Tuple[np.ndarray, np.ndarray]:
    """Ground-truth hand box (the joints' box x HAND_BOX_EXPANSION, the network's convention) and object box
    (the projected control points' box), (4,) px each."""
    hand = points_box(project_points(annotation.joints_3d, annotation.K), HAND_BOX_EXPANSION)
    points = transform_points(annotation.object_control_points, annotation.object_rotation,
                              annotation.object_translation)
    return hand, points_box(project_points(points, annotation.K))
