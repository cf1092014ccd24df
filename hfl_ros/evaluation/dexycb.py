"""DexYCB s0 evaluation: hand MPJPE and PA-MPJPE (mm), object ADD-0.1D / ADD-S-0.1D per object and average.

Protocol (HFL-Net's, Table 3 and 4 of the paper):

* Split: the official s0 "test" split (subjects 3-10, the fifth sequence of every five), all eight
  cameras, BOTH hands: left-hand frames are mirrored to right hands before the network (the reader
  mirrors image, intrinsics and every target), and their errors are measured in that mirrored frame, where
  every distance equals the one in the original frame.
* Hand: frames with 3D joint ground truth. MPJPE = mean joint distance with the predicted wrist-relative
  joints placed at the ground-truth wrist (metres throughout; no unit mixing); PA-MPJPE after a per-frame
  similarity (Procrustes) alignment. Both are means over frames of the per-frame mean over 21 joints.
* Object: frames with the grasped object's pose. Error = ADD (mean distance of corresponding model
  vertices under the predicted and the true pose), or ADD-S (mean distance from each true-posed vertex to
  the nearest predicted-posed vertex) for the symmetric objects 024_bowl, 036_wood_block,
  052_extra_large_clamp and 061_foam_brick. A frame counts as correct when the error is <= 0.1 x the object
  diameter; a frame where no pose was found counts as wrong. Scores are per object; "average" is the mean
  of the per-object scores.
"""

from typing import Dict, Mapping

import numpy as np

from hfl_ros.evaluation.evaluate import Predictions, hand_errors, object_errors, object_scores

#: DexYCB objects scored with ADD-S (treated as symmetric, marked * in the paper's Table 4).
SYMMETRIC_OBJECTS = ("024_bowl", "036_wood_block", "052_extra_large_clamp", "061_foam_brick")
PROTOCOL = (
    "DexYCB s0 test split, all cameras, right and left hands (left mirrored to right); MPJPE with the "
    "ground-truth wrist, PA-MPJPE after per-frame similarity alignment (mm); object ADD-0.1D, ADD-S-0.1D "
    f"for {', '.join(SYMMETRIC_OBJECTS)}; no pose = failure; average = mean over objects"
)


def evaluate_predictions(predictions: Predictions, model_points: Mapping[str, np.ndarray]) -> Dict[str, object]:
    """The DexYCB report of `predictions`: {"protocol", "frames", "hand": {"frames", "mpjpe_mm",
    "pa_mpjpe_mm", "right_frames", "left_frames"}, "object": {"per_object", "frames", "average",
    "symmetric"}} (sections without ground truth are left out).

    model_points: object name -> (P, 3) m model vertices in the object frame of the dataset's poses.
    """
    report: Dict[str, object] = {"protocol": PROTOCOL, "frames": len(predictions)}
    errors = hand_errors(predictions)
    if len(errors["index"]):
        mirrored = predictions.mirrored[errors["index"]]
        report["hand"] = {
            "frames": int(len(errors["index"])),
            "right_frames": int((~mirrored).sum()),
            "left_frames": int(mirrored.sum()),
            "mpjpe_mm": 1000.0 * float(errors["mpjpe"].mean()),
            "pa_mpjpe_mm": 1000.0 * float(errors["pa_mpjpe"].mean()),
        }
    pose_errors = object_errors(predictions, model_points, symmetric=SYMMETRIC_OBJECTS)
    if np.any(~np.isnan(pose_errors)):
        scores = object_scores(predictions, pose_errors)
        scores["symmetric"] = [name for name in SYMMETRIC_OBJECTS if name in scores["per_object"]]
        report["object"] = scores
    return report


__all__ = ["PROTOCOL", "SYMMETRIC_OBJECTS", "evaluate_predictions"]
