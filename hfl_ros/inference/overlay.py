"""Drawing an estimate over its image: hand mesh and skeleton, object box and control points, the input boxes,
optionally the ground truth, and a legend naming what each colour shows (OpenCV)."""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from hfl_ros.constants import BOX_EDGES, JOINT_PARENTS, NUM_CONTROL_POINTS, NUM_JOINTS
from hfl_ros.geometry.camera import project_points, transform_points
from hfl_ros.objects import ObjectModel
from hfl_ros.results import HandObjectEstimate

Colour = Tuple[int, int, int]
#: RGB colours of the overlay's elements.
HAND_MESH_COLOUR: Colour = (230, 180, 150)
SKELETON_COLOUR: Colour = (255, 60, 60)
OBJECT_BOX_COLOUR: Colour = (60, 220, 60)
CONTROL_POINT_COLOUR: Colour = (60, 140, 255)
BOX_COLOUR: Colour = (255, 255, 0)
GROUND_TRUTH_COLOUR: Colour = (255, 0, 255)
BANNER_COLOUR: Colour = (255, 0, 0)
LEGEND_TEXT_COLOUR: Colour = (255, 255, 255)
LEGEND_BACKGROUND: Colour = (0, 0, 0)
MESH_ALPHA = 0.45
LEGEND_ALPHA = 0.6
#: Text size of the legend and the box labels, and of the banner, for an image whose shorter side is
#: TEXT_REFERENCE_SIZE px; other images scale them (within TEXT_SCALE_RANGE).
LEGEND_FONT_SCALE = 0.42
BANNER_FONT_SCALE = 0.6
TEXT_REFERENCE_SIZE = 480
TEXT_SCALE_RANGE = (0.6, 2.0)
FONT = cv2.FONT_HERSHEY_SIMPLEX

#: Legend entry kinds: how the swatch is drawn.
SWATCH_FILL, SWATCH_LINE, SWATCH_DOTS, SWATCH_RECTANGLE = "fill", "line", "dots", "rectangle"


@dataclass(frozen=True)
class OverlayTruth:
    """Ground truth drawn beside the estimate, in GROUND_TRUTH_COLOUR.

    joints: (21, 3) m, camera frame, JOINT_NAMES order.
    object_rotation: (3, 3) camera-from-object, object_translation: (3,) m camera frame; None when unknown.
    object_points: (21, 3) m, object frame, the object's control points (its box is drawn from their first
      eight); None: those of the object model given to the drawing function.
    """

    joints: np.ndarray
    object_rotation: Optional[np.ndarray] = None
    object_translation: Optional[np.ndarray] = None
    object_points: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        for name, shape in (("joints", (NUM_JOINTS, 3)), ("object_rotation", (3, 3)), ("object_translation", (3,)),
                            ("object_points", (NUM_CONTROL_POINTS, 3))):
            value = getattr(self, name)
            if value is not None and np.shape(value) != shape:
                raise ValueError(f"OverlayTruth.{name} must have shape {shape}, got {np.shape(value)}")


@dataclass(frozen=True)
class LegendEntry:
    """One legend line: `label` beside a swatch of `colour` drawn as `kind` (SWATCH_*)."""

    label: str
    colour: Colour
    kind: str


def _pixel(point: np.ndarray) -> tuple:
    return int(round(float(point[0]))), int(round(float(point[1])))


def _draw_skeleton(canvas: np.ndarray, joints_2d: np.ndarray, colour: Colour, thickness: int, radius: int) -> None:
    """joints_2d: (21, 2) px image."""
    for child, parent in enumerate(JOINT_PARENTS):
        if parent >= 0:
            cv2.line(canvas, _pixel(joints_2d[parent]), _pixel(joints_2d[child]), colour, thickness, cv2.LINE_AA)
    for joint in joints_2d:
        cv2.circle(canvas, _pixel(joint), radius, colour, -1, cv2.LINE_AA)


def _draw_object_box(canvas: np.ndarray, K: np.ndarray, control_points: np.ndarray, rotation: np.ndarray,
                     translation: np.ndarray, colour: Colour, thickness: int) -> bool:
    """The object's 3D box (control_points (21, 3) m, object frame) under the pose (rotation (3, 3)
    camera-from-object, translation (3,) m); False when a corner lies behind the camera (nothing drawn)."""
    corners = transform_points(control_points, rotation, translation)
    if not np.all(corners[:, 2] > 0):
        return False
    pixels = project_points(corners, K)
    for a, b in BOX_EDGES:
        cv2.line(canvas, _pixel(pixels[a]), _pixel(pixels[b]), colour, thickness, cv2.LINE_AA)
    return True


def _draw_truth(canvas: np.ndarray, K: np.ndarray, truth: OverlayTruth, object_model: Optional[ObjectModel]) -> List[str]:
    """Draws the ground truth thin; returns what was drawn ("hand", "object")."""
    drawn = []
    if np.all(truth.joints[:, 2] > 0):
        _draw_skeleton(canvas, project_points(truth.joints, K), GROUND_TRUTH_COLOUR, 1, 2)
        drawn.append("hand")
    points = truth.object_points if truth.object_points is not None else \
        None if object_model is None else object_model.control_points
    if points is not None and truth.object_rotation is not None and truth.object_translation is not None:
        if _draw_object_box(canvas, K, points, truth.object_rotation, truth.object_translation,
                            GROUND_TRUTH_COLOUR, 1):
            drawn.append("object")
    return drawn


def _text_scale(image: np.ndarray) -> float:
    low, high = TEXT_SCALE_RANGE
    return float(np.clip(min(image.shape[:2]) / TEXT_REFERENCE_SIZE, low, high))


def draw_legend(canvas: np.ndarray, entries: List[LegendEntry], right: bool = False) -> None:
    """Draws `entries` in the bottom-left (`right`: bottom-right) corner of `canvas` (H, W, 3) uint8 RGB, in
    place: a dark translucent panel, one swatch and label per line; nothing where the panel does not fit."""
    if not entries:
        return
    scale = _text_scale(canvas)
    font_scale = LEGEND_FONT_SCALE * scale
    stroke = max(2, int(round(2 * scale)))
    text_height = cv2.getTextSize("Ag", FONT, font_scale, 1)[0][1]
    line_height = int(round(text_height * 1.9))
    swatch = int(round(text_height * 2.2))
    margin = max(3, int(round(5 * scale)))
    width = swatch + 3 * margin + max(cv2.getTextSize(e.label, FONT, font_scale, 1)[0][0] for e in entries)
    height = line_height * len(entries) + margin
    x0 = canvas.shape[1] - margin - width if right else margin
    y0 = canvas.shape[0] - margin - height
    x1, y1 = x0 + width, canvas.shape[0] - margin
    if x0 < 0 or x1 >= canvas.shape[1] or y0 < 0:
        return
    panel = canvas.copy()
    cv2.rectangle(panel, (x0, y0), (x1, y1), LEGEND_BACKGROUND, -1)
    canvas[:] = cv2.addWeighted(panel, LEGEND_ALPHA, canvas, 1 - LEGEND_ALPHA, 0)
    for row, entry in enumerate(entries):
        middle = y0 + margin + row * line_height + line_height // 2 - margin // 2
        left, right = x0 + margin, x0 + margin + swatch
        top, bottom = middle - text_height // 2 - 1, middle + text_height // 2 + 1
        if entry.kind == SWATCH_FILL:
            cv2.rectangle(canvas, (left, top), (right, bottom), entry.colour, -1)
        elif entry.kind == SWATCH_RECTANGLE:
            cv2.rectangle(canvas, (left, top), (right, bottom), entry.colour, 1)
        elif entry.kind == SWATCH_DOTS:
            for x in np.linspace(left + stroke, right - stroke, 3):
                cv2.circle(canvas, (int(round(x)), middle), stroke, entry.colour, -1, cv2.LINE_AA)
        else:
            cv2.line(canvas, (left, middle), (right, middle), entry.colour, stroke, cv2.LINE_AA)
        cv2.putText(canvas, entry.label, (right + margin, middle + text_height // 2), FONT, font_scale,
                    LEGEND_TEXT_COLOUR, 1, cv2.LINE_AA)


def _draw_parts(canvas: np.ndarray, K: np.ndarray, estimate: HandObjectEstimate, object_model: Optional[ObjectModel],
                label: str) -> List[LegendEntry]:
    """Draw one estimate on `canvas` (H, W, 3) uint8 RGB in place (K (3, 3) px); label: the name its input boxes
    carry ("" = "hand" / "object", else "<label> hand" / "<label> object"). Returns its legend entries."""
    entries: List[LegendEntry] = []
    hand = estimate.hand
    if np.all(hand.vertices[:, 2] > 0):
        mesh_layer = canvas.copy()
        projected = project_points(hand.vertices, K)
        triangles = np.round(projected[hand.faces]).astype(np.int32)
        depth = hand.vertices[hand.faces, 2].mean(axis=1)
        for triangle in triangles[np.argsort(-depth)]:
            cv2.fillConvexPoly(mesh_layer, triangle, HAND_MESH_COLOUR, lineType=cv2.LINE_AA)
        canvas[:] = cv2.addWeighted(mesh_layer, MESH_ALPHA, canvas, 1 - MESH_ALPHA, 0)
        entries.append(LegendEntry("hand mesh (estimate)", HAND_MESH_COLOUR, SWATCH_FILL))
    _draw_skeleton(canvas, hand.joints_2d, SKELETON_COLOUR, 2, 3)
    entries.append(LegendEntry("hand joints (estimate)", SKELETON_COLOUR, SWATCH_LINE))

    obj = estimate.object
    if obj.has_pose and object_model is not None and _draw_object_box(
            canvas, K, object_model.control_points, obj.rotation, obj.translation, OBJECT_BOX_COLOUR, 2):
        entries.append(LegendEntry("object box (pose estimate)", OBJECT_BOX_COLOUR, SWATCH_LINE))
    for point in obj.control_points_2d:
        cv2.circle(canvas, _pixel(point), 3, CONTROL_POINT_COLOUR, -1, cv2.LINE_AA)
    if len(obj.control_points_2d):
        entries.append(LegendEntry("object control points (2D)", CONTROL_POINT_COLOUR, SWATCH_DOTS))
    for box, name in ((hand.box, "hand"), (obj.box, "object")):
        cv2.rectangle(canvas, _pixel(box[:2]), _pixel(box[2:]), BOX_COLOUR, 1)
        cv2.putText(canvas, f"{label} {name}" if label else name, (_pixel(box[:2])[0] + 2, _pixel(box[:2])[1] - 3),
                    FONT, LEGEND_FONT_SCALE * _text_scale(canvas), BOX_COLOUR, 1, cv2.LINE_AA)
    entries.append(LegendEntry("input boxes (hand, object)", BOX_COLOUR, SWATCH_RECTANGLE))
    return entries


def _finish(canvas: np.ndarray, entries: List[LegendEntry], banner: str, legend: bool) -> np.ndarray:
    """The banner at the top and the legend (each entry once, first-drawn order) bottom left of `canvas`."""
    if banner:
        scale = _text_scale(canvas)
        cv2.putText(canvas, banner, (int(8 * scale), int(22 * scale)), FONT, BANNER_FONT_SCALE * scale, BANNER_COLOUR,
                    max(2, int(round(2 * scale))), cv2.LINE_AA)
    if legend:
        draw_legend(canvas, list(dict.fromkeys(entries)))
    return canvas


def draw_estimate(image: np.ndarray, K: np.ndarray, estimate: HandObjectEstimate,
                  object_model: Optional[ObjectModel] = None, banner: str = "",
                  truth: Optional[OverlayTruth] = None, legend: bool = True) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with the estimate drawn on it.

    K: (3, 3) intrinsics of `image`; object_model: to draw the object's 3D box when a pose exists (and the
    true box); banner: text written at the top (e.g. a warning that the weights are untrained); truth:
    ground truth drawn thin in GROUND_TRUTH_COLOUR; legend: a legend of the elements drawn, bottom left.
    """
    canvas = image.copy()
    entries = _draw_parts(canvas, K, estimate, object_model, "")
    if truth is not None:
        drawn = _draw_truth(canvas, K, truth, object_model)
        if drawn:
            entries.append(LegendEntry(f"ground truth ({', '.join(drawn)})", GROUND_TRUTH_COLOUR, SWATCH_LINE))
    return _finish(canvas, entries, banner, legend)


def draw_hands(image: np.ndarray, K: np.ndarray, hands: Sequence[Tuple[str, HandObjectEstimate, Optional[ObjectModel]]],
               banner: str = "", legend: bool = True) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with every hand's estimate drawn, one banner and one legend.

    K: (3, 3) px; hands: (side "right" / "left", estimate, its object model or None) per hand; with more than
    one hand, the input boxes are named by side ("right hand", "left object").
    """
    canvas = image.copy()
    entries: List[LegendEntry] = []
    for side, estimate, object_model in hands:
        entries += _draw_parts(canvas, K, estimate, object_model, side if len(hands) > 1 else "")
    return _finish(canvas, entries, banner, legend)


def draw_truth(image: np.ndarray, K: np.ndarray, truth: OverlayTruth, object_model: Optional[ObjectModel] = None,
               legend: bool = True) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB (e.g. an overlay drawn elsewhere, such as the node's debug image)
    with the ground truth drawn thin in GROUND_TRUTH_COLOUR and, with `legend`, its legend entry in the
    bottom-right corner. K: (3, 3) intrinsics of `image`; object_model: for the object box when
    truth.object_points is None."""
    canvas = image.copy()
    drawn = _draw_truth(canvas, K, truth, object_model)
    if legend and drawn:
        draw_legend(canvas, [LegendEntry(f"ground truth ({', '.join(drawn)})", GROUND_TRUTH_COLOUR, SWATCH_LINE)],
                    right=True)
    return canvas
