"""Image / CompressedImage <-> RGB conversions: known pixels for every encoding, and each rejection."""

import array

import cv2
import numpy as np
import pytest

from hfl_ros.inference.image_messages import (
    ENCODINGS,
    ImageConversionError,
    compressed_to_rgb,
    encode_rgb,
    image_to_rgb,
    rgb_to_image,
)


@pytest.fixture()
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def _packed(pixels: np.ndarray, padding: int = 0) -> tuple:
    """Rows of `pixels` (H, W, C) with `padding` extra bytes each -> (step, data as array.array)."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate((rows, np.full((height, padding), 77, np.uint8)), axis=1)
    return padded.shape[1], array.array("B", padded.tobytes())


@pytest.mark.parametrize("encoding, make", [
    ("rgb8", lambda rgb: rgb),
    ("bgr8", lambda rgb: rgb[:, :, ::-1]),
    ("8UC3", lambda rgb: rgb[:, :, ::-1]),
    ("rgba8", lambda rgb: np.dstack((rgb, np.full(rgb.shape[:2], 9, np.uint8)))),
    ("bgra8", lambda rgb: np.dstack((rgb[:, :, ::-1], np.full(rgb.shape[:2], 9, np.uint8)))),
])
@pytest.mark.parametrize("padding", [0, 3])
def test_colour_encodings_recover_rgb(rgb, encoding, make, padding):
    step, data = _packed(np.ascontiguousarray(make(rgb)), padding)
    out = image_to_rgb(encoding, rgb.shape[0], rgb.shape[1], step, data)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb)


def test_mono8_becomes_grey_rgb(rgb):
    grey = rgb[:, :, 0]
    step, data = _packed(grey[:, :, None])
    out = image_to_rgb("mono8", grey.shape[0], grey.shape[1], step, bytes(data))
    np.testing.assert_array_equal(out, np.dstack((grey, grey, grey)))


def test_yuv422_matches_opencv():
    rng = np.random.default_rng(1)
    uyvy = rng.integers(16, 235, size=(4, 6, 2), dtype=np.uint8)
    step, data = _packed(uyvy)
    out = image_to_rgb("yuv422", 4, 6, step, data)
    np.testing.assert_array_equal(out, cv2.cvtColor(uyvy, cv2.COLOR_YUV2RGB_UYVY))


def test_every_encoding_is_documented_with_its_channels():
    assert {"rgb8", "bgr8", "rgba8", "bgra8", "mono8"} <= set(ENCODINGS)


@pytest.mark.parametrize("encoding, height, width, step, size, reason", [
    ("rgb16", 2, 2, 12, 24, "unsupported encoding"),
    ("rgb8", 0, 2, 6, 0, "zero-size"),
    ("rgb8", 2, 0, 0, 0, "zero-size"),
    ("rgb8", 2, 2, 5, 10, "step 5 < width 2"),
    ("rgb8", 2, 2, 6, 11, "data size 11 != step 6 x height 2"),
    ("rgb8", 2, 2, 6, 13, "data size 13"),
    ("rgb8", 5000, 5000, 15000, 0, "too large"),
])
def test_bad_raw_images_are_rejected_with_reason(encoding, height, width, step, size, reason):
    with pytest.raises(ImageConversionError, match=reason):
        image_to_rgb(encoding, height, width, step, bytes(size))


def test_max_pixels_is_configurable(rgb):
    step, data = _packed(rgb)
    with pytest.raises(ImageConversionError, match="too large"):
        image_to_rgb("rgb8", 5, 7, step, data, max_pixels=34)


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_compressed_round_trip(image_format):
    y, x = np.mgrid[0:32, 0:48]
    smooth = np.dstack((x * 5, y * 7, x + y)).astype(np.uint8)
    out = compressed_to_rgb(encode_rgb(smooth, image_format))
    tolerance = 0 if image_format == "png" else 12
    assert out.shape == smooth.shape
    assert np.abs(out.astype(int) - smooth).max() <= tolerance


@pytest.mark.parametrize("data, reason", [(b"", "empty"), (b"not an image at all", "could not decode")])
def test_bad_compressed_images_are_rejected(data, reason):
    with pytest.raises(ImageConversionError, match=reason):
        compressed_to_rgb(data)


def test_rgb_to_image_round_trips_through_image_to_rgb(rgb):
    fields = rgb_to_image(rgb)
    assert (fields.encoding, fields.height, fields.width, fields.step) == ("rgb8", 5, 7, 21)
    assert isinstance(fields.data, array.array)
    np.testing.assert_array_equal(image_to_rgb(*fields), rgb)


def test_rgb_to_image_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        rgb_to_image(np.zeros((4, 4), np.uint8))
