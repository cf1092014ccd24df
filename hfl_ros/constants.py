"""Index tables and fixed sizes shared by the whole package.

Every table here is a named constant so that code never carries a bare index list.
"""

from typing import Dict, Tuple

#: Side of the square network input crop, pixels.
CROP_SIZE = 256
#: Side of the ROI-aligned feature maps (hand and object), cells.
ROI_SIZE = 32
#: Downscale factor from the crop to the FPN's P2 map.
FEATURE_STRIDE = 4

NUM_JOINTS = 21
NUM_MANO_JOINTS = 16
NUM_MANO_VERTICES = 778
NUM_MANO_FACES = 1538
NUM_CONTROL_POINTS = 21
#: Hand sides, in the order of MANO's files (MANO_RIGHT.pkl, MANO_LEFT.pkl).
SIDES: Tuple[str, ...] = ("right", "left")
#: MANO shape parameters (betas).
NUM_BETAS = 10
#: MANO articulation parameters: 15 non-root joints x 3 axis-angle components.
NUM_HAND_POSE = (NUM_MANO_JOINTS - 1) * 3

#: Output joint order (HFL-Net / manopth): wrist, then thumb, index, middle, ring, little, base to tip.
JOINT_NAMES: Tuple[str, ...] = (
    "wrist",
    "thumb1", "thumb2", "thumb3", "thumb4",
    "index1", "index2", "index3", "index4",
    "middle1", "middle2", "middle3", "middle4",
    "ring1", "ring2", "ring3", "ring4",
    "little1", "little2", "little3", "little4",
)
WRIST = 0
#: Output joint index of each fingertip.
FINGERTIP_JOINTS: Dict[str, int] = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "little": 20}

#: MediaPipe Hands' 21 landmarks (its HandLandmark enum), in MediaPipe's index order.
MEDIAPIPE_LANDMARK_NAMES: Tuple[str, ...] = (
    "WRIST",
    "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)
#: For each MediaPipe landmark, the index of the same joint in our order (JOINT_NAMES). The orders coincide:
#: both go wrist, thumb, index, middle, ring, little, base to tip, and MANO's thumb joints 1-3 sit at the
#: CMC, MCP and IP joints. Convert with `hfl_ros.retargeting`. (HO3D and MANO use another order:
#: `hfl_ros.evaluation.ho3d`.)
MEDIAPIPE_FROM_OUTPUT_JOINTS: Tuple[int, ...] = tuple(range(NUM_JOINTS))

#: MANO's 16 kinematic joints are ordered wrist, index 1-3, middle 1-3, little 1-3, ring 1-3,
#: thumb 1-3; their parents in that order (-1 = root).
MANO_PARENTS: Tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

#: Fingertip vertices of the MANO mesh, in output finger order (thumb, index, middle, ring, little).
FINGERTIP_VERTICES_RIGHT: Tuple[int, ...] = (745, 317, 444, 556, 673)
FINGERTIP_VERTICES_LEFT: Tuple[int, ...] = (745, 317, 445, 556, 673)

#: For each output joint, its index in the 21-row stack [16 MANO joints, 5 fingertips]
#: (fingertips occupy rows 16-20 in thumb, index, middle, ring, little order).
MANO_TO_OUTPUT_JOINTS: Tuple[int, ...] = (
    0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20,
)

#: Parent of each output joint (-1 = root), for drawing the skeleton.
JOINT_PARENTS: Tuple[int, ...] = (
    -1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19,
)

#: Object control points: 8 box corners, 12 edge midpoints, the box centre last.
#: Each entry gives, per axis, 0 = min, 1 = max, 0.5 = middle of the axis-aligned box.
CONTROL_POINT_LAYOUT: Tuple[Tuple[float, float, float], ...] = (
    (0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0),
    (0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 1),
    (0, 0.5, 0), (1, 0.5, 0), (0.5, 1, 0), (0.5, 0, 0),
    (0, 0.5, 1), (1, 0.5, 1), (0.5, 1, 1), (0.5, 0, 1),
    (0, 1, 0.5), (0, 0, 0.5), (1, 1, 0.5), (1, 0, 0.5),
    (0.5, 0.5, 0.5),
)
CONTROL_POINT_CENTRE = 20

#: The 12 edges of the control-point box as pairs of corner indices (for drawing).
BOX_EDGES: Tuple[Tuple[int, int], ...] = (
    (0, 1), (1, 3), (3, 2), (2, 0),
    (4, 5), (5, 7), (7, 6), (6, 4),
    (0, 4), (1, 5), (2, 6), (3, 7),
)

#: Scale the object decoder's per-cell offsets are expressed in (HFL-Net's grid of 10 units).
OBJECT_OFFSET_SCALE = 10.0
#: Expansion of the hand box about its centre when cropping (image -> crop).
CROP_HAND_EXPANSION = 1.5
#: Expansion of the object box about its centre when cropping: the published loaders expand the box of the
#: projected control points by the same factor as the hand box.
CROP_OBJECT_EXPANSION = 1.5
#: Expansion of the 2D-joint box about its centre to form the network's hand box.
HAND_BOX_EXPANSION = 1.1
