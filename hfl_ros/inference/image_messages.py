"""sensor_msgs Image / CompressedImage <-> numpy RGB, with numpy and OpenCV only (no cv_bridge, no ROS).

Pure functions over message fields, so that they are testable without ROS. Every rejection raises
`ImageConversionError` whose message states the reason (it ends up in the node's diagnostics).
"""

import array
from typing import Callable, Dict, NamedTuple, Union

import cv2
import numpy as np

#: Largest image accepted, pixels (4K UHD); bigger frames are rejected rather than processed.
DEFAULT_MAX_PIXELS = 3840 * 2160

Buffer = Union[bytes, bytearray, memoryview, array.array, np.ndarray]


class ImageConversionError(ValueError):
    """A frame that cannot be turned into an RGB image; the message says why."""


def _uyvy_to_rgb(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_YUV2RGB_UYVY)


def _yuyv_to_rgb(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_YUV2RGB_YUY2)


class _Encoding(NamedTuple):
    channels: int
    to_rgb: Callable[[np.ndarray], np.ndarray]


#: The raw encodings cameras publish (sensor_msgs/image_encodings.hpp names), 8 bits per channel.
ENCODINGS: Dict[str, _Encoding] = {
    "rgb8": _Encoding(3, lambda image: image),
    "bgr8": _Encoding(3, lambda image: image[:, :, ::-1]),
    "rgba8": _Encoding(4, lambda image: image[:, :, :3]),
    "bgra8": _Encoding(4, lambda image: image[:, :, 2::-1]),
    "mono8": _Encoding(1, lambda image: np.repeat(image, 3, axis=2)),
    "8UC1": _Encoding(1, lambda image: np.repeat(image, 3, axis=2)),
    "8UC3": _Encoding(3, lambda image: image[:, :, ::-1]),
    "8UC4": _Encoding(4, lambda image: image[:, :, 2::-1]),
    "yuv422": _Encoding(2, _uyvy_to_rgb),
    "uyvy": _Encoding(2, _uyvy_to_rgb),
    "yuv422_yuy2": _Encoding(2, _yuyv_to_rgb),
    "yuyv": _Encoding(2, _yuyv_to_rgb),
}


def _as_bytes(data: Buffer) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    return np.frombuffer(data, dtype=np.uint8)


def _check_size(height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"zero-size image: {width}x{height}")
    if height * width > max_pixels:
        raise ImageConversionError(f"image too large: {width}x{height} = {height * width} pixels > {max_pixels}")


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: Buffer,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A raw sensor_msgs/Image's fields -> (height, width, 3) uint8 RGB (a new contiguous array).

    encoding: one of ENCODINGS; step: bytes per row (>= width * bytes per pixel);
    data: step * height bytes (array.array as rclpy delivers it, bytes, or a uint8 array).
    Raises ImageConversionError for an unknown encoding, zero or huge size, or a step / size mismatch.
    """
    spec = ENCODINGS.get(encoding)
    if spec is None:
        raise ImageConversionError(f"unsupported encoding {encoding!r}; supported: {sorted(ENCODINGS)}")
    height, width, step = int(height), int(width), int(step)
    _check_size(height, width, max_pixels)
    row_bytes = width * spec.channels
    if step < row_bytes:
        raise ImageConversionError(f"step {step} < width {width} x {spec.channels} bytes for {encoding}")
    flat = _as_bytes(data)
    if flat.size != step * height:
        raise ImageConversionError(f"data size {flat.size} != step {step} x height {height} = {step * height}")
    rows = flat.reshape(height, step)[:, :row_bytes]
    image = rows.reshape(height, width, spec.channels)
    return np.ascontiguousarray(spec.to_rgb(image))


def compressed_to_rgb(data: Buffer, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A sensor_msgs/CompressedImage's data (JPEG, PNG, or anything OpenCV decodes) -> (H, W, 3) uint8 RGB.

    Raises ImageConversionError for empty or undecodable data and zero or huge decoded sizes.
    """
    flat = _as_bytes(data)
    if flat.size == 0:
        raise ImageConversionError("empty compressed image")
    decoded = cv2.imdecode(flat, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageConversionError(f"could not decode compressed image ({flat.size} bytes)")
    _check_size(decoded.shape[0], decoded.shape[1], max_pixels)
    return np.ascontiguousarray(decoded[:, :, ::-1])


class RawImage(NamedTuple):
    """The fields of a sensor_msgs/Image holding an rgb8 picture."""

    encoding: str
    height: int
    width: int
    step: int
    data: array.array


def rgb_to_image(rgb: np.ndarray) -> RawImage:
    """(H, W, 3) uint8 RGB -> rgb8 Image fields; data is an array.array('B') (fast to serialise in rclpy)."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {getattr(rgb, 'shape', None)} "
                         f"{getattr(rgb, 'dtype', type(rgb).__name__)}")
    height, width = rgb.shape[:2]
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(rgb).tobytes())
    return RawImage("rgb8", height, width, width * 3, data)


def encode_rgb(rgb: np.ndarray, image_format: str = "jpeg", jpeg_quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG or PNG bytes (for a CompressedImage)."""
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if image_format == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if image_format == "jpeg" else ".png",
                               np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {image_format}")
    return encoded.tobytes()
