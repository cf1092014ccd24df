"""Frames from files for `hfl-video`: videos, images, folders and globs, streamed; and their intrinsics.

Inputs, in the order given: a video file (read frame by frame with OpenCV, never whole), an image file, a
folder (its images, sorted by name), a glob pattern of images (sorted), or a ROS 2 bag (a rosbag2 folder, a
`.db3` or `.mcap` file: `hfl_ros.inference.bags`, the `bags` extra). Frames are numbered across all inputs
from 0. A frame's stamp is the video's own timestamp (s) when it has one, else index / fps; a bag's frames
carry their image headers' stamps and frame_id.

Intrinsics: a ROS camera_info YAML (`image_width`, `image_height`, `camera_matrix: {data: [9 values]}`, as
written by camera_calibration), explicit fx, fy, cx, cy, or the default: a pinhole with a
DEFAULT_HORIZONTAL_FOV_DEG horizontal field of view and the principal point at the image centre (a guess
for an unknown camera: hand depths and object translations scale with the true focal length).
Every error names the file and what is wrong with it.
"""

import glob
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import yaml

if TYPE_CHECKING:
    from hfl_ros.inference.bags import BagTopics

PathLike = Union[str, Path]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Single-file ROS 2 bags (sqlite3, MCAP); a rosbag2 folder is recognised by its metadata.yaml.
BAG_SUFFIXES = (".db3", ".mcap")
BAG_METADATA = "metadata.yaml"
#: Horizontal field of view of the default intrinsics, degrees (a typical webcam).
DEFAULT_HORIZONTAL_FOV_DEG = 60.0


class InputError(ValueError):
    """An input that cannot be read as frames or intrinsics; the message names the file and the problem."""


@dataclass(frozen=True)
class Frame:
    """One frame: index (across all inputs), source (the file), stamp (s), image (H, W, 3) uint8 RGB;
    frame_id: the camera frame of a bag's image header ("" for files); stamp_ns: the header stamp, ns
    (exact; None for files)."""

    index: int
    source: str
    stamp: float
    image: np.ndarray
    frame_id: str = ""
    stamp_ns: Optional[int] = None


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def is_bag(path: Path) -> bool:
    """A rosbag2 folder (with metadata.yaml) or a .db3 / .mcap file."""
    path = Path(path)
    if path.is_dir():
        return (path / BAG_METADATA).is_file()
    return path.is_file() and path.suffix.lower() in BAG_SUFFIXES


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def expand_inputs(inputs: Sequence[PathLike]) -> List[Path]:
    """The files of the inputs (videos, images and bags), in order. Raises InputError naming an input that
    gives none."""
    if not inputs:
        raise InputError("no input given")
    files: List[Path] = []
    for item in inputs:
        path = Path(item)
        if is_bag(path):
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _is_image(p))
            if not found:
                raise InputError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        elif path.is_file():
            if not (is_video(path) or _is_image(path)):
                raise InputError(f"{path}: not a video ({', '.join(VIDEO_SUFFIXES)}), an image "
                                 f"({', '.join(IMAGE_SUFFIXES)}) or a bag ({', '.join(BAG_SUFFIXES)})")
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(item)) if _is_image(Path(p)) and Path(p).is_file())
            if not found:
                raise InputError(f"{item}: no such file or folder, and no image matches it as a pattern")
        files.extend(found)
    return files


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file. Raises InputError naming it when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InputError(f"{path}: cannot be read as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _video_frames(path: Path, first_index: int, offset: float, fps: float, skip: int):
    """Yields the frames of a video from position `skip` on; returns (frames in the video, its frame rate)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path}: cannot be opened as a video")
        video_fps = capture.get(cv2.CAP_PROP_FPS)
        rate = video_fps if np.isfinite(video_fps) and video_fps > 0 else fps
        position = 0
        while True:
            if position < skip:
                if not capture.grab():
                    break
                position += 1
                continue
            ok, image = capture.read()
            if not ok or image is None:
                break
            yield Frame(first_index + position, str(path), offset + position / rate,
                        cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            position += 1
        if position == 0:
            raise InputError(f"{path}: the video has no readable frames")
        return position, rate
    finally:
        capture.release()


def iterate_frames(files: Sequence[Path], fps: float = 30.0, start: int = 0,
                   bag_topics: Optional["BagTopics"] = None) -> Iterator[Frame]:
    """Frames of `files` in order, streamed, from frame index `start` on (earlier video and bag frames are
    skipped without decoding them into images). Image i is stamped i / fps after the previous input; a video's
    frames by their position / the video's frame rate (fps when it has none), after the previous input; a
    bag's frames by their headers. bag_topics: the image and camera_info topics of bags (None: chosen)."""
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number, got {fps}")
    index, offset = 0, 0.0
    for path in files:
        if is_bag(path):
            from hfl_ros.inference.bags import BagTopics, bag_frames, open_bag
            camera = open_bag(path, bag_topics or BagTopics())
            if index + camera.frames <= start:
                count = camera.frames
            else:
                count = yield from bag_frames(camera, index, max(start - index, 0))
            index, offset = index + count, offset + count / fps
        elif is_video(path):
            count, rate = yield from _video_frames(path, index, offset, fps, max(start - index, 0))
            index, offset = index + count, offset + count / rate
        else:
            if index >= start:
                yield Frame(index, str(path), offset, read_image(path))
            index, offset = index + 1, offset + 1.0 / fps


def default_intrinsics(width: int, height: int) -> np.ndarray:
    """(3, 3) px: DEFAULT_HORIZONTAL_FOV_DEG horizontal field of view, square pixels, centred principal point."""
    focal = width / (2.0 * math.tan(math.radians(DEFAULT_HORIZONTAL_FOV_DEG) / 2))
    return np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])


def explicit_intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(3, 3) px from fx, fy, cx, cy. Raises InputError for non-finite or non-positive focal lengths."""
    values = np.array([fx, fy, cx, cy], dtype=np.float64)
    if not np.all(np.isfinite(values)) or fx <= 0 or fy <= 0:
        raise InputError(f"intrinsics need finite fx, fy > 0 and finite cx, cy, got fx={fx} fy={fy} cx={cx} cy={cy}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def read_camera_info_yaml(path: PathLike) -> Tuple[np.ndarray, Tuple[int, int]]:
    """K (3, 3) px and the image size (W, H) px of a ROS camera_info YAML file. Raises InputError naming it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: cannot read the camera_info file ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: a camera_info YAML needs image_width, image_height and camera_matrix")
    try:
        width, height = int(data["image_width"]), int(data["image_height"])
        matrix = data["camera_matrix"]
        values = np.asarray(matrix["data"] if isinstance(matrix, dict) else matrix, dtype=np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path}: a camera_info YAML needs image_width, image_height and camera_matrix.data "
                         f"(9 numbers): {error!r}") from error
    if not np.all(np.isfinite(values)) or values[0, 0] <= 0 or values[1, 1] <= 0 or width < 1 or height < 1:
        raise InputError(f"{path}: camera_matrix must be finite with fx, fy > 0 and the size positive")
    return values, (width, height)


def check_intrinsics(K: np.ndarray, size: Tuple[int, int], expected: Optional[Tuple[int, int]], where: str,
                     frame: str) -> None:
    """Raise InputError when intrinsics for `expected` (W, H) (None = unknown) do not fit a frame of `size`
    (W, H), or their principal point lies outside it. `where` names the intrinsics, `frame` the frame's file."""
    width, height = size
    if expected is not None and tuple(expected) != (width, height):
        raise InputError(f"{where} is for {expected[0]}x{expected[1]} images but {frame} is {width}x{height}")
    cx, cy = K[0, 2], K[1, 2]
    if not (0 <= cx <= width and 0 <= cy <= height):
        raise InputError(f"{where}: principal point ({cx:g}, {cy:g}) lies outside the {width}x{height} frame "
                         f"of {frame}")
