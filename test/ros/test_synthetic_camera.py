"""Synthetic camera: the rendered loop moves and its boxes fit (the sway itself: test/data/synthetic/test_motion.py)."""

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene  # noqa: E402
from hfl_ros.ros.synthetic_camera import render_loop  # noqa: E402


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
