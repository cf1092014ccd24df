"""HO3D (v2 and v3) reader: the dataset's own folders and files -> FrameAnnotations.

Layout (facts of the published dataset)::

    <root>/train.txt, <root>/evaluation.txt        lines "<sequence>/<frame id>"
    <root>/<split>/<sequence>/rgb/<id>.png (v2) | .jpg (v3)
    <root>/<split>/<sequence>/meta/<id>.pkl          per-frame annotation dict
    <root>/<split>/<sequence>/seg/<id>.jpg (v2) | .png (v3)   hand in blue, object in green

Meta keys read: camMat (3, 3); handPose (48,) MANO axis-angle, flat-hand mean (full articulation);
handBeta (10,); handJoints3D (21, 3) in MANO order [16 joints, 5 tips] (train) or (3,) the wrist only
(evaluation); objName; objRot (3,) axis-angle; objTrans (3,); handBoundingBox (4,) px (evaluation).
3D values are in the OpenGL camera frame (y up, z backwards); they are converted to OpenCV here.
Frames whose values are missing (None) get no target of that kind.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from hfl_ros.constants import MANO_TO_OUTPUT_JOINTS, NUM_JOINTS
from hfl_ros.data.sample import FrameAnnotation, MaskRef
from hfl_ros.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hfl_ros.objects import ObjectRegistry
from hfl_ros.restricted_pickle import load_restricted

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]
SPLITS = ("train", "evaluation")
#: OpenGL camera frame -> OpenCV camera frame (negate y and z).
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])
#: Image size of every HO3D frame, (W, H) px.
HO3D_IMAGE_SIZE = (640, 480)
#: RGB channel of the segmentation image holding each class.
SEG_HAND_CHANNEL = 2
SEG_OBJECT_CHANNEL = 1
#: File suffixes of (rgb, seg) per dataset version.
VERSION_SUFFIXES = {"v2": (".png", ".jpg"), "v3": (".jpg", ".png")}


def read_split(root: PathLike, split: str) -> List[Tuple[str, str]]:
    """(sequence, frame id) pairs listed in `<root>/<split>.txt`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(root) / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"HO3D split file not found: {path}")
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split("/")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{path}:{number}: expected '<sequence>/<id>', got {line!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def opengl_to_opencv_rotation(axis_angle: Any) -> np.ndarray:
    """(3, 3) OpenCV camera-frame rotation of an OpenGL-frame axis-angle (3,) or (3, 1) rad."""
    matrix = axis_angle_to_matrix(torch.as_tensor(axis_angle, dtype=torch.float64).reshape(3)).numpy()
    return OPENGL_TO_OPENCV @ matrix


def _array(meta: Dict[str, Any], key: str) -> Optional[np.ndarray]:
    value = meta.get(key)
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    return array if np.all(np.isfinite(array)) else None


def annotation_from_meta(
    meta: Dict[str, Any],
    frame_id: str,
    image_path: str,
    seg_path: Optional[str],
    objects: ObjectRegistry,
) -> FrameAnnotation:
    """Convert one HO3D meta dict (OpenGL frame, MANO joint order) into a FrameAnnotation (OpenCV, JOINT_NAMES order)."""
    K = _array(meta, "camMat")
    if K is None or K.shape != (3, 3):
        raise ValueError(f"{frame_id}: camMat missing or not (3, 3)")
    joints = _array(meta, "handJoints3D")
    joints_3d = root_3d = None
    if joints is not None and joints.shape == (NUM_JOINTS, 3):
        joints_3d = (joints @ OPENGL_TO_OPENCV.T)[list(MANO_TO_OUTPUT_JOINTS)]
    elif joints is not None and joints.size == 3:
        root_3d = OPENGL_TO_OPENCV @ joints.reshape(3)
    pose = _array(meta, "handPose")
    betas = _array(meta, "handBeta")
    if pose is not None and betas is not None and pose.shape == (48,) and betas.shape == (10,):
        pose = pose.copy()
        global_rotation = opengl_to_opencv_rotation(pose[:3])
        pose[:3] = matrix_to_axis_angle(torch.from_numpy(global_rotation)).numpy()
    else:
        pose = betas = None

    name = meta.get("objName")
    name = name.decode("latin1") if isinstance(name, bytes) else name
    model = objects.find(name)
    rotation_vector, translation = _array(meta, "objRot"), _array(meta, "objTrans")
    rotation = None
    if model is not None and rotation_vector is not None and translation is not None:
        rotation = opengl_to_opencv_rotation(rotation_vector)
        translation = OPENGL_TO_OPENCV @ translation.reshape(3)
    else:
        translation = None
    box = _array(meta, "handBoundingBox")
    box = box.reshape(4) if box is not None and box.size == 4 else None

    return FrameAnnotation(
        frame_id=frame_id,
        image=image_path,
        K=K,
        image_size=HO3D_IMAGE_SIZE,
        side="right",
        joints_3d=joints_3d,
        root_3d=root_3d,
        mano_pose=pose,
        mano_shape=betas,
        object_name=name,
        object_rotation=rotation,
        object_translation=translation,
        object_control_points=None if rotation is None else model.control_points,
        object_diameter=None if model is None else model.diameter,
        hand_box=box,
        hand_mask=None if seg_path is None else MaskRef(seg_path, "color_channel", SEG_HAND_CHANNEL),
        object_mask=None if seg_path is None else MaskRef(seg_path, "color_channel", SEG_OBJECT_CHANNEL),
    )


class HO3DReader(Sequence):
    """FrameAnnotations of one HO3D split, in split-file order.

    root: the dataset folder (holding train/, evaluation/ and the split files).
    split: "train" or "evaluation".
    models_dir: YCB-Video models folder (`<name>/textured_simple.obj` or `points.xyz`); default
        `<root>/models` when it exists. Without models, frames carry no object targets.
    version: "v2" or "v3"; None = detected from the first frame's image suffix.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        models_dir: Optional[PathLike] = None,
        version: Optional[str] = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.frames = read_split(self.root, split)
        if models_dir is None and (self.root / "models").is_dir():
            models_dir = self.root / "models"
        if models_dir is None:
            LOGGER.warning("HO3D %s: no object models folder; frames get no object targets", split)
        self.objects = ObjectRegistry.from_models_dir(models_dir)
        self.version = version or self._detect_version()
        if self.version not in VERSION_SUFFIXES:
            raise ValueError(f"version must be one of {tuple(VERSION_SUFFIXES)}, got {self.version!r}")

    def _detect_version(self) -> str:
        if not self.frames:
            return "v2"
        sequence, frame = self.frames[0]
        rgb = self.root / self.split / sequence / "rgb"
        for version, (suffix, _) in VERSION_SUFFIXES.items():
            if (rgb / f"{frame}{suffix}").is_file():
                return version
        raise FileNotFoundError(f"no image for {sequence}/{frame} in {rgb} (tried .png and .jpg)")

    def __len__(self) -> int:
        return len(self.frames)

    def frame_paths(self, index: int) -> Dict[str, Path]:
        """Paths of frame `index`: "rgb", "meta", "seg" (the seg file may not exist)."""
        sequence, frame = self.frames[index]
        folder = self.root / self.split / sequence
        rgb_suffix, seg_suffix = VERSION_SUFFIXES[self.version]
        return {
            "rgb": folder / "rgb" / f"{frame}{rgb_suffix}",
            "meta": folder / "meta" / f"{frame}.pkl",
            "seg": folder / "seg" / f"{frame}{seg_suffix}",
        }

    def __getitem__(self, index: int) -> FrameAnnotation:
        if isinstance(index, slice):
            raise TypeError("HO3DReader does not support slicing; index frames one at a time")
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} out of range for {len(self)} frames")
        index %= len(self)
        paths = self.frame_paths(index)
        meta = load_restricted(paths["meta"])
        if not isinstance(meta, dict):
            raise ValueError(f"{paths['meta']}: expected a dict, got {type(meta).__name__}")
        sequence, frame = self.frames[index]
        return annotation_from_meta(
            meta,
            frame_id=f"{self.split}/{sequence}/{frame}",
            image_path=str(paths["rgb"]),
            seg_path=str(paths["seg"]) if paths["seg"].is_file() else None,
            objects=self.objects,
        )
