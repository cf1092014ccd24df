"""HO3D evaluation: the official submission file and, where ground truth exists, the official hand metrics
(plus ADD-0.1D for the objects).

Submission (the format of the HO3D CodaLab evaluation, `pred.json` inside `pred.zip`): a JSON list of two
lists, ``[joints, vertices]``: ``joints[i]`` is frame i's 21 x 3 joint list and ``vertices[i]`` its 778 x 3
vertex list, frames in the order of the split file (``evaluation.txt``). Values are metres in the OpenGL
camera frame (x right, y up, z towards the viewer: the OpenCV frame with y and z negated, so every z is
negative), joints in HO3D's order (the MANO order: wrist, index 1-3, middle 1-3, little 1-3, ring 1-3,
thumb 1-3, then the tips of thumb, index, middle, ring, little). Absolute positions place the predicted
wrist-relative hand at the ground-truth wrist the evaluation split provides (``handJoints3D``), in metres
(the reference implementation adds that metre-valued root to millimetre-valued predictions).

Metrics where ground truth exists (the official eval.py's set, our metres -> reported in mm):
unaligned MPJPE / MPVPE (wrist at the true wrist) and joint AUC over 0-50 mm; Procrustes-aligned
(PA) MPJPE, PA-MPVPE and PA joint AUC (a similarity transform per frame, no reflection); scale-translation
aligned MPJPE (scale by the wrist -> middle-knuckle bone, translation by the wrist); F-scores at 5 and 15 mm
of the unaligned and of the aligned meshes. Object: ADD-0.1D per object (each frame's own diameter) and its
mean over the objects seen in training (019_pitcher_base is unseen in HO3D v2 training, as in the paper).
"""

import json
import logging
import zipfile
from pathlib import Path
from typing import Dict, Mapping, Tuple, Union

import numpy as np

from hfl_ros.constants import JOINT_NAMES, MANO_TO_OUTPUT_JOINTS, NUM_JOINTS, NUM_MANO_VERTICES, WRIST
from hfl_ros.evaluation.evaluate import Predictions, object_errors, object_scores
from hfl_ros.evaluation.metrics import F_SCORE_THRESHOLDS, auc, f_score, mpjpe, procrustes_align

LOG = logging.getLogger(__name__)

PathLike = Union[str, Path]

#: OpenCV camera frame -> OpenGL camera frame (negate y and z); its own inverse.
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])
#: For each HO3D joint index, the index of the same joint in our order (JOINT_NAMES): HO3D's order is
#: the MANO stack [16 kinematic joints, 5 tips], whose position in our order MANO_TO_OUTPUT_JOINTS gives.
HO3D_FROM_OUTPUT_JOINTS: Tuple[int, ...] = tuple(int(i) for i in np.argsort(MANO_TO_OUTPUT_JOINTS))
#: Objects of the HO3D v2 evaluation split that never appear in training (left out of the ADD average).
HO3D_UNSEEN_OBJECTS = ("019_pitcher_base",)
SUBMISSION_JSON = "pred.json"
SUBMISSION_ZIP = "pred.zip"
#: Bone whose length sets the scale in the scale-translation alignment: wrist -> middle knuckle.
_SCALE_BONE = (WRIST, JOINT_NAMES.index("middle1"))


def to_ho3d_joint_order(joints: np.ndarray) -> np.ndarray:
    """joints: (..., 21, 3) in our order (JOINT_NAMES) -> (..., 21, 3) in HO3D's order."""
    joints = np.asarray(joints)
    if joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (..., {NUM_JOINTS}, 3), got {joints.shape}")
    return joints[..., list(HO3D_FROM_OUTPUT_JOINTS), :]


def from_ho3d_joint_order(joints: np.ndarray) -> np.ndarray:
    """joints: (..., 21, 3) in HO3D's order -> (..., 21, 3) in our order."""
    joints = np.asarray(joints)
    if joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (..., {NUM_JOINTS}, 3), got {joints.shape}")
    return joints[..., list(MANO_TO_OUTPUT_JOINTS), :]


def opencv_to_opengl(points: np.ndarray) -> np.ndarray:
    """points: (..., 3) m, OpenCV camera frame -> OpenGL camera frame (y and z negated)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    return points @ OPENCV_TO_OPENGL.T


def submission_arrays(predictions: Predictions) -> Tuple[np.ndarray, np.ndarray]:
    """Submission joints (N, 21, 3) in HO3D order and vertices (N, 778, 3), m, OpenGL camera frame.

    Every frame needs its ground-truth wrist (the HO3D evaluation split provides it); raises ValueError
    naming the first frame without one, or when the predictions kept no vertices.
    """
    if predictions.vertices.shape[1:] != (NUM_MANO_VERTICES, 3):
        raise ValueError(f"predictions have no vertices (shape {predictions.vertices.shape}); predict(keep_vertices=True)")
    missing = np.flatnonzero(~predictions.root_valid)
    if len(missing):
        raise ValueError(f"frame {predictions.frame_ids[missing[0]]!r} has no ground-truth wrist to place the hand at")
    joints = opencv_to_opengl(to_ho3d_joint_order(predictions.absolute_joints()))
    vertices = opencv_to_opengl(predictions.absolute_vertices())
    return joints, vertices


def write_submission(directory: PathLike, joints: np.ndarray, vertices: np.ndarray) -> Tuple[Path, Path]:
    """Write `pred.json` and `pred.zip` (holding pred.json) into `directory`.

    joints: (N, 21, 3) m, HO3D order, OpenGL frame; vertices: (N, 778, 3) m, OpenGL frame.
    Raises ValueError for wrong shapes, non-finite values or points not in front of the camera (z >= 0).
    Returns (json path, zip path).
    """
    joints = np.asarray(joints, dtype=np.float64)
    vertices = np.asarray(vertices, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (N, {NUM_JOINTS}, 3), got {joints.shape}")
    if vertices.shape != (len(joints), NUM_MANO_VERTICES, 3):
        raise ValueError(f"vertices must have shape ({len(joints)}, {NUM_MANO_VERTICES}, 3), got {vertices.shape}")
    if not (np.all(np.isfinite(joints)) and np.all(np.isfinite(vertices))):
        raise ValueError("submission values must be finite")
    behind = np.flatnonzero((joints[..., 2] >= 0).any(axis=1) | (vertices[..., 2] >= 0).any(axis=1))
    if len(behind):
        raise ValueError(f"frame {behind[0]} has points with z >= 0: not in the OpenGL camera frame (z must be negative)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path, zip_path = directory / SUBMISSION_JSON, directory / SUBMISSION_ZIP
    with json_path.open("w") as stream:
        json.dump([joints.tolist(), vertices.tolist()], stream)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(json_path, arcname=SUBMISSION_JSON)
    LOG.info("wrote %d frames to %s and %s", len(joints), json_path, zip_path)
    return json_path, zip_path


def read_submission(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """(joints (N, 21, 3), vertices (N, 778, 3)) from a `pred.json` or a `pred.zip` holding one."""
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read(SUBMISSION_JSON))
    else:
        data = json.loads(path.read_text())
    if not (isinstance(data, list) and len(data) == 2 and len(data[0]) == len(data[1])):
        raise ValueError(f"{path}: expected [joints, vertices] with one entry per frame")
    return np.asarray(data[0], dtype=np.float64), np.asarray(data[1], dtype=np.float64)


def scale_translation_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """HO3D's scale-translation alignment: scale pred so its wrist -> middle-knuckle bone has the true
    length, then put its wrist on the true wrist. pred, gt: (..., 21, 3) m, our joint order."""
    start, end = _SCALE_BONE
    pred_bone = np.linalg.norm(pred[..., end, :] - pred[..., start, :], axis=-1)[..., None, None]
    gt_bone = np.linalg.norm(gt[..., end, :] - gt[..., start, :], axis=-1)[..., None, None]
    scale = np.where(pred_bone > 0, gt_bone / np.where(pred_bone > 0, pred_bone, 1.0), 1.0)
    scaled = pred * scale
    return scaled - scaled[..., start:start + 1, :] + gt[..., start:start + 1, :]


def joint_metrics(pred_joints: np.ndarray, gt_joints: np.ndarray) -> Dict[str, float]:
    """HO3D's joint metrics over M frames: errors in mm, AUC in [0, 1] (see the module docstring).

    pred_joints, gt_joints: (M, 21, 3) m, the same frame and joint order (ours), predictions placed at the
    true wrist.
    """
    pred_joints, gt_joints = np.asarray(pred_joints, np.float64), np.asarray(gt_joints, np.float64)
    if pred_joints.shape != gt_joints.shape or pred_joints.shape[1:] != (NUM_JOINTS, 3) or len(pred_joints) == 0:
        raise ValueError(f"joints must be matching non-empty (M, 21, 3) arrays, got {pred_joints.shape} and {gt_joints.shape}")
    errors = np.linalg.norm(pred_joints - gt_joints, axis=-1)
    aligned_errors = np.linalg.norm(procrustes_align(pred_joints, gt_joints) - gt_joints, axis=-1)
    return {
        "frames": int(len(pred_joints)),
        "mpjpe_mm": 1000.0 * float(errors.mean()),
        "auc_joints": auc(errors),
        "pa_mpjpe_mm": 1000.0 * float(aligned_errors.mean()),
        "pa_auc_joints": auc(aligned_errors),
        "sc_tr_mpjpe_mm": 1000.0 * float(mpjpe(scale_translation_align(pred_joints, gt_joints), gt_joints).mean()),
    }


def mesh_metrics(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> Dict[str, float]:
    """HO3D's mesh metrics over M frames: MPVPE and PA-MPVPE in mm, F-scores at 5 / 15 mm of the unaligned
    and the Procrustes-aligned meshes. pred_vertices, gt_vertices: (M, 778, 3) m, the same frame."""
    pred_vertices, gt_vertices = np.asarray(pred_vertices, np.float64), np.asarray(gt_vertices, np.float64)
    if pred_vertices.shape != gt_vertices.shape or pred_vertices.shape[1:] != (NUM_MANO_VERTICES, 3) or len(pred_vertices) == 0:
        raise ValueError(f"vertices must be matching non-empty (M, 778, 3) arrays, got {pred_vertices.shape} and {gt_vertices.shape}")
    aligned = procrustes_align(pred_vertices, gt_vertices)
    result = {
        "frames": int(len(pred_vertices)),
        "mpvpe_mm": 1000.0 * float(mpjpe(pred_vertices, gt_vertices).mean()),
        "pa_mpvpe_mm": 1000.0 * float(mpjpe(aligned, gt_vertices).mean()),
    }
    for threshold in F_SCORE_THRESHOLDS:
        millimetres = int(round(threshold * 1000))
        result[f"f_score_{millimetres}mm"] = float(f_score(pred_vertices, gt_vertices, threshold).mean())
        result[f"pa_f_score_{millimetres}mm"] = float(f_score(aligned, gt_vertices, threshold).mean())
    return result


def evaluate_predictions(predictions: Predictions, model_points: Mapping[str, np.ndarray]) -> Dict[str, object]:
    """Every HO3D metric the ground truth of `predictions` allows: "joints" (frames with 3D joints and a
    wrist), "mesh" (frames with true vertices and a wrist, when vertices were kept) and "object" (ADD-0.1D,
    see `object_scores`); "frames" counts all frames. Errors are reported in mm."""
    report: Dict[str, object] = {"frames": len(predictions)}
    placed = predictions.root_valid
    joints = np.flatnonzero(placed & predictions.joints_valid)
    if len(joints):
        root = predictions.root[joints, None, :]
        report["joints"] = joint_metrics(predictions.joints[joints] + root, predictions.gt_joints[joints] + root)
    mesh = np.flatnonzero(placed & predictions.vertices_valid)
    if len(mesh) and predictions.vertices.shape[1] == NUM_MANO_VERTICES:
        root = predictions.root[mesh, None, :]
        report["mesh"] = mesh_metrics(predictions.vertices[mesh] + root, predictions.gt_vertices[mesh] + root)
    errors = object_errors(predictions, model_points)
    if np.any(~np.isnan(errors)):
        report["object"] = object_scores(predictions, errors, exclude_from_average=HO3D_UNSEEN_OBJECTS)
    return report


__all__ = [
    "HO3D_FROM_OUTPUT_JOINTS",
    "HO3D_UNSEEN_OBJECTS",
    "OPENCV_TO_OPENGL",
    "SUBMISSION_JSON",
    "SUBMISSION_ZIP",
    "evaluate_predictions",
    "from_ho3d_joint_order",
    "joint_metrics",
    "mesh_metrics",
    "opencv_to_opengl",
    "read_submission",
    "scale_translation_align",
    "submission_arrays",
    "to_ho3d_joint_order",
]
