"""Synthetic camera: the rendered loop moves and its boxes fit (the sway itself: test/data/synthetic/test_motion.py),
its two-hand frames, and the hand counts it refuses."""

import re

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", exc_type=ImportError,
                            reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from rclpy.parameter import Parameter  # noqa: E402

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene  # noqa: E402
from hfl_ros.ros.synthetic_camera import SyntheticCamera, render_loop, two_hand_loop  # noqa: E402


def test_render_loop_frames_move_and_boxes_lie_in_the_image(mano_dir):
    scene = SyntheticScene(image_size=(96, 72), objects=("primitive_box",), noise_std=(0.0, 0.0))
    K, frames = render_loop(SceneAssets.load(mano_dir), scene, np.random.default_rng(3), 3)
    assert K.shape == (3, 3) and len(frames) == 3
    assert all(frame.image.shape == (72, 96, 3) and frame.image.dtype == np.uint8 for frame in frames)
    assert np.abs(frames[0].image.astype(int) - frames[1].image.astype(int)).mean() > 0.5
    for frame in frames:
        for box in (frame.hand_box, frame.object_box):
            assert box[2] > box[0] and box[3] > box[1]
            centre = (box[:2] + box[2:]) / 2
            assert 0 <= centre[0] <= 96 and 0 <= centre[1] <= 72


def test_two_hand_loop_puts_each_render_beside_its_mirror_under_the_render_intrinsics(mano_dir):
    scene = SyntheticScene(image_size=(96, 72), objects=("primitive_box",), noise_std=(0.0, 0.0))
    K, frames = render_loop(SceneAssets.load(mano_dir), scene, np.random.default_rng(3), 2)
    composed_K, images = two_hand_loop(K, frames)
    np.testing.assert_array_equal(composed_K, K)
    assert len(images) == 2
    for frame, image in zip(frames, images):
        assert image.shape == (72, 192, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image[:, :96], frame.image)  # the right hand, as rendered
        np.testing.assert_array_equal(image[:, 96:], frame.image[:, ::-1])  # its mirror: a left hand


@pytest.mark.parametrize("overrides, named", [({"hands": 3}, "hands must be one of (1, 2), got 3"),
                                              ({"hands": 2, "publish_rois": True}, "it needs hands 1")])
def test_camera_refuses_a_hand_count_it_cannot_render_by_value(overrides, named):
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(ValueError, match=re.escape(named)):
            SyntheticCamera(context=context,
                            parameter_overrides=[Parameter(name, value=value) for name, value in overrides.items()])
    finally:
        rclpy.shutdown(context=context)
