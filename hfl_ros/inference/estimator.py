"""`HandObjectEstimator`: one RGB image + intrinsics + hand and object boxes -> `HandObjectEstimate`.

image -> 256 x 256 crop (as the published HFL-Net loaders crop; `hfl_ros.constants` CROP_*) -> HFLNet -> geometry (hand placement, PnP) -> result dataclass.
"""

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import cv2
import numpy as np
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.constants import CROP_SIZE
from hfl_ros.device import resolve_device
from hfl_ros.geometry.camera import (
    affine_boxes,
    affine_intrinsics,
    apply_affine,
    crop_affine,
    crop_box,
    denormalise_in_box,
    invert_affine,
)
from hfl_ros.geometry.hand_pose import solve_root_translation, weak_perspective_translation, wrist_pose
from hfl_ros.geometry.object_pose import ObjectPoseSettings, best_control_points, estimate_object_pose
from hfl_ros.objects import ObjectModel
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate
from hfl_ros.mano import load_mano
from hfl_ros.model.checkpoint import load_checkpoint
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput

LOG = logging.getLogger(__name__)

#: Seed of the untrained network used when no checkpoint is given (so that runs are reproducible).
UNTRAINED_SEED = 0


class EstimationError(ValueError):
    """The inputs of one frame cannot be estimated (bad image, intrinsics or boxes); the message says why."""


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise EstimationError(f"image must be an (H, W, 3) uint8 RGB array, got {type(image).__name__} {shape} "
                              f"{getattr(image, 'dtype', '')}")
    if min(image.shape[:2]) < 2:
        raise EstimationError(f"image is too small: {image.shape}")


def _check_intrinsics(K: np.ndarray) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise EstimationError(f"K must be a finite (3, 3) intrinsic matrix with fx, fy > 0, got {K.tolist()}")
    return K


def _check_box(name: str, box: np.ndarray) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise EstimationError(f"{name} must be a finite [x1, y1, x2, y2] box with positive size, got {box.tolist()}")
    return box


def _first(batch: torch.Tensor) -> np.ndarray:
    """The first sample of a batched network output as float64 numpy."""
    return batch[0].detach().float().cpu().numpy().astype(np.float64)


class HandObjectEstimator:
    """Runs HFL-Net on full images: crops, infers, places the hand in the camera frame and solves the object pose.

    model: an HFLNet (moved to `device`, put in eval mode); fp16: autocast on CUDA; untrained: the weights are
    random (no checkpoint), which every caller should make visible.
    """

    def __init__(self, model: HFLNet, device: Union[str, torch.device] = "cpu", fp16: bool = False,
                 pose_settings: ObjectPoseSettings = ObjectPoseSettings(), untrained: bool = False):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.fp16 = bool(fp16) and self.device.type == "cuda"
        self.pose_settings = pose_settings
        self.untrained = untrained
        self.faces = model.mano_layer.faces.detach().cpu().numpy()

    @classmethod
    def from_files(cls, checkpoint: Optional[Union[str, Path]], mano_dir: Union[str, Path], device: str = "cpu",
                   fp16: bool = False, pose_settings: ObjectPoseSettings = ObjectPoseSettings()) -> "HandObjectEstimator":
        """Estimator from a checkpoint (ours or published) and the user's MANO file or directory.

        checkpoint None -> an untrained network (seeded, reproducible), logged as a warning.
        Raises FileNotFoundError / ValueError naming a missing or invalid file.
        """
        resolved = resolve_device(device)
        mano = load_mano(mano_dir, side="right")
        if checkpoint is None:
            LOG.warning("no checkpoint given: HFL-Net runs on UNTRAINED random weights; outputs are meaningless")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(UNTRAINED_SEED)
                model = HFLNet(ModelConfig(), mano)
            return cls(model, resolved, fp16, pose_settings, untrained=True)
        return cls(load_checkpoint(checkpoint, mano, resolved), resolved, fp16, pose_settings)

    def _run_network(self, crop: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray) -> HFLNetOutput:
        images = torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        boxes = torch.tensor(np.stack((hand_box, object_box)), dtype=torch.float32, device=self.device)
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.fp16 else nullcontext()
        with torch.inference_mode(), autocast:
            return self.model(images, boxes[:1], boxes[1:])

    def estimate(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                 object_model: ObjectModel) -> HandObjectEstimate:
        """Estimate hand and object in one image.

        image: (H, W, 3) uint8 RGB. K: (3, 3) intrinsics of `image`.
        hand_box: (4,) px, image, box around the hand (about its joints' box expanded x1.1).
        object_box: (4,) px, image, box around the object.
        object_model: the object in the hand (control points for PnP).
        Raises EstimationError for inputs that cannot be estimated.
        """
        start = time.perf_counter()
        _check_image(image)
        geometry = crop_geometry(image.shape[1::-1], K, hand_box, object_box)
        crop = cv2.warpAffine(image, geometry.affine, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        cropped = time.perf_counter()
        out = self._run_network(crop, geometry.hand_crop_box, geometry.object_crop_box)
        networked = time.perf_counter()
        hand, obj = decode_output(out, geometry, object_model, self.faces, self.pose_settings)
        done = time.perf_counter()
        timings = {"crop": cropped - start, "network": networked - cropped, "geometry": done - networked}
        return HandObjectEstimate(hand=hand, object=obj, timings=timings)


@dataclass(frozen=True)
class CropGeometry:
    """How one image was cropped for the network.

    affine: (2, 3) image px -> crop px; crop_K: (3, 3) intrinsics of the crop (same camera frame);
    hand_box, object_box: (4,) px, image; hand_crop_box, object_crop_box: (4,) px, crop.
    """

    affine: np.ndarray
    crop_K: np.ndarray
    hand_box: np.ndarray
    object_box: np.ndarray
    hand_crop_box: np.ndarray
    object_crop_box: np.ndarray


def crop_geometry(image_size: Tuple[int, int], K: np.ndarray, hand_box: np.ndarray,
                  object_box: np.ndarray) -> CropGeometry:
    """The crop of an image of `image_size` (W, H) around the hand and object boxes (px, image), K (3, 3).

    Raises EstimationError for invalid intrinsics or boxes, or boxes outside the image.
    """
    K = _check_intrinsics(K)
    hand_box = _check_box("hand_box", hand_box)
    object_box = _check_box("object_box", object_box)
    try:
        region = crop_box(hand_box, object_box, image_size, integer_centres=False)
    except ValueError as error:
        raise EstimationError(str(error)) from error
    affine = crop_affine(region, CROP_SIZE)
    return CropGeometry(
        affine=affine, crop_K=affine_intrinsics(K, affine), hand_box=hand_box, object_box=object_box,
        hand_crop_box=affine_boxes(hand_box, affine), object_crop_box=affine_boxes(object_box, affine),
    )


def decode_output(out: HFLNetOutput, geometry: CropGeometry, object_model: ObjectModel, faces: np.ndarray,
                  pose_settings: ObjectPoseSettings = ObjectPoseSettings()) -> Tuple[HandEstimate, ObjectEstimate]:
    """The first sample of a network output -> camera-frame hand and object estimates.

    The hand's root-relative joints are placed by the translation that best reprojects them onto the
    predicted 2D joints (crop intrinsics); the object pose comes from EPnP + RANSAC on the decoder maps.
    faces: (1538, 3) MANO faces. Raises EstimationError when the hand cannot be placed.
    """
    joints_rel, vertices_rel = _first(out.joints), _first(out.vertices)
    joints_2d_crop = denormalise_in_box(_first(out.joints_2d), geometry.hand_crop_box)
    peaks = _first(out.heatmaps).reshape(joints_rel.shape[0], -1).max(axis=1)
    try:
        root = solve_root_translation(joints_rel, joints_2d_crop, geometry.crop_K)
    except ValueError as error:
        LOG.debug("least-squares hand placement failed (%s); using weak perspective", error)
        try:
            root = weak_perspective_translation(joints_rel, joints_2d_crop, geometry.crop_K)
        except ValueError as fallback_error:
            raise EstimationError(f"hand could not be placed in the camera frame: {fallback_error}") from error
    joints = joints_rel + root
    image_from_crop = invert_affine(geometry.affine)
    hand = HandEstimate(
        joints=joints, vertices=vertices_rel + root, faces=faces,
        joints_2d=apply_affine(joints_2d_crop, image_from_crop),
        wrist_pose=wrist_pose(_first(out.mano_rotmats)[0], joints[0]),
        mano_pose=_first(out.mano_pose), mano_shape=_first(out.mano_shape),
        box=geometry.hand_box, score=float(peaks.mean()),
    )
    confidence, xs, ys = _first(out.object_confidence), _first(out.object_x), _first(out.object_y)
    pose = estimate_object_pose(confidence, xs, ys, geometry.object_crop_box, object_model.control_points,
                                geometry.crop_K, pose_settings)
    uv, scores = best_control_points(confidence, xs, ys)
    obj = ObjectEstimate(
        name=object_model.name,
        rotation=None if pose is None else pose.rotation,
        translation=None if pose is None else pose.translation,
        control_points_2d=apply_affine(denormalise_in_box(uv, geometry.object_crop_box), image_from_crop),
        control_point_scores=scores, inliers=0 if pose is None else pose.inliers,
        box=geometry.object_box, score=float(scores.mean()),
    )
    return hand, obj
