"""`hfl-video --lerobot`: the run as a LeRobot v3.0 dataset (the `lerobot` extra: LeRobot's own dataset code,
`lerobot-dataset` 0.4.4, writes it; nothing here imitates the format).

One episode per input (a video, a bag, an image folder or glob), frames in order; the dataset's fps is the
inputs' frame rate (an integer: LeRobot's `timestamp` is frame_index / fps, so the true stamps are a feature
of their own). Per frame (float32 unless said; poses are camera-from-X, position m then unit quaternion
x, y, z, w, the camera's optical frame; joints in MediaPipe's landmark order, 21 x (x, y, z) m flattened):

- `observation.images.camera`: the input's frames (video feature, H x W x 3);
- `observation.stamp`: (2,) int64, the frame's stamp as ROS writes it: sec, nanosec (a bag's header stamp);
- `observation.valid`: (6,) bool, the validity masks (VALID_NAMES): right hand found, its values filtered
  (else raw: the filter off or restarting), left hand found, filtered, object pose found, filtered;
- per side S in right, left: `observation.hand.S.wrist_pose` (7,); `observation.hand.S.joints_wrist` (63,)
  wrist frame (for retargeting); `observation.hand.S.joints_camera` (63,) camera frame;
- `observation.object.pose` (7,): the first hand's object;
- LeRobot's own: `timestamp`, `frame_index` (the frame's position in its input = the trajectory's `frame`
  for a one-input run), `episode_index`, `index` (position in the dataset = the trajectory's `frame` over
  all inputs of one run), `task_index`.

Values are the filtered ones where the filter gave them (what the node's pose outputs carry), else the raw
estimate; invalid entries are zero. The dataset is written at the end of a run from trajectory.jsonl and the
inputs' frames (read again), so a resumed run rewrites it whole.
"""

import itertools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.constants import MEDIAPIPE_LANDMARK_NAMES, NUM_JOINTS
from hfl_ros.geometry.so3 import matrix_to_quaternion
from hfl_ros.inference.frames import Frame, InputError, expand_inputs, iterate_frames
from hfl_ros.retargeting import joints_in_wrist_frame, to_mediapipe_order

LOG = logging.getLogger(__name__)

LEROBOT_DIR = "lerobot"
SIDES = ("right", "left")
IMAGE_KEY = "observation.images.camera"
POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")
JOINT_COORDINATE_NAMES = tuple(f"{name.lower()}.{axis}" for name in MEDIAPIPE_LANDMARK_NAMES for axis in "xyz")
VALID_NAMES = ("right_hand", "right_hand_filtered", "left_hand", "left_hand_filtered", "object", "object_filtered")
NANOSECONDS = 1_000_000_000
POSE_SIZE = len(POSE_NAMES)
JOINTS_SIZE = NUM_JOINTS * 3

Record = Dict[str, Any]

if TYPE_CHECKING:
    from hfl_ros.inference.bags import BagTopics


@dataclass(frozen=True)
class LeRobotSettings:
    """repo_id: the dataset's name in its info (no upload happens); task: the task text of every frame;
    robot_type: LeRobot's robot_type field; vcodec: LeRobot's video codec (libsvtav1, h264 or hevc)."""

    repo_id: str = "hfl_ros/hand_object"
    task: str = "a human hand manipulates an object"
    robot_type: str = "human_hand"
    vcodec: str = "libsvtav1"


@dataclass(frozen=True)
class Episode:
    """One input: its name, its trajectory records and its frames (the same frames, in the same order)."""

    name: str
    records: Sequence[Record]
    frames: Iterable[Frame]


def lerobot_features(width: int, height: int) -> Dict[str, Dict[str, Any]]:
    """The dataset's features (LeRobot's feature dictionary) for width x height px frames."""
    features: Dict[str, Dict[str, Any]] = {
        IMAGE_KEY: {"dtype": "video", "shape": (height, width, 3), "names": ["height", "width", "channels"]},
        "observation.stamp": {"dtype": "int64", "shape": (2,), "names": ["sec", "nanosec"]},
        "observation.valid": {"dtype": "bool", "shape": (len(VALID_NAMES),), "names": list(VALID_NAMES)},
    }
    for side in SIDES:
        prefix = f"observation.hand.{side}"
        features[f"{prefix}.wrist_pose"] = {"dtype": "float32", "shape": (POSE_SIZE,), "names": list(POSE_NAMES)}
        for frame_name in ("wrist", "camera"):
            features[f"{prefix}.joints_{frame_name}"] = {"dtype": "float32", "shape": (JOINTS_SIZE,),
                                                         "names": list(JOINT_COORDINATE_NAMES)}
    features["observation.object.pose"] = {"dtype": "float32", "shape": (POSE_SIZE,), "names": list(POSE_NAMES)}
    return features


def pose_vector(pose: np.ndarray) -> np.ndarray:
    """(4, 4) camera-from-X -> (7,) position m, quaternion x, y, z, w."""
    pose = np.asarray(pose, dtype=np.float64)
    w, x, y, z = matrix_to_quaternion(pose[:3, :3])
    return np.array([*pose[:3, 3], x, y, z, w])


def _hands(record: Record) -> List[Record]:
    """The hands of a record, each with its object: `hands` where the record lists them, else its `hand`."""
    if record.get("hands") is not None:
        return list(record["hands"])
    if record.get("hand") is None:
        return []
    return [dict(record["hand"], object=record.get("object"))]


def _object_pose(obj: Optional[Record]) -> Tuple[Optional[np.ndarray], bool]:
    """(4, 4) pose of a record's object (filtered where given) and whether it is the filtered one."""
    if obj is None:
        return None, False
    if obj.get("filtered") is not None:
        return np.asarray(obj["filtered"]["pose"], dtype=np.float64), True
    if not obj.get("has_pose"):
        return None, False
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = obj["rotation"], obj["translation"]
    return pose, False


def frame_values(record: Record) -> Dict[str, np.ndarray]:
    """The per-frame features of one trajectory record (see the module docstring), images excepted."""
    stamp_ns = record.get("stamp_ns")
    stamp_ns = int(round(record["stamp"] * NANOSECONDS)) if stamp_ns is None else int(stamp_ns)
    values: Dict[str, np.ndarray] = {"observation.stamp": np.array(divmod(stamp_ns, NANOSECONDS), dtype=np.int64)}
    valid: List[bool] = []
    hands = {hand.get("side"): hand for hand in _hands(record)}
    for side in SIDES:
        prefix, hand = f"observation.hand.{side}", hands.get(side)
        wrist, joints_wrist, joints = np.zeros(POSE_SIZE), np.zeros(JOINTS_SIZE), np.zeros(JOINTS_SIZE)
        filtered = hand is not None and hand.get("filtered") is not None
        if hand is not None:
            source = hand["filtered"] if filtered else hand
            pose = np.asarray(source["wrist_pose"], dtype=np.float64)
            camera_joints = np.asarray(source["joints"], dtype=np.float64)
            wrist_joints = np.asarray(source["joints_wrist"]) if filtered else joints_in_wrist_frame(camera_joints, pose)
            wrist = pose_vector(pose)
            joints_wrist = to_mediapipe_order(wrist_joints).reshape(-1)
            joints = to_mediapipe_order(camera_joints).reshape(-1)
        valid += [hand is not None, filtered]
        values[f"{prefix}.wrist_pose"] = wrist.astype(np.float32)
        values[f"{prefix}.joints_wrist"] = joints_wrist.astype(np.float32)
        values[f"{prefix}.joints_camera"] = joints.astype(np.float32)
    first = _hands(record)[:1]
    pose, filtered = _object_pose(first[0].get("object") if first else None)
    values["observation.valid"] = np.array(valid + [pose is not None, filtered])
    values["observation.object.pose"] = (np.zeros(POSE_SIZE) if pose is None else pose_vector(pose)).astype(np.float32)
    return values


def episode_fps(records: Sequence[Record], where: str) -> int:
    """The integer frame rate of an episode: 1 / the median step between its stamps. Raises InputError
    naming `where` when it has no positive step (a single frame: 1)."""
    stamps = np.asarray([record["stamp"] for record in records], dtype=np.float64)
    if stamps.size < 2:
        return 1
    steps = np.diff(stamps)
    steps = steps[steps > 0]
    if steps.size == 0:
        raise InputError(f"{where}: the stamps never advance; a LeRobot dataset needs a frame rate")
    return max(int(round(1.0 / float(np.median(steps)))), 1)


def write_lerobot_dataset(root: Path, episodes: Sequence[Episode], settings: LeRobotSettings = LeRobotSettings()
                          ) -> Path:
    """Write `episodes` as a LeRobot v3.0 dataset at `root` (replaced when it exists); returns root.

    Every episode's frames must match its records one to one (same `frame` index) and all frames one
    size; the fps is the first episode's (the others must have the same). Raises InputError naming the
    input otherwise, and when the `lerobot` extra is missing.
    """
    try:
        from ledataset.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as error:
        raise InputError(f"--lerobot needs the `lerobot` extra (lerobot-dataset 0.4.4; see scripts/bootstrap.sh): "
                         f"{error}") from error
    episodes = [episode for episode in episodes if episode.records]
    if not episodes:
        raise InputError(f"{root}: no frames to write as a LeRobot dataset")
    fps = episode_fps(episodes[0].records, episodes[0].name)
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    dataset = None
    size = None
    try:
        for episode in episodes:
            rate = episode_fps(episode.records, episode.name)
            if rate != fps:
                raise InputError(f"{episode.name}: {rate} frames/s, but the dataset's first input has {fps}; a "
                                 "LeRobot dataset has one frame rate")
            count = 0
            for record, frame in zip(episode.records, episode.frames):
                if frame.index != record["frame"]:
                    raise InputError(f"{episode.name}: frame {frame.index} read again, but the trajectory's record "
                                     f"is frame {record['frame']}")
                height, width = frame.image.shape[:2]
                if dataset is None:
                    size = (width, height)
                    dataset = LeRobotDataset.create(settings.repo_id, fps, lerobot_features(width, height), root=root,
                                                    robot_type=settings.robot_type, use_videos=True,
                                                    vcodec=settings.vcodec)
                elif (width, height) != size:
                    raise InputError(f"{frame.source}: {width}x{height} frames, but the dataset's are "
                                     f"{size[0]}x{size[1]}; a LeRobot dataset has one image size")
                dataset.add_frame(dict(frame_values(record), **{IMAGE_KEY: frame.image, "task": settings.task}))
                count += 1
            if count != len(episode.records):
                raise InputError(f"{episode.name}: {count} frames read again for {len(episode.records)} records")
            dataset.save_episode()
            LOG.info("LeRobot episode %d: %s, %d frames", dataset.meta.total_episodes - 1, episode.name, count)
    finally:
        if dataset is not None:
            dataset.finalize()
    return root


def export_run(inputs: Sequence[str], records: Sequence[Record], root: Path, fps: float = 30.0,
               bag_topics: Optional["BagTopics"] = None, settings: LeRobotSettings = LeRobotSettings()) -> Path:
    """The LeRobot dataset of a finished hfl-video run: one episode per input of `inputs` (as given on the
    command line), its records those whose `source` is one of the input's files, its frames read again with
    the run's `fps` and `bag_topics`. Returns the dataset root."""
    frames = iterate_frames(expand_inputs(inputs), fps, bag_topics=bag_topics)
    episodes = []
    for item in inputs:
        sources = {str(path) for path in expand_inputs([item])}
        chosen = [record for record in records if record.get("source") in sources]
        episodes.append(Episode(str(item), chosen, itertools.islice(frames, len(chosen))))
    return write_lerobot_dataset(root, episodes, settings)
