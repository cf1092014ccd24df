"""Box sources: external ROI, then tracking, then the initial ROI, with their age limits."""

import numpy as np
import pytest

from hfl_ros.geometry.camera import project_points
from hfl_ros.geometry.control_points import control_points_from_points
from hfl_ros.ros.boxes import (
    SOURCE_EXTERNAL,
    SOURCE_INITIAL,
    SOURCE_TRACKING,
    BoxSelector,
    BoxSettings,
    fit_box,
    tracking_boxes,
)

WIDTH, HEIGHT = 320, 240
CUBE = control_points_from_points(np.array([[-0.03, -0.03, -0.03], [0.03, 0.03, 0.03]]))


def test_initial_box_is_fractions_of_the_image():
    boxes = BoxSelector(BoxSettings(initial_hand_box=(0.25, 0.5, 0.75, 1.0))).select(10.0, WIDTH, HEIGHT)
    assert boxes.source == SOURCE_INITIAL
    np.testing.assert_allclose(boxes.hand, [80, 120, 240, 240])


def test_external_roi_wins_within_its_age_only():
    selector = BoxSelector(BoxSettings(external_max_age=0.1))
    selector.set_external(10.0, np.array([10, 20, 50, 60]), np.array([30, 30, 90, 90]))
    selector.set_tracked(10.0, np.array([0, 0, 100, 100]), np.array([0, 0, 100, 100]))
    near = selector.select(10.05, WIDTH, HEIGHT)
    assert near.source == SOURCE_EXTERNAL
    np.testing.assert_allclose(near.hand, [10, 20, 50, 60])
    assert selector.select(10.2, WIDTH, HEIGHT).source == SOURCE_TRACKING


def test_tracking_expires_and_never_uses_a_future_frame():
    selector = BoxSelector(BoxSettings(tracking_max_age=0.5))
    selector.set_tracked(10.0, np.array([10, 10, 60, 60]), np.array([20, 20, 80, 80]))
    assert selector.select(10.4, WIDTH, HEIGHT).source == SOURCE_TRACKING
    assert selector.select(10.6, WIDTH, HEIGHT).source == SOURCE_INITIAL
    assert selector.select(9.9, WIDTH, HEIGHT).source == SOURCE_INITIAL


def test_untrusted_tracking_falls_back_and_reset_forgets():
    selector = BoxSelector(BoxSettings())
    selector.set_tracked(10.0, None, np.array([20, 20, 80, 80]))
    assert selector.select(10.1, WIDTH, HEIGHT).source == SOURCE_INITIAL
    selector.set_tracked(10.0, np.array([10, 10, 60, 60]), np.array([20, 20, 80, 80]))
    selector.reset()
    assert selector.select(10.1, WIDTH, HEIGHT).source == SOURCE_INITIAL


def test_fit_box_grows_small_boxes_and_clips_to_the_image():
    np.testing.assert_allclose(fit_box(np.array([100, 100, 104, 102]), WIDTH, HEIGHT, 24), [90, 89, 114, 113])
    np.testing.assert_allclose(fit_box(np.array([-50, -10, 30, 500]), WIDTH, HEIGHT, 1), [0, 0, 30, 240])
    assert fit_box(np.array([400, 300, 500, 400]), WIDTH, HEIGHT, 1) is None
    assert fit_box(np.array([np.nan, 0, 1, 1]), WIDTH, HEIGHT, 1) is None


def test_tracking_boxes_from_projected_joints_and_pose(estimate_factory, intrinsics):
    estimate = estimate_factory(object_angle=0.4)
    settings = BoxSettings(hand_expansion=1.0, object_expansion=1.0)
    hand_box, object_box = tracking_boxes(estimate, intrinsics, CUBE, settings)
    joints_2d = estimate.hand.joints_2d
    np.testing.assert_allclose(hand_box, [*joints_2d.min(0), *joints_2d.max(0)])
    projected = project_points(CUBE @ estimate.object.rotation.T + estimate.object.translation, intrinsics)
    np.testing.assert_allclose(object_box, [*projected.min(0), *projected.max(0)])


def test_tracking_boxes_expand_about_the_centre_and_respect_scores(estimate_factory, intrinsics):
    estimate = estimate_factory(object_angle=None, hand_score=0.1)
    plain = tracking_boxes(estimate, intrinsics, CUBE, BoxSettings(hand_expansion=1.0, object_expansion=1.0))
    grown = tracking_boxes(estimate, intrinsics, CUBE, BoxSettings(hand_expansion=2.0, object_expansion=1.0))
    np.testing.assert_allclose(grown[0][2:] - grown[0][:2], 2 * (plain[0][2:] - plain[0][:2]))
    cp = estimate.object.control_points_2d
    np.testing.assert_allclose(plain[1], [*cp.min(0), *cp.max(0)])
    hand_box, _ = tracking_boxes(estimate, intrinsics, CUBE, BoxSettings(tracking_min_hand_score=0.5))
    assert hand_box is None


@pytest.mark.parametrize("kwargs, match", [
    ({"initial_hand_box": (0.5, 0.5, 0.4, 0.9)}, "initial_hand_box"),
    ({"initial_object_box": (0.0, 0.0, 1.2, 1.0)}, "initial_object_box"),
    ({"hand_expansion": 0.5}, "hand_expansion"),
    ({"tracking_max_age": -1.0}, "tracking_max_age"),
])
def test_bad_settings_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BoxSettings(**kwargs)
