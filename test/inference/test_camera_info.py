"""CameraInfo -> K validation."""

import numpy as np
import pytest

from hfl_ros.inference.camera_info import IntrinsicsError, check_image_size, intrinsics_from_camera_info

K = [600.0, 0.0, 320.0, 0.0, 610.0, 240.0, 0.0, 0.0, 1.0]
P = [500.0, 0.0, 300.0, 0.0, 0.0, 505.0, 250.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_k_and_p_give_their_matrices():
    np.testing.assert_array_equal(intrinsics_from_camera_info(K, P, "k"), np.reshape(K, (3, 3)))
    np.testing.assert_array_equal(intrinsics_from_camera_info(K, P, "p"),
                                  [[500, 0, 300], [0, 505, 250], [0, 0, 1]])


@pytest.mark.parametrize("k, reason", [
    ([0.0] * 9, "focal lengths must be > 0"),
    ([np.nan] + K[1:], "non-finite"),
    (K[:4] + [np.inf] + K[5:], "non-finite"),
    (K[:8] + [0.0], "last row"),
    (K[:8], "must have 9 values"),
])
def test_bad_intrinsics_are_rejected(k, reason):
    with pytest.raises(IntrinsicsError, match=reason):
        intrinsics_from_camera_info(k, P, "k")


def test_unknown_source_is_a_value_error():
    with pytest.raises(ValueError, match="'q'"):
        intrinsics_from_camera_info(K, P, "q")


def test_image_size_must_match_a_calibrated_size():
    check_image_size(640, 480, 640, 480)
    check_image_size(0, 0, 320, 240)
    with pytest.raises(IntrinsicsError, match="640x480 but the image is 320x240"):
        check_image_size(640, 480, 320, 240)
