"""Drawing an estimate over its image: hand mesh and skeleton, object box and control points (OpenCV)."""

from typing import Optional

import cv2
import numpy as np

from hfl_ros.constants import BOX_EDGES, JOINT_PARENTS
from hfl_ros.geometry.camera import project_points, transform_points
from hfl_ros.objects import ObjectModel
from hfl_ros.results import HandObjectEstimate

HAND_MESH_COLOUR = (230, 180, 150)
SKELETON_COLOUR = (255, 60, 60)
OBJECT_BOX_COLOUR = (60, 220, 60)
CONTROL_POINT_COLOUR = (60, 140, 255)
BOX_COLOUR = (255, 255, 0)
MESH_ALPHA = 0.45


def _pixel(point: np.ndarray) -> tuple:
    return int(round(float(point[0]))), int(round(float(point[1])))


def draw_estimate(image: np.ndarray, K: np.ndarray, estimate: HandObjectEstimate,
                  object_model: Optional[ObjectModel] = None, banner: str = "") -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with the estimate drawn on it.

    K: (3, 3) intrinsics of `image`; object_model: to draw the object's 3D box when a pose exists;
    banner: text written at the top (e.g. a warning that the weights are untrained).
    """
    canvas = image.copy()
    hand = estimate.hand
    if np.all(hand.vertices[:, 2] > 0):
        mesh_layer = canvas.copy()
        projected = project_points(hand.vertices, K)
        triangles = np.round(projected[hand.faces]).astype(np.int32)
        depth = hand.vertices[hand.faces, 2].mean(axis=1)
        for triangle in triangles[np.argsort(-depth)]:
            cv2.fillConvexPoly(mesh_layer, triangle, HAND_MESH_COLOUR, lineType=cv2.LINE_AA)
        canvas = cv2.addWeighted(mesh_layer, MESH_ALPHA, canvas, 1 - MESH_ALPHA, 0)
    for child, parent in enumerate(JOINT_PARENTS):
        if parent >= 0:
            cv2.line(canvas, _pixel(hand.joints_2d[parent]), _pixel(hand.joints_2d[child]), SKELETON_COLOUR, 2, cv2.LINE_AA)
    for joint in hand.joints_2d:
        cv2.circle(canvas, _pixel(joint), 3, SKELETON_COLOUR, -1, cv2.LINE_AA)

    obj = estimate.object
    if obj.has_pose and object_model is not None:
        corners = transform_points(object_model.control_points, obj.rotation, obj.translation)
        if np.all(corners[:, 2] > 0):
            pixels = project_points(corners, K)
            for a, b in BOX_EDGES:
                cv2.line(canvas, _pixel(pixels[a]), _pixel(pixels[b]), OBJECT_BOX_COLOUR, 2, cv2.LINE_AA)
    for point in obj.control_points_2d:
        cv2.circle(canvas, _pixel(point), 3, CONTROL_POINT_COLOUR, -1, cv2.LINE_AA)
    for box in (hand.box, obj.box):
        cv2.rectangle(canvas, _pixel(box[:2]), _pixel(box[2:]), BOX_COLOUR, 1)
    if banner:
        cv2.putText(canvas, banner, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 0, 0), 2, cv2.LINE_AA)
    return canvas
