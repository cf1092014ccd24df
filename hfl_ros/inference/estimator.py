"""`HandObjectEstimator`: one RGB image + intrinsics + hand and object boxes -> `HandObjectEstimate`.

image -> 256 x 256 crop (as the published HFL-Net loaders crop; `hfl_ros.constants` CROP_*) -> HFLNet -> geometry (hand placement, PnP) -> result dataclass.
Several crops of one image (`CropRequest`, e.g. both hands, the left one from the mirrored view) go through
the network as one batch: `estimate_batch` = `prepare_batch` + `infer_batch`.
"""

import dataclasses
import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

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
from hfl_ros.geometry.mirror import mirror_image
from hfl_ros.geometry.hand_pose import solve_root_translation, weak_perspective_translation, wrist_pose
from hfl_ros.geometry.object_pose import ObjectPoseSettings, best_control_points, estimate_object_pose
from hfl_ros.objects import ObjectModel
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate
from hfl_ros.inference.crop import crop_cv2, crop_torch, to_device
from hfl_ros.mano import load_mano
from hfl_ros.model.checkpoint import load_checkpoint
from hfl_ros.model.export import OnnxNetwork, cached_export
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput
from hfl_ros.model.optimize import CudaGraphRunner, optimize_for_inference

LOG = logging.getLogger(__name__)

#: Seed of the untrained network used when no checkpoint is given (so that runs are reproducible).
UNTRAINED_SEED = 0


class EstimationError(ValueError):
    """The inputs of one frame cannot be estimated (bad image, intrinsics or boxes); the message says why.

    index: the crop of a batch that failed (its position in the requests), None when the whole frame did.
    """

    def __init__(self, message: str, index: Optional[int] = None):
        super().__init__(message)
        self.index = index


def check_image(image: np.ndarray) -> None:
    """EstimationError unless `image` is an (H, W, 3) uint8 RGB array of at least 2 x 2 px."""
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


def _sample(batch: torch.Tensor, index: int) -> np.ndarray:
    """Sample `index` of a batched network output as float64 numpy."""
    return batch[index].detach().float().cpu().numpy().astype(np.float64)


#: InferenceConfig.runtime values.
RUNTIMES = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class InferenceConfig:
    """How the estimator runs the network.

    optimize: use the inference path (`hfl_ros.model.optimize.optimize_for_inference`); False runs the
      plain model. precision: "fp32" (equal outputs), "bf16" (CPUs with AVX512-BF16 / AMX) or "fp16"
      (CUDA): the backbone's precision. channels_last: memory order of the convolutions.
    compile: torch.compile the network (eager fallback). cuda_graphs: on CUDA, replay a captured graph.
    onnx_model: an `hfl-export` file run by ONNX Runtime instead of torch (the other fields are then unused).
    runtime: "torch"; "onnx": the fp32 inference path exported once per network (`cached_export`, checked
      against torch, kept in `onnx_cache_dir`, default $XDG_CACHE_HOME/hfl_ros/onnx) and run by ONNX Runtime;
      "auto": "onnx" on the CPU where onnxruntime is installed and the path is the exact one (optimize, fp32,
      no compile), else "torch" (an export that fails falls back to torch with a warning).
    """

    optimize: bool = True
    precision: str = "fp32"
    channels_last: bool = True
    compile: bool = False
    cuda_graphs: bool = True
    onnx_model: Optional[str] = None
    runtime: str = "torch"
    onnx_cache_dir: Optional[str] = None

    def __post_init__(self):
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {self.runtime!r}")


def _onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _onnx_network(model: HFLNet, device: torch.device, config: InferenceConfig) -> Optional[OnnxNetwork]:
    """The network exported and run by ONNX Runtime when `config.runtime` asks for it (None: run torch)."""
    exact = config.optimize and config.precision == "fp32" and not config.compile
    if config.runtime == "auto" and not (exact and device.type == "cpu" and _onnxruntime_installed()):
        return None
    if config.runtime == "onnx" and not exact:
        raise ValueError("runtime 'onnx' runs the exact fp32 inference path: it needs optimize, precision fp32 "
                         f"and no compile (got optimize={config.optimize}, precision={config.precision!r}, "
                         f"compile={config.compile})")
    try:
        return OnnxNetwork(cached_export(model, config.onnx_cache_dir), device)
    except (ImportError, RuntimeError, OSError) as error:
        if config.runtime == "onnx":
            raise
        LOG.warning("ONNX Runtime path unavailable (%s); running torch", error)
        return None


def build_network(model: HFLNet, device: torch.device, config: InferenceConfig) -> Callable[..., HFLNetOutput]:
    """The callable that runs `model` on `device` as `config` says: (images, hand_boxes, object_boxes) ->
    HFLNetOutput, with the forward contract of `HFLNet.forward`."""
    if config.onnx_model:
        return OnnxNetwork(config.onnx_model, device)
    if config.runtime != "torch":
        network = _onnx_network(model, device, config)
        if network is not None:
            return network
    if not config.optimize:
        return model
    network = optimize_for_inference(model, device, config.precision, config.channels_last, config.compile)
    if device.type == "cuda" and config.cuda_graphs and not config.compile:
        return CudaGraphRunner(network)
    return network


@dataclass(frozen=True)
class CropRequest:
    """One crop of a batch cut from an image.

    K: (3, 3) px intrinsics of the view; hand_box, object_box: (4,) px, in the view; object_model: the object
    in that hand. mirrored: the view is the left-right flip of the image (`hfl_ros.geometry.mirror`): the
    crop is cut from the flipped image, and K, the boxes and the model must already be the flipped view's.
    """

    K: np.ndarray
    hand_box: np.ndarray
    object_box: np.ndarray
    object_model: ObjectModel
    mirrored: bool = False


@dataclass
class PreparedFrame:
    """One frame's B crops ready for the network (the output of `HandObjectEstimator.prepare_batch`).

    geometries: how each crop was cut (B). images: (B, 3, 256, 256) float32 [0, 1] on the estimator's device;
    hand_boxes, object_boxes: (B, 4) crop px on that device. object_models: the object in each hand (B).
    timings: seconds spent so far on the whole batch, by step ("crop").
    """

    geometries: Tuple["CropGeometry", ...]
    images: torch.Tensor
    hand_boxes: torch.Tensor
    object_boxes: torch.Tensor
    object_models: Tuple[ObjectModel, ...]
    timings: Dict[str, float]


class HandObjectEstimator:
    """Runs HFL-Net on full images: crops, infers, places the hand in the camera frame and solves the object pose.

    model: an HFLNet (moved to `device`, put in eval mode); inference: how the network runs (`InferenceConfig`; by default the fp32
    inference path, equal to the plain model); untrained: the weights are random (no checkpoint), which
    every caller should make visible.

    `estimate` = `prepare` (checks, crop geometry, crop; on CUDA the crop runs on the GPU from a pinned
    upload) then `infer` (network, one device-to-host copy, geometry); a pipeline may run them apart.
    `estimate_batch` = `prepare_batch` then `infer_batch`: B crops of one image, one network call of batch B,
    B estimates (`estimate` is its one-crop case).
    """

    def __init__(self, model: HFLNet, device: Union[str, torch.device] = "cpu",
                 pose_settings: ObjectPoseSettings = ObjectPoseSettings(), untrained: bool = False,
                 inference: InferenceConfig = InferenceConfig()):
        self.device = torch.device(device)
        self.inference = inference
        self.model = model.to(self.device).eval()
        self.network = build_network(self.model, self.device, inference)
        self.pose_settings = pose_settings
        self.untrained = untrained
        self.faces = model.mano_layer.faces.detach().cpu().numpy()
        self._upload: Optional[Tuple[torch.Tensor, torch.cuda.Event]] = None

    @property
    def runtime(self) -> str:
        """What runs the network: "onnx" (ONNX Runtime) or "torch"."""
        return "onnx" if isinstance(self.network, OnnxNetwork) else "torch"

    @classmethod
    def from_files(cls, checkpoint: Optional[Union[str, Path]], mano_dir: Union[str, Path], device: str = "cpu",
                   pose_settings: ObjectPoseSettings = ObjectPoseSettings(),
                   inference: InferenceConfig = InferenceConfig(),
                   warn_untrained: bool = True) -> "HandObjectEstimator":
        """Estimator from a checkpoint (ours or published) and the user's MANO file or directory.

        checkpoint None -> an untrained network (seeded, reproducible), logged as a warning unless
        `warn_untrained` is False (a caller that reports `untrained` itself, as the ROS node does in its log).
        Raises FileNotFoundError / ValueError naming a missing or invalid file.
        """
        resolved = resolve_device(device)
        mano = load_mano(mano_dir, side="right")
        if checkpoint is None:
            if warn_untrained:
                LOG.warning("no checkpoint given: HFL-Net runs on UNTRAINED random weights; outputs are meaningless")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(UNTRAINED_SEED)
                model = HFLNet(ModelConfig(), mano)
            return cls(model, resolved, pose_settings, untrained=True, inference=inference)
        return cls(load_checkpoint(checkpoint, mano, resolved), resolved, pose_settings, inference=inference)

    def _upload_image(self, image: np.ndarray) -> torch.Tensor:
        """image (H, W, 3) uint8 -> the same on the CUDA device, through a reused pinned host buffer (the
        previous upload is waited for before its buffer is overwritten)."""
        if self._upload is None or self._upload[0].shape != image.shape:
            self._upload = (torch.empty(image.shape, dtype=torch.uint8, pin_memory=True), torch.cuda.Event())
        host, uploaded = self._upload
        uploaded.synchronize()
        host.numpy()[...] = image
        on_device = host.to(self.device, non_blocking=True)
        uploaded.record(torch.cuda.current_stream(self.device))
        return on_device

    def prepare(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                object_model: ObjectModel) -> PreparedFrame:
        """Check one frame and cut the network's crop from it (arguments as `estimate`): a batch of one.

        Raises EstimationError for inputs that cannot be estimated.
        """
        return self.prepare_batch(image, (CropRequest(K, hand_box, object_box, object_model),))

    def prepare_batch(self, image: np.ndarray, requests: Sequence[CropRequest]) -> PreparedFrame:
        """Check a frame and cut one crop per request from it (image: (H, W, 3) uint8 RGB), in request order.

        On CUDA the image is uploaded once (and flipped on the GPU when a request is mirrored); on the CPU
        OpenCV cuts each crop. Raises EstimationError for inputs that cannot be estimated (`index`: the
        request, when one request is at fault).
        """
        start = time.perf_counter()
        check_image(image)
        if not requests:
            raise EstimationError("no crop requested: a batch needs at least one CropRequest")
        geometries = tuple(_request_geometry(image.shape[1::-1], request, index, len(requests))
                           for index, request in enumerate(requests))
        if self.device.type == "cuda":
            views = _Views(self._upload_image(image), lambda uploaded: uploaded.flip(1))
            images = torch.cat([crop_torch(views.get(request.mirrored), geometry.affine)
                                for request, geometry in zip(requests, geometries)])
        else:
            views = _Views(image, mirror_image)
            crops = np.stack([crop_cv2(views.get(request.mirrored), geometry.affine)
                              for request, geometry in zip(requests, geometries)])
            images = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        boxes = np.stack([geometry.hand_crop_box for geometry in geometries]
                         + [geometry.object_crop_box for geometry in geometries])
        boxes = to_device(torch.from_numpy(boxes).float(), self.device)
        return PreparedFrame(geometries=geometries, images=images, hand_boxes=boxes[:len(requests)],
                             object_boxes=boxes[len(requests):],
                             object_models=tuple(request.object_model for request in requests),
                             timings={"crop": time.perf_counter() - start})

    def _run_network(self, frame: PreparedFrame) -> HFLNetOutput:
        """The network's output for a prepared batch, as float32 CPU tensors (B first)."""
        with torch.inference_mode():
            out = self.network(frame.images, frame.hand_boxes, frame.object_boxes)
            return outputs_to_host(out)

    def infer(self, frame: PreparedFrame) -> HandObjectEstimate:
        """Run the network on a prepared one-crop frame and decode hand and object estimates.

        Raises EstimationError when the hand cannot be placed, ValueError for a frame of several crops.
        """
        if len(frame.geometries) != 1:
            raise ValueError(f"infer takes a frame of one crop, got {len(frame.geometries)}: use infer_batch")
        return self.infer_batch(frame)[0]

    def infer_batch(self, frame: PreparedFrame) -> List[HandObjectEstimate]:
        """Run the network once on a prepared batch of B crops and decode B estimates, in request order.

        Each estimate's timings: "crop" and "network" are those of the whole batch (shared), "geometry" its own.
        Raises EstimationError (`index`: the crop) when a hand cannot be placed.
        """
        start = time.perf_counter()
        out = self._run_network(frame)
        networked = time.perf_counter()
        estimates = []
        for index, (geometry, object_model) in enumerate(zip(frame.geometries, frame.object_models)):
            decoding = time.perf_counter()
            try:
                hand, obj = decode_output(out, geometry, object_model, self.faces, self.pose_settings, index)
            except EstimationError as error:
                raise EstimationError(_in_batch(str(error), index, len(frame.geometries)), index) from error
            timings = dict(frame.timings, network=networked - start, geometry=time.perf_counter() - decoding)
            estimates.append(HandObjectEstimate(hand=hand, object=obj, timings=timings))
        return estimates

    def estimate(self, image: np.ndarray, K: np.ndarray, hand_box: np.ndarray, object_box: np.ndarray,
                 object_model: ObjectModel) -> HandObjectEstimate:
        """Estimate hand and object in one image.

        image: (H, W, 3) uint8 RGB. K: (3, 3) intrinsics of `image`.
        hand_box: (4,) px, image, box around the hand (about its joints' box expanded x1.1).
        object_box: (4,) px, image, box around the object.
        object_model: the object in the hand (control points for PnP).
        Raises EstimationError for inputs that cannot be estimated.
        """
        return self.infer(self.prepare(image, K, hand_box, object_box, object_model))

    def estimate_batch(self, image: np.ndarray, requests: Sequence[CropRequest]) -> List[HandObjectEstimate]:
        """Estimate one hand and object per request in one image, with ONE network call of batch len(requests).

        image: (H, W, 3) uint8 RGB. Returns the estimates in request order, each in its request's view.
        Raises EstimationError (`index`: the request at fault, when one is).
        """
        return self.infer_batch(self.prepare_batch(image, requests))


ImageLike = Union[np.ndarray, torch.Tensor]


class _Views:
    """An image (H, W, 3) (numpy or a device tensor) and, made on first use only, its left-right flip."""

    def __init__(self, image: ImageLike, flip: Callable[[ImageLike], ImageLike]):
        self._image, self._flip, self._flipped = image, flip, None

    def get(self, mirrored: bool) -> ImageLike:
        if not mirrored:
            return self._image
        if self._flipped is None:
            self._flipped = self._flip(self._image)
        return self._flipped


def _in_batch(message: str, index: int, size: int) -> str:
    """`message` about crop `index` of a batch of `size`, naming the crop when there are several."""
    return message if size == 1 else f"crop {index} of {size}: {message}"


def _request_geometry(image_size: Tuple[int, int], request: CropRequest, index: int, size: int) -> "CropGeometry":
    """`crop_geometry` of one request; its EstimationError names the request (`index`)."""
    try:
        return crop_geometry(image_size, request.K, request.hand_box, request.object_box)
    except EstimationError as error:
        raise EstimationError(_in_batch(str(error), index, size), index) from error


def outputs_to_host(out: HFLNetOutput) -> HFLNetOutput:
    """Every output field (all B samples) as float32 CPU tensors. From CUDA the copies go through pinned
    memory without blocking and the host waits once for all of them."""
    fields = {field.name: getattr(out, field.name) for field in dataclasses.fields(out)}
    if all(tensor.device.type == "cpu" for tensor in fields.values()):
        return HFLNetOutput(**{name: tensor.float() for name, tensor in fields.items()})
    host = {name: torch.empty(tensor.shape, dtype=torch.float32, pin_memory=True) for name, tensor in fields.items()}
    for name, tensor in fields.items():
        host[name].copy_(tensor, non_blocking=True)
    torch.cuda.current_stream(next(iter(fields.values())).device).synchronize()
    return HFLNetOutput(**host)


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
                  pose_settings: ObjectPoseSettings = ObjectPoseSettings(),
                  index: int = 0) -> Tuple[HandEstimate, ObjectEstimate]:
    """Sample `index` of a network output (cropped as `geometry` says) -> camera-frame hand and object estimates.

    The hand's root-relative joints are placed by the translation that best reprojects them onto the
    predicted 2D joints (crop intrinsics); the object pose comes from EPnP + RANSAC on the decoder maps.
    faces: (1538, 3) MANO faces. Raises EstimationError when the hand cannot be placed.
    """
    joints_rel, vertices_rel = _sample(out.joints, index), _sample(out.vertices, index)
    joints_2d_crop = denormalise_in_box(_sample(out.joints_2d, index), geometry.hand_crop_box)
    peaks = _sample(out.heatmaps, index).reshape(joints_rel.shape[0], -1).max(axis=1)
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
        wrist_pose=wrist_pose(_sample(out.mano_rotmats, index)[0], joints[0]),
        mano_pose=_sample(out.mano_pose, index), mano_shape=_sample(out.mano_shape, index),
        box=geometry.hand_box, score=float(peaks.mean()),
    )
    confidence = _sample(out.object_confidence, index)
    xs, ys = _sample(out.object_x, index), _sample(out.object_y, index)
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
