"""CameraInfo validation of the node: it lives in `hfl_ros.inference.camera_info` (ROS-free, also used by
the bag reader `hfl_ros.inference.bags`); re-exported here for the ROS modules."""

from hfl_ros.inference.camera_info import (  # noqa: F401
    INTRINSICS_SOURCES, IntrinsicsError, check_image_size, intrinsics_from_camera_info,
)
