"""The device crop (grid_sample from the affine) cuts the crop OpenCV's warpAffine cuts."""

import cv2
import numpy as np
import pytest
import torch

from hfl_ros.geometry.camera import crop_affine
from hfl_ros.inference.crop import crop_cv2, crop_theta, crop_torch


def _textured_image(seed: int = 0) -> np.ndarray:
    """A 480x640 RGB image with detail at every scale (noise blurred a little, plus sharp stripes)."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur((rng.random((480, 640, 3)) * 255).astype(np.uint8), (5, 5), 1.0)
    image[::40] = 255
    return image


@pytest.mark.parametrize("box", [
    [100.3, 50.7, 400.2, 350.9],   # inside, fractional corners, downscaled
    [300.0, 200.0, 380.0, 280.0],  # upscaled x3.2
    [-50.0, -30.0, 200.0, 220.0],  # over the top-left border (black outside)
    [500.5, 300.2, 700.0, 499.7],  # over the bottom-right border
])
def test_device_crop_equals_opencv(box):
    image = _textured_image()
    affine = crop_affine(np.array(box), 256)
    expected = crop_cv2(image, affine).astype(np.float64)
    crop = crop_torch(torch.from_numpy(image), affine)
    assert crop.shape == (1, 3, 256, 256) and crop.dtype == torch.float32
    got = crop[0].permute(1, 2, 0).numpy().astype(np.float64) * 255
    difference = np.abs(got - expected)
    # OpenCV interpolates with 1/32-px fixed-point weights: at most one level apart, almost never.
    assert difference.max() <= 1.0 + 1e-4 and difference.mean() < 0.01


def test_theta_maps_crop_corners_to_the_affine_preimage():
    affine = crop_affine(np.array([10.0, 20.0, 110.0, 120.0]), 256)
    theta = crop_theta(affine, (640, 480), 256)
    # Normalised crop corner (-1, -1) is crop pixel (-0.5, -0.5): image (10 - 0.5 * 100 / 256, ...).
    x, y = theta @ np.array([-1.0, -1.0, 1.0])
    image_x, image_y = 10.0 - 0.5 * 100 / 256, 20.0 - 0.5 * 100 / 256
    np.testing.assert_allclose([x, y], [(2 * image_x + 1) / 640 - 1, (2 * image_y + 1) / 480 - 1], atol=1e-12)
