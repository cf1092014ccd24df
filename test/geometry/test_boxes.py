"""Box overlap, squares around boxes, fractions of the image and clipping."""

import numpy as np
import pytest

from hfl_ros.geometry.boxes import box_iou, clip_box, fraction_box, resize_box, square_around


def test_iou_of_known_overlaps():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == pytest.approx(1.0)
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_square_around_is_centred_with_the_scaled_larger_side():
    np.testing.assert_allclose(square_around([10, 20, 30, 60], 2.0), [-20, 0, 60, 80])


def test_resize_and_fraction_boxes():
    np.testing.assert_allclose(resize_box([0, 0, 10, 20], (4, 6)), [3, 7, 7, 13])
    np.testing.assert_allclose(fraction_box([0.25, 0.5, 0.75, 1.0], 640, 480), [160, 240, 480, 480])
    with pytest.raises(ValueError, match="fractions"):
        fraction_box([0.2, 0.2, 1.5, 0.9], 640, 480)


def test_clip_box_grows_small_boxes_and_drops_boxes_outside():
    np.testing.assert_allclose(clip_box([100, 100, 104, 104], 640, 480, min_size=24), [90, 90, 114, 114])
    np.testing.assert_allclose(clip_box([-50, -50, 50, 50], 640, 480), [0, 0, 50, 50])
    assert clip_box([700, 10, 800, 50], 640, 480) is None
    assert clip_box([np.nan, 0, 1, 1], 640, 480) is None
