"""What a reader yields for one image (`FrameAnnotation`) and what the network trains on (`Sample`).

Frames: "camera" is the OpenCV optical frame (x right, y down, z forward), metres. Pixels follow the
OpenCV convention (integer coordinates are pixel centres). MANO poses are (48,) axis-angle radians:
3 global + 45 articulation in the flat-hand-mean convention (the rotations a flat_hand_mean MANO
layer takes: the dataset's mean pose, where it has one, is already added in).

A reader that mirrors a left hand to a right hand stores every geometric field already mirrored
and sets `mirrored`; the pixels (image and masks) are flipped when loaded (`load_image`, `load_mask`).
"""

from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from hfl_ros.constants import CROP_SIZE, NUM_CONTROL_POINTS, NUM_JOINTS, NUM_MANO_VERTICES, ROI_SIZE, SIDES
from hfl_ros.data.io import read_rgb, read_unchanged

MASK_KINDS = ("label_image", "npz_label", "color_channel")


@dataclass(frozen=True)
class MaskRef:
    """A mask stored in a file, read on demand.

    kind "label_image": single-channel image, mask = pixels equal to `value`.
    kind "npz_label": array `key` of an .npz file, mask = entries equal to `value`.
    kind "color_channel": colour image, mask = RGB channel `value` above 127.
    """

    path: str
    kind: str
    value: int
    key: str = "seg"

    def __post_init__(self) -> None:
        if self.kind not in MASK_KINDS:
            raise ValueError(f"MaskRef.kind must be one of {MASK_KINDS}, got {self.kind!r}")


MaskSource = Union[np.ndarray, MaskRef]


def _as_array(name: str, value: Any, shape: Tuple[int, ...]) -> Optional[np.ndarray]:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite entries: {array}")
    return array


@dataclass
class FrameAnnotation:
    """Ground truth of one full image, as a dataset reader yields it.

    frame_id: a unique name of the frame (e.g. "train/ABF10/0000").
    image: path of the colour file, or (H, W, 3) uint8 RGB (not flipped for `mirrored`).
    K: (3, 3) px intrinsics of the image (already mirrored when `mirrored`).
    image_size: (W, H) px.
    side: the hand as captured, "right" or "left"; mirrored: geometry mirrored left -> right.
    joints_3d: (21, 3) m camera frame, JOINT_NAMES order. joints_2d: (21, 2) px image (dataset
        annotation; None = projection of joints_3d with K).
    root_3d: (3,) m camera frame, the wrist; None = joints_3d[0]. With a wrist-centred MANO layer this
        is the hand's translation: camera mesh = layer(mano_pose, mano_shape) + root_3d.
    mano_pose: (48,) axis-angle rad, flat-hand-mean convention, camera frame global rotation.
    mano_shape: (10,) betas. vertices_3d: (778, 3) m camera frame, when known.
    object_name: model name (e.g. "006_mustard_bottle"); object_rotation (3, 3) camera-from-object,
        object_translation (3,) m camera frame; object_control_points (21, 3) m object frame
        (CONTROL_POINT_LAYOUT order; mirrored with the frame); object_diameter m.
    hand_box: (4,) px [x1, y1, x2, y2] given by the dataset (HO3D evaluation frames).
    hand_mask, object_mask: (H, W) bool arrays or `MaskRef`s (not flipped for `mirrored`).
    """

    frame_id: str
    image: Union[str, np.ndarray]
    K: np.ndarray
    image_size: Tuple[int, int]
    side: str = "right"
    mirrored: bool = False
    joints_3d: Optional[np.ndarray] = None
    joints_2d: Optional[np.ndarray] = None
    root_3d: Optional[np.ndarray] = None
    mano_pose: Optional[np.ndarray] = None
    mano_shape: Optional[np.ndarray] = None
    vertices_3d: Optional[np.ndarray] = None
    object_name: Optional[str] = None
    object_rotation: Optional[np.ndarray] = None
    object_translation: Optional[np.ndarray] = None
    object_control_points: Optional[np.ndarray] = None
    object_diameter: Optional[float] = None
    hand_box: Optional[np.ndarray] = None
    hand_mask: Optional[MaskSource] = None
    object_mask: Optional[MaskSource] = None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {self.side!r}")
        width, height = (int(v) for v in self.image_size)
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size must be positive (W, H), got {self.image_size}")
        self.image_size = (width, height)
        if isinstance(self.image, np.ndarray):
            if self.image.shape != (height, width, 3) or self.image.dtype != np.uint8:
                raise ValueError(
                    f"image must be ({height}, {width}, 3) uint8, got {self.image.shape} {self.image.dtype}"
                )
        elif not isinstance(self.image, str):
            raise TypeError(f"image must be a path string or an array, got {type(self.image).__name__}")
        self.K = _as_array("K", self.K, (3, 3))
        self.joints_3d = _as_array("joints_3d", self.joints_3d, (NUM_JOINTS, 3))
        self.joints_2d = _as_array("joints_2d", self.joints_2d, (NUM_JOINTS, 2))
        self.root_3d = _as_array("root_3d", self.root_3d, (3,))
        self.mano_pose = _as_array("mano_pose", self.mano_pose, (48,))
        self.mano_shape = _as_array("mano_shape", self.mano_shape, (10,))
        self.vertices_3d = _as_array("vertices_3d", self.vertices_3d, (NUM_MANO_VERTICES, 3))
        self.object_rotation = _as_array("object_rotation", self.object_rotation, (3, 3))
        self.object_translation = _as_array("object_translation", self.object_translation, (3,))
        self.object_control_points = _as_array(
            "object_control_points", self.object_control_points, (NUM_CONTROL_POINTS, 3)
        )
        self.hand_box = _as_array("hand_box", self.hand_box, (4,))
        for name in ("hand_mask", "object_mask"):
            mask = getattr(self, name)
            if isinstance(mask, np.ndarray) and mask.shape != (height, width):
                raise ValueError(f"{name} must have shape ({height}, {width}), got {mask.shape}")

    @property
    def wrist(self) -> Optional[np.ndarray]:
        """(3,) m camera frame: root_3d, else joints_3d[0], else None."""
        if self.root_3d is not None:
            return self.root_3d
        return None if self.joints_3d is None else self.joints_3d[0]

    @property
    def has_object_pose(self) -> bool:
        return (
            self.object_rotation is not None
            and self.object_translation is not None
            and self.object_control_points is not None
        )


def load_image(annotation: FrameAnnotation) -> np.ndarray:
    """The frame's pixels: (H, W, 3) uint8 RGB, flipped left-right when the frame is mirrored."""
    image = annotation.image if isinstance(annotation.image, np.ndarray) else read_rgb(annotation.image)
    width, height = annotation.image_size
    if image.shape[:2] != (height, width):
        raise ValueError(f"{annotation.frame_id}: image is {image.shape[:2]}, annotation says ({height}, {width})")
    return np.ascontiguousarray(image[:, ::-1]) if annotation.mirrored else image


def load_mask(source: Optional[MaskSource], image_size: Tuple[int, int], mirrored: bool = False) -> Optional[np.ndarray]:
    """Resolve a mask to (H, W) bool at image_size (W, H); nearest-resized if stored smaller; flipped if mirrored."""
    if source is None:
        return None
    if isinstance(source, np.ndarray):
        mask = source.astype(bool)
    elif source.kind == "npz_label":
        with np.load(source.path) as archive:
            mask = archive[source.key] == source.value
    elif source.kind == "label_image":
        labels = read_unchanged(source.path)
        if labels.ndim == 3:
            labels = labels[..., 0]
        mask = labels == source.value
    else:
        colours = read_rgb(source.path)
        mask = colours[..., source.value] > 127
    width, height = image_size
    if mask.shape != (height, width):
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return np.ascontiguousarray(mask[:, ::-1]) if mirrored else mask


@dataclass
class Sample:
    """One network-ready training/evaluation example (numpy, float32 unless stated).

    image: (3, 256, 256) [0, 1] RGB crop.
    hand_box, object_box: (4,) crop px [x1, y1, x2, y2] (network boxes).
    joints_2d: (21, 2) normalised [0, 1] in hand_box. object_points_2d: (21, 2) normalised in object_box.
    joints_3d: (21, 3) m root-relative, crop camera frame. vertices_3d: (778, 3) m root-relative.
    mano_pose: (48,) axis-angle rad (flat-hand mean, crop camera frame global). mano_shape: (10,).
    object_mask: (32, 32) {0, 1}, the object mask ROI-aligned to object_box (cell centres).
    K_crop: (3, 3) px intrinsics of the crop. root_3d: (3,) m, wrist, crop camera frame.
    crop_affine: (2, 3) original image px -> crop px (includes any augmentation rotation).
    object_rotation: (3, 3) crop-camera-from-object; object_translation: (3,) m crop camera frame.
    object_control_points: (21, 3) m object frame. object_diameter: m (0 when unknown).
    *_valid: which targets exist; invalid targets are zero-filled so that batches stack.
    The crop camera frame is the original camera frame rotated about its optical axis by the
    augmentation's in-plane rotation (identity without augmentation).
    """

    image: np.ndarray
    hand_box: np.ndarray
    object_box: np.ndarray
    joints_2d: np.ndarray
    joints_3d: np.ndarray
    vertices_3d: np.ndarray
    mano_pose: np.ndarray
    mano_shape: np.ndarray
    object_points_2d: np.ndarray
    object_mask: np.ndarray
    K_crop: np.ndarray
    root_3d: np.ndarray
    crop_affine: np.ndarray
    object_rotation: np.ndarray
    object_translation: np.ndarray
    object_control_points: np.ndarray
    object_diameter: float = 0.0
    joints_valid: bool = False
    root_valid: bool = False
    mano_valid: bool = False
    vertices_valid: bool = False
    object_valid: bool = False
    mask_valid: bool = False
    frame_id: str = ""
    object_name: str = ""
    mirrored: bool = False

    #: Expected shape of each array field.
    SHAPES = {
        "image": (3, CROP_SIZE, CROP_SIZE),
        "hand_box": (4,),
        "object_box": (4,),
        "joints_2d": (NUM_JOINTS, 2),
        "joints_3d": (NUM_JOINTS, 3),
        "vertices_3d": (NUM_MANO_VERTICES, 3),
        "mano_pose": (48,),
        "mano_shape": (10,),
        "object_points_2d": (NUM_CONTROL_POINTS, 2),
        "object_mask": (ROI_SIZE, ROI_SIZE),
        "K_crop": (3, 3),
        "root_3d": (3,),
        "crop_affine": (2, 3),
        "object_rotation": (3, 3),
        "object_translation": (3,),
        "object_control_points": (NUM_CONTROL_POINTS, 3),
    }

    def __post_init__(self) -> None:
        for name, shape in self.SHAPES.items():
            array = np.asarray(getattr(self, name), dtype=np.float32)
            if array.shape != shape:
                raise ValueError(f"Sample.{name} must have shape {shape}, got {array.shape}")
            setattr(self, name, array)
        self.object_diameter = float(self.object_diameter)


def collate(samples: Sequence[Sample]) -> Dict[str, Any]:
    """Batch samples for a DataLoader: arrays -> stacked float32 tensors (B, ...), flags -> bool
    tensors (B,), object_diameter -> float32 (B,), strings -> lists of B strings."""
    if len(samples) == 0:
        raise ValueError("collate needs at least one sample")
    batch: Dict[str, Any] = {}
    for item in fields(Sample):
        values = [getattr(s, item.name) for s in samples]
        if item.name in Sample.SHAPES:
            batch[item.name] = torch.from_numpy(np.stack(values))
        elif isinstance(values[0], bool):
            batch[item.name] = torch.tensor(values, dtype=torch.bool)
        elif isinstance(values[0], float):
            batch[item.name] = torch.tensor(values, dtype=torch.float32)
        else:
            batch[item.name] = list(values)
    return batch


def batch_to(batch: Dict[str, Any], device: Union[str, torch.device]) -> Dict[str, Any]:
    """Move every tensor of a collated batch to `device` (non-blocking); other entries are kept."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


__all__: List[str] = [
    "FrameAnnotation",
    "MaskRef",
    "MaskSource",
    "Sample",
    "batch_to",
    "collate",
    "load_image",
    "load_mask",
]
