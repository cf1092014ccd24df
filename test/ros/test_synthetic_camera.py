"""Synthetic camera: the sway is smooth and periodic; the rendered loop moves and its boxes fit."""

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from hfl_ros.data.synthetic import SceneAssets, SyntheticScene  # noqa: E402
from hfl_ros.ros.synthetic_camera import render_loop, sway  # noqa: E402


def test_sway_is_periodic_and_starts_at_rest():
    rotation, shift = sway(0.0)
    np.testing.assert_allclose(rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(shift[:2], [0.0, 0.015])
    for phase in (0.1, 0.37):
        a, b = sway(phase), sway(phase + 1.0)
        np.testing.assert_allclose(a[0], b[0], atol=1e-12)
        np.testing.assert_allclose(a[0] @ a[0].T, np.eye(3), atol=1e-12)
    step = np.linalg.norm(sway(0.01)[0] - sway(0.0)[0])
    assert 0 < step < 0.05  # smooth: a hundredth of the period moves little


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
