"""Proportions of the procedural hand (right hand, MANO canonical frame, metres): the finger and thumb
chains, the palm's cross-sections and ring layout, and which MANO joints each chain drives."""

from dataclasses import dataclass
from typing import Tuple

#: Vertices per finger / thumb cross-section ring; half of them on the back, half on the front.
RING_SIZE = 10
HALF_RING = RING_SIZE // 2

#: Open boundary at the wrist (see hfl_ros.mano.procedural) and the ring between it and the palm.
#: Vertex budget: 16 + 27 + 7 palm rings x 40 + 5 chains x (9 rings x 10 + apex) = 778.
WRIST_RING_SIZE = 16
TRANSITION_RING_SIZE = 27

#: Palm parameter u (0 = wrist ring, 1 = knuckle ring) of the transition ring and the palm rings.
TRANSITION_U = 0.06
PALM_RING_U = (0.14, 0.34, 0.5, 0.64, 0.77, 0.89, 1.0)

#: Palm ring columns (knuckle-ring positions) and ring rows whose 4 quads are cut out for the thumb.
THUMB_HOLE_COLUMNS = (36, 37, 38, 39, 0)
THUMB_HOLE_ROWS = (0, 1)

#: Half axes of the wrist ring and of the palm's thickness, m.
WRIST_HALF_WIDTH = 0.027
WRIST_HALF_THICKNESS = 0.013
PALM_HALF_THICKNESS = 0.0145


@dataclass(frozen=True)
class ChainSpec:
    """One finger (or the thumb) of the right hand.

    base: (3,) m, MCP (thumb: CMC) joint; set for the thumb from the palm hole at build time.
    bones: (3,) m, base -> second joint -> third joint -> tip, along the rest-pose centreline.
    half_width, half_thickness: m, cross-section half axes at the base (tapering to the tip).
    """

    name: str
    base: Tuple[float, float, float]
    bones: Tuple[float, float, float]
    half_width: float
    half_thickness: float


#: The four fingers in MANO joint order (index, middle, little, ring); thumb separately.
FINGERS: Tuple[ChainSpec, ...] = (
    ChainSpec("index", (-0.088, 0.0, 0.026), (0.036, 0.022, 0.021), 0.0092, 0.0085),
    ChainSpec("middle", (-0.092, 0.0, 0.006), (0.039, 0.024, 0.021), 0.0095, 0.0088),
    ChainSpec("little", (-0.077, 0.0, -0.031), (0.029, 0.017, 0.018), 0.0080, 0.0075),
    ChainSpec("ring", (-0.087, 0.0, -0.013), (0.037, 0.023, 0.020), 0.0090, 0.0083),
)
THUMB_BONES = (0.036, 0.028, 0.028)
THUMB_HALF_WIDTH = 0.0100
THUMB_HALF_THICKNESS = 0.0090

#: Rest direction of the thumb's two distal bones; the first bone leaves the palm between the
#: hole's outward normal and this direction.
THUMB_DIRECTION = (-0.80, -0.15, 0.58)
THUMB_BASE_NORMAL_WEIGHT = 0.6

#: Chain index of the thumb (chains 0-3 are FINGERS); chain c drives MANO joints 1 + 3c .. 3 + 3c.
THUMB_CHAIN = 4

#: Fingers across the palm from the thumb side (+z) to the little-finger side (-z).
LATERAL_ORDER = (0, 1, 3, 2)


def chain_joints(chain: int) -> Tuple[int, int, int]:
    return 1 + 3 * chain, 2 + 3 * chain, 3 + 3 * chain
