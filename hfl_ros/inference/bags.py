"""Frames from ROS 2 bags, without a ROS installation (the `bags` extra: `rosbags`, pure Python).

A bag is a rosbag2 folder (metadata.yaml beside its storage files) or a single storage file: sqlite3
(`.db3`) or MCAP (`.mcap`). From it come the frames of one image topic (sensor_msgs/Image in any encoding of
`image_messages.ENCODINGS`, or sensor_msgs/CompressedImage), stamped by their headers (a zero header stamp
falls back to the time the bag recorded the message), and the intrinsics of its camera_info topic.

Topics (`BagTopics`): the image topic by name, else the bag's only image topic; the camera_info topic by name,
else the bag's only CameraInfo topic, else `<image topic's namespace>/camera_info` when several exist; none
when the bag has no CameraInfo (the caller then needs intrinsics from elsewhere). Every camera_info of the
topic must agree (K, size) and match every image's size; K must be a valid pinhole matrix. Every error is an
`InputError` naming the bag and the topic.
"""

import logging
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Iterator, List, Optional, Tuple

import numpy as np

from hfl_ros.inference.camera_info import IntrinsicsError, intrinsics_from_camera_info
from hfl_ros.inference.frames import Frame, InputError, is_bag
from hfl_ros.inference.image_messages import ImageConversionError, compressed_to_rgb, image_to_rgb

try:
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.rosbag2 import ReaderError
    from rosbags.serde import SerdeError
    from rosbags.typesys import Stores, get_typestore
except ImportError:  # the optional `bags` extra
    AnyReader = None

LOG = logging.getLogger(__name__)

RAW_IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (RAW_IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
#: Type definitions for bags that do not embed theirs (older sqlite3 bags).
DEFAULT_TYPESTORE = "ros2_jazzy"
NANOSECONDS = 1_000_000_000


@dataclass(frozen=True)
class BagTopics:
    """Which topics of a bag to read; None = choose (see the module docstring)."""

    image: Optional[str] = None
    camera_info: Optional[str] = None


@dataclass(frozen=True)
class BagCamera:
    """The camera of a bag's image topic.

    image_topic, image_type (IMAGE_TYPES); camera_info_topic (None: the bag has none); K (3, 3) px and
    size (W, H) px of its camera_info (None without one); frames: number of image messages.
    """

    path: Path
    image_topic: str
    image_type: str
    camera_info_topic: Optional[str]
    K: Optional[np.ndarray]
    size: Optional[Tuple[int, int]]
    frames: int


_READ_ERRORS: Tuple[type, ...] = (sqlite3.DatabaseError, struct.error, EOFError, OSError, KeyError, ValueError,
                                  IndexError, AssertionError)


def _read_errors() -> Tuple[type, ...]:
    return (AnyReaderError, ReaderError, SerdeError) + _READ_ERRORS


def _reader(path: Path) -> "AnyReader":
    if AnyReader is None:
        raise InputError(f"{path}: reading ROS 2 bags needs the `bags` extra (pip install 'hfl_ros[bags]': rosbags)")
    return AnyReader([path], default_typestore=get_typestore(Stores(DEFAULT_TYPESTORE)))


def _topics_of(reader: "AnyReader", types: Tuple[str, ...]) -> List[str]:
    return sorted({connection.topic for connection in reader.connections if connection.msgtype in types})


def _choose_image_topic(reader: "AnyReader", path: Path, wanted: Optional[str]) -> Tuple[str, str]:
    images = _topics_of(reader, IMAGE_TYPES)
    if wanted is not None:
        types = {c.msgtype for c in reader.connections if c.topic == wanted}
        if not types:
            raise InputError(f"{path}: no topic {wanted!r} in the bag (image topics: {images or 'none'})")
        if not types & set(IMAGE_TYPES):
            raise InputError(f"{path}: topic {wanted!r} holds {', '.join(sorted(types))}, not images "
                             f"(image topics: {images or 'none'})")
        return wanted, sorted(types & set(IMAGE_TYPES))[0]
    if not images:
        topics = sorted({c.topic for c in reader.connections})
        raise InputError(f"{path}: the bag has no image topic (sensor_msgs Image or CompressedImage); "
                         f"its topics: {topics or 'none'}")
    if len(images) > 1:
        raise InputError(f"{path}: the bag has several image topics {images}: choose one (--image-topic)")
    topic = images[0]
    return topic, next(c.msgtype for c in reader.connections if c.topic == topic)


def _choose_camera_info_topic(reader: "AnyReader", path: Path, wanted: Optional[str], image_topic: str
                              ) -> Optional[str]:
    infos = _topics_of(reader, (CAMERA_INFO_TYPE,))
    if wanted is not None:
        types = {c.msgtype for c in reader.connections if c.topic == wanted}
        if not types:
            raise InputError(f"{path}: no topic {wanted!r} in the bag (camera_info topics: {infos or 'none'})")
        if CAMERA_INFO_TYPE not in types:
            raise InputError(f"{path}: topic {wanted!r} holds {', '.join(sorted(types))}, not {CAMERA_INFO_TYPE}")
        return wanted
    if len(infos) <= 1:
        return infos[0] if infos else None
    beside = image_topic.rsplit("/", 1)[0] + "/camera_info"
    if beside in infos:
        return beside
    raise InputError(f"{path}: the bag has several camera_info topics {infos} and none beside {image_topic!r}: "
                     "choose one (--camera-info-topic)")


def _camera_info(reader: "AnyReader", path: Path, topic: str) -> Tuple[np.ndarray, Tuple[int, int]]:
    """K and size of the topic's camera_info messages; they must all agree."""
    first: Optional[Tuple[np.ndarray, Tuple[int, int]]] = None
    connections = [c for c in reader.connections if c.topic == topic]
    for connection, _, rawdata in reader.messages(connections=connections):
        info: Any = reader.deserialize(rawdata, connection.msgtype)
        try:
            K = intrinsics_from_camera_info(info.k, info.p, "k")
        except IntrinsicsError as error:
            raise InputError(f"{path}: {topic}: {error}") from error
        size = (int(info.width), int(info.height))
        if first is None:
            first = (K, size)
        elif size != first[1] or not np.allclose(K, first[0]):
            raise InputError(f"{path}: {topic}: the camera_info changes within the bag (K {first[0].tolist()} "
                             f"for {first[1][0]}x{first[1][1]}, then K {K.tolist()} for {size[0]}x{size[1]})")
    if first is None:
        raise InputError(f"{path}: {topic}: the camera_info topic has no messages")
    return first


def open_bag(path: Path, topics: BagTopics = BagTopics()) -> BagCamera:
    """The image topic, camera_info and frame count of the bag at `path`. Raises InputError naming the bag
    and the topic (none, unknown or wrong type, disagreeing camera_info, unreadable or truncated bag)."""
    path = Path(path)
    try:
        with _reader(path) as reader:
            image_topic, image_type = _choose_image_topic(reader, path, topics.image)
            info_topic = _choose_camera_info_topic(reader, path, topics.camera_info, image_topic)
            K, size = _camera_info(reader, path, info_topic) if info_topic is not None else (None, None)
            count = sum(c.msgcount for c in reader.connections if c.topic == image_topic)
    except InputError:
        raise
    except _read_errors() as error:
        wanted = topics.image or "its image topic"
        raise InputError(f"{path}: cannot read the bag for {wanted}, truncated or damaged? "
                         f"({type(error).__name__}: {error})") from error
    if count == 0:
        raise InputError(f"{path}: {image_topic}: the image topic has no messages")
    return BagCamera(path, image_topic, image_type, info_topic, K, size, count)


def _decode(message: Any, image_type: str) -> np.ndarray:
    if image_type == COMPRESSED_IMAGE_TYPE:
        return compressed_to_rgb(message.data)
    return image_to_rgb(message.encoding, message.height, message.width, message.step, message.data)


def _stamp_ns(message: Any, recorded_ns: int) -> int:
    stamp = message.header.stamp
    header_ns = int(stamp.sec) * NANOSECONDS + int(stamp.nanosec)
    return header_ns if header_ns > 0 else int(recorded_ns)


def bag_frames(camera: BagCamera, first_index: int = 0, skip: int = 0) -> Generator[Frame, None, int]:
    """Yields the image topic's frames from position `skip` on (earlier ones are not decoded), indexed from
    `first_index + skip`, stamped by their headers (`Frame.stamp_ns` exact, `stamp` in s) with their
    frame_id; returns the topic's frame count. Raises InputError naming the bag and topic for an image that
    cannot be decoded, one whose size differs from the camera_info's, and a bag that ends early."""
    path, topic = camera.path, camera.image_topic
    position = 0
    try:
        with _reader(path) as reader:
            connections = [c for c in reader.connections if c.topic == topic]
            messages: Iterator = reader.messages(connections=connections)
            for connection, recorded_ns, rawdata in messages:
                if position < skip:
                    position += 1
                    continue
                message: Any = reader.deserialize(rawdata, connection.msgtype)
                try:
                    image = _decode(message, camera.image_type)
                except ImageConversionError as error:
                    raise InputError(f"{path}: {topic} message {position}: {error}") from error
                height, width = image.shape[:2]
                if camera.size is not None and (width, height) != camera.size:
                    raise InputError(f"{path}: {camera.camera_info_topic} is for {camera.size[0]}x{camera.size[1]} "
                                     f"images but {topic} message {position} is {width}x{height}")
                stamp_ns = _stamp_ns(message, recorded_ns)
                yield Frame(first_index + position, str(path), stamp_ns / NANOSECONDS, image,
                            frame_id=str(message.header.frame_id), stamp_ns=stamp_ns)
                position += 1
    except InputError:
        raise
    except _read_errors() as error:
        raise InputError(f"{path}: {topic}: cannot read the bag after message {position} "
                         f"({type(error).__name__}: {error})") from error
    if position < camera.frames:
        raise InputError(f"{path}: {topic}: the bag ends after {position} of its {camera.frames} images "
                         "(truncated?)")
    return position



def write_image_bag(path: Path, images: List[np.ndarray], stamps_ns: List[int], K: Optional[np.ndarray] = None,
                    storage: str = "mcap", image_format: str = "raw", image_topic: str = "/camera/image_raw",
                    camera_info_topic: Optional[str] = "/camera/camera_info", frame_id: str = "camera_optical_frame",
                    camera_info_size: Optional[Tuple[int, int]] = None) -> Path:
    """Write a rosbag2 folder at `path` (which must not exist) with one camera: images (H, W, 3) uint8 RGB,
    stamped `stamps_ns` (header and bag time), as rgb8 Images (image_format "raw") or PNG / JPEG
    CompressedImages ("png", "jpeg"), and a camera_info with intrinsics K (3, 3) px for each image (none when
    K or camera_info_topic is None; camera_info_size (W, H) overrides the images' size). storage: "mcap" or
    "sqlite3". For tests, benchmarks and converting recordings; returns `path`."""
    if AnyReader is None:
        raise InputError(f"{path}: writing ROS 2 bags needs the `bags` extra (pip install 'hfl_ros[bags]')")
    from rosbags.rosbag2 import StoragePlugin, Writer

    from hfl_ros.inference.image_messages import encode_rgb

    if len(images) != len(stamps_ns) or not images:
        raise ValueError(f"need one stamp per image and at least one image, got {len(images)} images and "
                         f"{len(stamps_ns)} stamps")
    if image_format not in ("raw", "png", "jpeg"):
        raise ValueError(f"image_format must be raw, png or jpeg, got {image_format!r}")
    plugins = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ValueError(f"storage must be one of {sorted(plugins)}, got {storage!r}")
    store = get_typestore(Stores(DEFAULT_TYPESTORE))
    types = store.types
    image_type = RAW_IMAGE_TYPE if image_format == "raw" else COMPRESSED_IMAGE_TYPE
    with Writer(Path(path), version=Writer.VERSION_LATEST, storage_plugin=plugins[storage]) as writer:
        image_connection = writer.add_connection(image_topic, image_type, typestore=store)
        info_connection = None
        if K is not None and camera_info_topic is not None:
            info_connection = writer.add_connection(camera_info_topic, CAMERA_INFO_TYPE, typestore=store)
        for image, stamp_ns in zip(images, stamps_ns):
            height, width = image.shape[:2]
            sec, nanosec = divmod(int(stamp_ns), NANOSECONDS)
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id)
            if image_format == "raw":
                message = types[RAW_IMAGE_TYPE](header=header, height=height, width=width, encoding="rgb8",
                                                is_bigendian=0, step=width * 3,
                                                data=np.ascontiguousarray(image, dtype=np.uint8).reshape(-1))
            else:
                message = types[COMPRESSED_IMAGE_TYPE](header=header, format=image_format, data=np.frombuffer(
                    encode_rgb(image, image_format), dtype=np.uint8))
            writer.write(image_connection, int(stamp_ns), store.serialize_cdr(message, image_type))
            if info_connection is not None:
                info_width, info_height = camera_info_size or (width, height)
                projection = np.zeros((3, 4))
                projection[:, :3] = K
                info = types[CAMERA_INFO_TYPE](
                    header=header, height=info_height, width=info_width, distortion_model="plumb_bob",
                    d=np.zeros(5), k=np.asarray(K, dtype=np.float64).reshape(-1), r=np.eye(3).reshape(-1),
                    p=projection.reshape(-1), binning_x=0, binning_y=0,
                    roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                                  do_rectify=False))
                writer.write(info_connection, int(stamp_ns), store.serialize_cdr(info, CAMERA_INFO_TYPE))
    return Path(path)


def bags_intrinsics(files: List[Path], topics: BagTopics = BagTopics()
                    ) -> Optional[Tuple[np.ndarray, Tuple[int, int], str]]:
    """The intrinsics the bags among `files` give a run: (K (3, 3) px, size (W, H) px, description naming the
    bag and topic) of the first bag with a camera_info; None when no bag has one. Raises InputError when two
    bags' camera_info disagree (a run has one camera: process such bags in separate runs, or with --ray)."""
    found: Optional[Tuple[np.ndarray, Tuple[int, int], str]] = None
    for path in files:
        if not is_bag(Path(path)):
            continue
        camera = open_bag(Path(path), topics)
        if camera.K is None:
            continue
        where = f"{camera.path} {camera.camera_info_topic}"
        if found is None:
            found = (camera.K, camera.size, where)
        elif camera.size != found[1] or not np.allclose(camera.K, found[0]):
            raise InputError(f"{where} (K {camera.K.tolist()}, {camera.size[0]}x{camera.size[1]}) disagrees with "
                             f"{found[2]} (K {found[0].tolist()}, {found[1][0]}x{found[1][1]}): one run has one "
                             "camera; process these bags in separate runs (or with --ray)")
    return found
