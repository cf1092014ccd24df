"""FrameAnnotation -> Sample: HFL-Net's crop, optional augmentation, network targets.

Geometry of one sample (K = the frame's intrinsics, R_a = rotation by the augmentation angle a about
the camera's optical axis):

* the frame is first seen by a camera turned by R_a about its optical axis; its image is the original
  image warped by the homography K R_a K^-1 (an affine map: R_a keeps depth);
* the square crop (`camera.crop_box` of the hand and object boxes, centre moved by K R_a K^-1, then
  jittered and scaled) is warped to 256 x 256 by A_crop, a scale + translation, so K_crop = A_crop K
  is a plain intrinsic matrix;
* every 3D target (joints, vertices, wrist, MANO global rotation, object pose) is rotated by R_a, so
  projecting it with K_crop lands exactly where `crop_affine` = A_crop K R_a K^-1 moves its pixels.
"""

import dataclasses
import logging
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from hfl_ros.constants import CROP_SIZE, HAND_BOX_EXPANSION, NUM_CONTROL_POINTS, NUM_JOINTS, NUM_MANO_VERTICES, ROI_SIZE, WRIST
from hfl_ros.data.augment import AugmentConfig, AugmentParams, apply_photometric, draw_augmentation
from hfl_ros.data.sample import FrameAnnotation, Sample, load_image, load_mask
from hfl_ros.geometry import camera
from hfl_ros.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hfl_ros.objects import ObjectModel, ObjectRegistry

LOGGER = logging.getLogger(__name__)

#: Supersampling of the object-mask ROI before area-averaging it down to ROI_SIZE cells.
_MASK_SUPERSAMPLE = 4
#: Smallest side of a network box, crop px (keeps normalised coordinates finite).
_MIN_BOX_SIDE = 1.0


def rotation_about_optical_axis(angle: float) -> np.ndarray:
    """(3, 3) rotation by `angle` rad about the camera z axis (turns image x towards image y)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_homography(K: np.ndarray, angle: float) -> np.ndarray:
    """(3, 3) image map K R_z(angle) K^-1 of a camera turned about its optical axis; its last row is (0, 0, 1)."""
    return K @ rotation_about_optical_axis(angle) @ np.linalg.inv(K)


def _as_3x3(affine: np.ndarray) -> np.ndarray:
    return np.vstack((affine, (0.0, 0.0, 1.0)))


def _min_size(box: np.ndarray) -> np.ndarray:
    centre = (box[:2] + box[2:]) / 2
    half = np.maximum(box[2:] - box[:2], _MIN_BOX_SIDE) / 2
    return np.concatenate((centre - half, centre + half))


def _rotate_axis_angle(axis_angle: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(3,) rad axis-angle of `rotation` (3, 3) applied after the rotation `axis_angle` (3,) rad."""
    matrix = axis_angle_to_matrix(torch.as_tensor(axis_angle, dtype=torch.float64).reshape(3))
    return matrix_to_axis_angle(torch.as_tensor(rotation, dtype=torch.float64) @ matrix).numpy()


def _hand_points_2d(annotation: FrameAnnotation) -> Optional[np.ndarray]:
    if annotation.joints_2d is not None:
        return annotation.joints_2d
    if annotation.joints_3d is not None and np.all(annotation.joints_3d[:, 2] > 0):
        return camera.project_points(annotation.joints_3d, annotation.K)
    return None


def _object_points_camera(annotation: FrameAnnotation) -> Optional[np.ndarray]:
    if not annotation.has_object_pose:
        return None
    points = camera.transform_points(
        annotation.object_control_points, annotation.object_rotation, annotation.object_translation
    )
    return points if np.all(points[:, 2] > 0) else None


def _source_boxes(
    annotation: FrameAnnotation, joints_2d: Optional[np.ndarray], object_2d: Optional[np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Unexpanded hand and object boxes in the original image, for choosing the crop."""
    width, height = annotation.image_size
    hand = camera.points_box(joints_2d) if joints_2d is not None else annotation.hand_box
    obj = camera.points_box(object_2d) if object_2d is not None else None
    if hand is None and obj is None:
        whole = np.array([0.0, 0.0, width, height])
        return whole, whole
    return (hand if hand is not None else obj), (obj if obj is not None else hand)


def crop_transform(
    annotation: FrameAnnotation,
    params: AugmentParams,
    joints_2d: Optional[np.ndarray],
    object_2d: Optional[np.ndarray],
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The augmented crop of one frame.

    joints_2d: (21, 2) px image or None; object_2d: (21, 2) px image (projected control points) or None.
    Returns (crop_affine (2, 3) image px -> crop px, K_crop (3, 3), R_a (3, 3) crop-camera-from-camera).
    """
    hand_box, object_box = _source_boxes(annotation, joints_2d, object_2d)
    try:
        box = camera.crop_box(_min_size(hand_box), _min_size(object_box), annotation.image_size)
    except ValueError:
        LOGGER.debug("%s: hand and object boxes miss the image; cropping the whole image", annotation.frame_id)
        width, height = annotation.image_size
        box = np.array([0.0, 0.0, width, height])
    side = max(box[2] - box[0], box[3] - box[1])
    homography = rotation_homography(annotation.K, params.rotation)
    centre = camera.apply_affine((box[:2] + box[2:]) / 2, homography[:2])
    centre = centre + np.asarray(params.centre_shift, dtype=np.float64) * side
    half = side * params.scale / 2
    crop_only = camera.crop_affine(np.concatenate((centre - half, centre + half)), CROP_SIZE)
    full = (_as_3x3(crop_only) @ homography)[:2]
    K_crop = camera.affine_intrinsics(annotation.K, crop_only)
    return full, K_crop, rotation_about_optical_axis(params.rotation)


def _object_mask_roi(mask: np.ndarray, affine: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(32, 32) {0, 1}: cell (i, j) = 1 when at least half of it is mask. mask: (H, W) bool image;
    affine: image px -> crop px; box: (4,) crop px. Cell centres sit at box_xy1 + (k + 0.5) / 32 * size."""
    fine = ROI_SIZE * _MASK_SUPERSAMPLE
    scale = fine / (box[2:] - box[:2])
    to_roi = np.array([[scale[0], 0.0, -0.5 - scale[0] * box[0]], [0.0, scale[1], -0.5 - scale[1] * box[1]]])
    full = (_as_3x3(to_roi) @ _as_3x3(affine))[:2]
    warped = cv2.warpAffine(mask.astype(np.float32), full, (fine, fine), flags=cv2.INTER_LINEAR, borderValue=0.0)
    cells = cv2.resize(warped, (ROI_SIZE, ROI_SIZE), interpolation=cv2.INTER_AREA)
    return (cells >= 0.5).astype(np.float32)


def build_sample(
    annotation: FrameAnnotation,
    params: Optional[AugmentParams] = None,
    image: Optional[np.ndarray] = None,
) -> Sample:
    """Crop, augment and convert one frame into network targets.

    annotation: the frame; params: augmentation draw (None = identity, the evaluation crop);
    image: (H, W, 3) uint8 RGB pixels already loaded with `load_image` (else loaded here).
    A frame whose hand and object boxes both miss the image is cropped to the whole image.
    """
    if not isinstance(annotation, FrameAnnotation):
        raise TypeError(f"annotation must be a FrameAnnotation, got {type(annotation).__name__}")
    params = params or AugmentParams()
    pixels = load_image(annotation) if image is None else image
    width, height = annotation.image_size
    if pixels.shape != (height, width, 3):
        raise ValueError(f"image must be ({height}, {width}, 3), got {pixels.shape}")

    joints_image = _hand_points_2d(annotation)
    object_camera = _object_points_camera(annotation)
    object_image = None if object_camera is None else camera.project_points(object_camera, annotation.K)
    affine, K_crop, rotation = crop_transform(annotation, params, joints_image, object_image)

    crop = cv2.warpAffine(pixels, affine, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    crop = apply_photometric(crop.astype(np.float32) / 255.0, params)

    joints_valid = joints_image is not None and annotation.joints_3d is not None
    if joints_image is not None:
        joints_crop = camera.apply_affine(joints_image, affine)
        hand_box = camera.points_box(joints_crop, HAND_BOX_EXPANSION)
    elif annotation.hand_box is not None:
        hand_box = camera.expand_box(camera.affine_boxes(annotation.hand_box, affine), HAND_BOX_EXPANSION)
    else:
        hand_box = None

    object_valid = object_camera is not None
    if object_valid:
        object_crop = camera.project_points(object_camera @ rotation.T, K_crop)
        object_box = _min_size(camera.points_box(object_crop))
    if hand_box is None:
        hand_box = object_box if object_valid else np.array([0.0, 0.0, CROP_SIZE, CROP_SIZE])
    hand_box = _min_size(hand_box)
    if not object_valid:
        object_box = hand_box

    wrist = annotation.wrist
    root = np.zeros(3) if wrist is None else rotation @ wrist
    joints_3d = np.zeros((NUM_JOINTS, 3))
    joints_2d = np.zeros((NUM_JOINTS, 2))
    if joints_valid:
        joints_3d = (annotation.joints_3d - annotation.joints_3d[WRIST]) @ rotation.T
        joints_2d = camera.normalise_in_box(joints_crop, hand_box)
    vertices_valid = annotation.vertices_3d is not None and wrist is not None
    vertices = (annotation.vertices_3d - wrist) @ rotation.T if vertices_valid else np.zeros((NUM_MANO_VERTICES, 3))
    mano_valid = annotation.mano_pose is not None and annotation.mano_shape is not None
    mano_pose = np.zeros(48)
    if mano_valid:
        mano_pose = annotation.mano_pose.copy()
        mano_pose[:3] = _rotate_axis_angle(mano_pose[:3], rotation)

    mask_source = load_mask(annotation.object_mask, annotation.image_size, annotation.mirrored) if object_valid else None
    mask_valid = mask_source is not None
    object_mask = _object_mask_roi(mask_source, affine, object_box) if mask_valid else np.zeros((ROI_SIZE, ROI_SIZE))

    return Sample(
        image=np.ascontiguousarray(crop.transpose(2, 0, 1)),
        hand_box=hand_box,
        object_box=object_box,
        joints_2d=joints_2d,
        joints_3d=joints_3d,
        vertices_3d=vertices,
        mano_pose=mano_pose,
        mano_shape=annotation.mano_shape if mano_valid else np.zeros(10),
        object_points_2d=camera.normalise_in_box(object_crop, object_box) if object_valid else np.zeros((NUM_CONTROL_POINTS, 2)),
        object_mask=object_mask,
        K_crop=K_crop,
        root_3d=root,
        crop_affine=affine,
        object_rotation=rotation @ annotation.object_rotation if object_valid else np.eye(3),
        object_translation=rotation @ annotation.object_translation if object_valid else np.zeros(3),
        object_control_points=annotation.object_control_points if object_valid else np.zeros((NUM_CONTROL_POINTS, 3)),
        object_diameter=(annotation.object_diameter or 0.0) if object_valid else 0.0,
        joints_valid=joints_valid,
        root_valid=wrist is not None,
        mano_valid=mano_valid,
        vertices_valid=vertices_valid,
        object_valid=object_valid,
        mask_valid=mask_valid,
        frame_id=annotation.frame_id,
        object_name=annotation.object_name or "",
        mirrored=annotation.mirrored,
    )


def attach_mano_vertices(annotation: FrameAnnotation, mano_layer: Callable) -> FrameAnnotation:
    """A copy of `annotation` with vertices_3d from a wrist-centred right-hand MANO layer
    (`hfl_ros.mano.load_mano`), placed at the wrist. Returned unchanged when pose, shape or wrist is missing."""
    wrist = annotation.wrist
    if annotation.vertices_3d is not None or annotation.mano_pose is None or annotation.mano_shape is None or wrist is None:
        return annotation
    with torch.no_grad():
        output = mano_layer(
            torch.as_tensor(annotation.mano_pose, dtype=torch.float32)[None],
            torch.as_tensor(annotation.mano_shape, dtype=torch.float32)[None],
        )
    vertices = output.vertices[0].double().numpy() + wrist
    return dataclasses.replace(annotation, vertices_3d=vertices)


class AnnotationDataset(Dataset):
    """A torch Dataset of Samples over any sequence of FrameAnnotations (a dataset reader).

    frames: indexable FrameAnnotations; augment: ranges for training, None for the evaluation crop;
    seed: augmentation draws depend only on (seed, epoch, index), so runs and workers are reproducible;
    mano_layer: optional wrist-centred MANO layer used to add vertex targets where the reader has none;
    objects: the models the frames' object poses refer to (None = none known).
    Call `set_epoch(e)` before each epoch for fresh draws.
    """

    def __init__(
        self,
        frames: Sequence[FrameAnnotation],
        augment: Optional[AugmentConfig] = None,
        seed: int = 0,
        mano_layer: Optional[Callable] = None,
        objects: Optional[ObjectRegistry] = None,
    ) -> None:
        self.frames = frames
        self.objects = objects
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.mano_layer = mano_layer

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def object_model(self, name: str) -> Optional[ObjectModel]:
        """The model of object `name` the frames' poses refer to, or None when it is unknown."""
        return None if self.objects is None else self.objects.find(name)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} frames")
        annotation = self.frames[index]
        if self.mano_layer is not None:
            annotation = attach_mano_vertices(annotation, self.mano_layer)
        params = None
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            params = draw_augmentation(rng, self.augment)
        return build_sample(annotation, params)
