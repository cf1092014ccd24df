"""The shared evaluation loop: a model over a dataset of `Sample`s -> per-frame predictions beside their
ground truth, and the hand and object errors every benchmark reports.

Frames: a sample's 3D targets are in its crop camera frame, which for the evaluation crop (no augmentation)
is the dataset's camera frame (OpenCV axes; mirrored for frames the reader mirrored left -> right).
Predicted hand joints and vertices are wrist-relative; absolute positions add the ground-truth wrist, as the
benchmarks do. Both the prediction and the ground truth of a mirrored frame are mirrored, so every distance
(and every similarity-aligned distance) equals the one in the original, unmirrored frame.

Units: metres everywhere; only the report dictionaries convert to millimetres (keys ending in ``_mm``).
"""

from contextlib import nullcontext
from dataclasses import dataclass, fields
from typing import Callable, Collection, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from hfl_ros.data.sample import batch_to, collate
from hfl_ros.evaluation.metrics import add, add_accuracy, add_s, mpjpe, pa_mpjpe
from hfl_ros.geometry.camera import transform_points
from hfl_ros.geometry.mirror import mirror_points
from hfl_ros.geometry.object_pose import ObjectPoseSettings, estimate_object_pose
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.model.optimize import optimize_for_inference


#: ADD(-S)-0.1D threshold, as a fraction of the object diameter.
ADD_FRACTION = 0.1


@dataclass
class Predictions:
    """Predictions and ground truth of N frames, in dataset order (float32 arrays unless stated).

    frame_ids, object_names: N strings. mirrored: (N,) bool.
    joints: (N, 21, 3) m predicted, wrist-relative, camera frame. vertices: (N, 778, 3) m, the same
      (empty (N, 0, 3) when not kept).
    root: (N, 3) m ground-truth wrist, camera frame; root_valid (N,) bool.
    gt_joints: (N, 21, 3) m wrist-relative; joints_valid (N,). gt_vertices: (N, 778, 3) m wrist-relative
      (or (N, 0, 3)); vertices_valid (N,).
    object_found: (N,) bool, a pose was solved; object_rotation (N, 3, 3) camera-from-object,
      object_translation (N, 3) m (identity / zero when not found).
    gt_object_rotation, gt_object_translation: ground truth; object_valid (N,); object_diameter (N,) m.
    """

    frame_ids: List[str]
    object_names: List[str]
    mirrored: np.ndarray
    joints: np.ndarray
    vertices: np.ndarray
    root: np.ndarray
    root_valid: np.ndarray
    gt_joints: np.ndarray
    joints_valid: np.ndarray
    gt_vertices: np.ndarray
    vertices_valid: np.ndarray
    object_found: np.ndarray
    object_rotation: np.ndarray
    object_translation: np.ndarray
    gt_object_rotation: np.ndarray
    gt_object_translation: np.ndarray
    object_valid: np.ndarray
    object_diameter: np.ndarray

    def __len__(self) -> int:
        return len(self.frame_ids)

    def absolute_joints(self) -> np.ndarray:
        """(N, 21, 3) m predicted joints placed at the ground-truth wrist, camera frame."""
        return self.joints + self.root[:, None, :]

    def absolute_vertices(self) -> np.ndarray:
        """(N, 778, 3) m predicted vertices placed at the ground-truth wrist, camera frame."""
        return self.vertices + self.root[:, None, :]


def _object_poses(output, batch: Dict, settings: ObjectPoseSettings) -> Dict[str, np.ndarray]:
    """Solve the object pose of every sample of a batch whose control points are known (crop camera frame)."""
    size = output.object_confidence.shape[0]
    found = np.zeros(size, dtype=bool)
    rotations = np.tile(np.eye(3, dtype=np.float32), (size, 1, 1))
    translations = np.zeros((size, 3), dtype=np.float32)
    confidence = output.object_confidence.float().cpu().numpy()
    xs, ys = output.object_x.float().cpu().numpy(), output.object_y.float().cpu().numpy()
    boxes, K = batch["object_box"].cpu().numpy(), batch["K_crop"].cpu().numpy()
    points = batch["object_control_points"].cpu().numpy()
    valid = batch["object_valid"].cpu().numpy()
    for i in range(size):
        if not valid[i]:
            continue
        pose = estimate_object_pose(confidence[i], xs[i], ys[i], boxes[i], points[i], K[i], settings)
        if pose is not None:
            found[i], rotations[i], translations[i] = True, pose.rotation, pose.translation
    return {"object_found": found, "object_rotation": rotations, "object_translation": translations}


def predict(
    model: HFLNet,
    dataset: Dataset,
    batch_size: int = 32,
    device: str = "cpu",
    workers: int = 0,
    amp: bool = False,
    keep_vertices: bool = True,
    solve_objects: bool = True,
    pose_settings: ObjectPoseSettings = ObjectPoseSettings(),
    limit: Optional[int] = None,
    progress: bool = False,
) -> Predictions:
    """Run `model` (eval mode, no gradients) over `dataset` (evaluation crops, in order) and collect
    predictions beside the ground truth.

    keep_vertices: keep predicted and true vertices (HO3D needs them; large for DexYCB's 94k frames).
    solve_objects: solve object poses (EPnP + RANSAC on the CPU) for frames whose object is known.
    amp: float16 autocast (CUDA only). limit: evaluate only the first `limit` frames.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None:
        dataset = Subset(dataset, range(min(int(limit), len(dataset))))
    if len(dataset) == 0:
        raise ValueError("the evaluation dataset is empty")
    torch_device = torch.device(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate)
    network = optimize_for_inference(model, torch_device, "fp32")  # equal outputs, faster; `model` untouched
    parts: Dict[str, list] = {f.name: [] for f in fields(Predictions)}
    autocast = torch.autocast("cuda", dtype=torch.float16) if amp and torch_device.type == "cuda" else nullcontext()
    with torch.no_grad():
        for batch in tqdm(loader, desc="evaluate", disable=not progress, dynamic_ncols=True):
            batch = batch_to(batch, torch_device)
            with autocast:
                output = network(batch["image"], batch["hand_box"], batch["object_box"])
            size = output.joints.shape[0]
            vertex_count = output.vertices.shape[1] if keep_vertices else 0

            def host(tensor: torch.Tensor) -> np.ndarray:
                return tensor.float().cpu().numpy()

            parts["frame_ids"].extend(batch["frame_id"])
            parts["object_names"].extend(batch["object_name"])
            parts["mirrored"].append(np.asarray(batch["mirrored"].cpu().numpy(), dtype=bool))
            parts["joints"].append(host(output.joints))
            parts["vertices"].append(host(output.vertices[:, :vertex_count]))
            parts["gt_vertices"].append(host(batch["vertices_3d"][:, :vertex_count]))
            for name, key in (("root", "root_3d"), ("gt_joints", "joints_3d"), ("gt_object_rotation", "object_rotation"),
                              ("gt_object_translation", "object_translation"), ("object_diameter", "object_diameter")):
                parts[name].append(host(batch[key]))
            for name in ("root_valid", "joints_valid", "vertices_valid", "object_valid"):
                parts[name].append(batch[name].cpu().numpy().astype(bool))
            if solve_objects:
                poses = _object_poses(output, batch, pose_settings)
            else:
                poses = {"object_found": np.zeros(size, dtype=bool),
                         "object_rotation": np.tile(np.eye(3, dtype=np.float32), (size, 1, 1)),
                         "object_translation": np.zeros((size, 3), dtype=np.float32)}
            for name, value in poses.items():
                parts[name].append(value)
    joined = {name: (values if name in ("frame_ids", "object_names") else np.concatenate(values)) for name, values in parts.items()}
    return Predictions(**joined)


def hand_errors(predictions: Predictions) -> Dict[str, np.ndarray]:
    """Per-frame hand joint errors, m, for the frames with 3D joint ground truth.

    Returns "index" (M,) frame indices, "mpjpe" (M,) = mean distance of the joints placed at the
    ground-truth wrist (equivalently, of the wrist-relative joints), "pa_mpjpe" (M,) after per-frame
    similarity (Procrustes) alignment, and "joint_errors" (M, 21) the unaligned per-joint distances.
    """
    index = np.flatnonzero(predictions.joints_valid)
    pred = predictions.joints[index].astype(np.float64)
    gt = predictions.gt_joints[index].astype(np.float64)
    if len(index) == 0:
        empty = np.zeros(0)
        return {"index": index, "mpjpe": empty, "pa_mpjpe": empty, "joint_errors": np.zeros((0, pred.shape[1]))}
    return {
        "index": index,
        "mpjpe": mpjpe(pred, gt),
        "pa_mpjpe": pa_mpjpe(pred, gt),
        "joint_errors": np.linalg.norm(pred - gt, axis=-1),
    }


def object_errors(
    predictions: Predictions,
    model_points: Mapping[str, np.ndarray],
    symmetric: Collection[str] = (),
) -> np.ndarray:
    """Per-frame object pose error, m: ADD, or ADD-S for names in `symmetric`.

    model_points: object name -> (P, 3) m model points in the object frame the dataset's poses refer to
      (points of a mirrored frame are mirrored here, `geometry.mirror.mirror_points`).
    Returns (N,): the error; +inf where the network gave no pose (a failure at any threshold); NaN where
    the frame has no object ground truth or its model is unknown (excluded from the scores).
    """
    errors = np.full(len(predictions), np.nan)
    for i, name in enumerate(predictions.object_names):
        if not predictions.object_valid[i] or name not in model_points:
            continue
        if not predictions.object_found[i]:
            errors[i] = np.inf
            continue
        points = np.asarray(model_points[name], dtype=np.float64)
        if predictions.mirrored[i]:
            points = mirror_points(points)
        true = transform_points(points, predictions.gt_object_rotation[i].astype(np.float64),
                                predictions.gt_object_translation[i].astype(np.float64))
        estimate = transform_points(points, predictions.object_rotation[i].astype(np.float64),
                                    predictions.object_translation[i].astype(np.float64))
        errors[i] = float(add_s(estimate, true) if name in symmetric else add(estimate, true))
    return errors


def object_scores(
    predictions: Predictions,
    errors: np.ndarray,
    fraction: float = ADD_FRACTION,
    exclude_from_average: Collection[str] = (),
) -> Dict[str, object]:
    """ADD(-S)-`fraction`D per object, each frame judged against its own object diameter.

    errors: (N,) m from `object_errors` (NaN frames skipped, +inf frames count as failures).
    Returns {"per_object": {name: accuracy in [0, 1]}, "frames": {name: frame count},
    "average": mean of the per-object accuracies, objects in `exclude_from_average` left out (NaN if none)}.
    """
    per_object: Dict[str, float] = {}
    counts: Dict[str, int] = {}
    names = np.asarray(predictions.object_names, dtype=object)
    scored = ~np.isnan(errors)
    for name in sorted(set(names[scored])):
        selected = scored & (names == name)
        per_object[name] = add_accuracy(errors[selected], predictions.object_diameter[selected], fraction)
        counts[name] = int(selected.sum())
    averaged = [value for name, value in per_object.items() if name not in exclude_from_average]
    return {
        "per_object": per_object,
        "frames": counts,
        "average": float(np.mean(averaged)) if averaged else float("nan"),
    }


def model_points_from_library(names: Sequence[str], lookup: Callable[[str], Optional[object]]) -> Dict[str, np.ndarray]:
    """name -> model vertices (P, 3) m for every name `lookup` (e.g. a dataset's `object_model`) knows."""
    points = {}
    for name in sorted(set(n for n in names if n)):
        model = lookup(name)
        if model is not None and len(model.vertices):
            points[name] = np.asarray(model.vertices, dtype=np.float64)
    return points


__all__ = [
    "ADD_FRACTION",
    "Predictions",
    "hand_errors",
    "model_points_from_library",
    "object_errors",
    "object_scores",
    "predict",
]
