"""The image conversions of the node: they live in `hfl_ros.inference.image_messages` (ROS-free, also used
by the bag reader `hfl_ros.inference.bags`); re-exported here for the ROS modules."""

from hfl_ros.inference.image_messages import (  # noqa: F401
    DEFAULT_MAX_PIXELS, ENCODINGS, ImageConversionError, RawImage, compressed_to_rgb, encode_rgb, image_to_rgb,
    rgb_to_image,
)
