"""The palm: a generalised cylinder of rings from the open wrist boundary to the knuckle ring, which splits
into the four finger loops (with webs between neighbours) and leaves a hole for the thumb."""

from functools import lru_cache
from typing import Dict, Tuple

import numpy as np

from hfl_ros.mano.procedural.builder import MeshBuilder, ring_angles
from hfl_ros.mano.procedural.dimensions import (
    FINGERS,
    HALF_RING,
    LATERAL_ORDER,
    PALM_HALF_THICKNESS,
    PALM_RING_U,
    RING_SIZE,
    THUMB_HOLE_COLUMNS,
    THUMB_HOLE_ROWS,
    TRANSITION_RING_SIZE,
    TRANSITION_U,
    WRIST_HALF_THICKNESS,
    WRIST_HALF_WIDTH,
    WRIST_RING_SIZE,
)


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _knuckle_layout() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knuckle ring: points (40, 3), finger chain of each (40,), position in that finger's ring (40,).

    Back halves run across the palm from the thumb side, front halves back again, so each finger's
    ring (back then front) goes round its MCP with the angle increasing in the (z, y) plane.
    """
    angles = ring_angles(RING_SIZE)
    points, chains, slots = [], [], []
    halves = ((LATERAL_ORDER, range(HALF_RING)), (LATERAL_ORDER[::-1], range(HALF_RING, RING_SIZE)))
    for order, slot_range in halves:
        for chain in order:
            spec = FINGERS[chain]
            for slot in slot_range:
                offset = np.array([0.0, spec.half_thickness * np.sin(angles[slot]), spec.half_width * np.cos(angles[slot])])
                points.append(np.asarray(spec.base) + offset)
                chains.append(chain)
                slots.append(slot)
    return np.array(points), np.array(chains), np.array(slots)


@lru_cache(maxsize=1)
def palm_frame() -> Dict[str, float]:
    knuckles, _, _ = _knuckle_layout()
    z_max, z_min = knuckles[:, 2].max(), knuckles[:, 2].min()
    return {"z_centre": 0.5 * (z_max + z_min), "half_width": 0.5 * (z_max - z_min)}


def _knuckle_x(z: np.ndarray) -> np.ndarray:
    """Knuckle-line x at lateral position z (interpolated between the MCP joints)."""
    bases = np.array([FINGERS[c].base for c in LATERAL_ORDER[::-1]])
    return np.interp(z, bases[:, 2], bases[:, 0])


def palm_centre_z(u: np.ndarray) -> np.ndarray:
    return u * palm_frame()["z_centre"]


def _palm_half_width(u: float) -> float:
    return WRIST_HALF_WIDTH + u * (palm_frame()["half_width"] - WRIST_HALF_WIDTH)


def _palm_half_thickness(u: float) -> float:
    return WRIST_HALF_THICKNESS + smoothstep(u / 0.5) * (PALM_HALF_THICKNESS - WRIST_HALF_THICKNESS)


def knuckle_blend(u: float) -> float:
    return float(smoothstep((u - 0.5) / 0.5))


def _palm_ring(u: float, knuckles: np.ndarray) -> np.ndarray:
    """40 palm-ring points at parameter u, column k lined up with knuckle point k."""
    frame = palm_frame()
    zn = (knuckles[:, 2] - frame["z_centre"]) / frame["half_width"]
    z = palm_centre_z(u) + zn * _palm_half_width(u)
    rounded = np.maximum((1.0 - np.abs(zn) ** 4) ** 0.25, 0.35)
    y_profile = np.sign(knuckles[:, 1]) * _palm_half_thickness(u) * rounded
    blend = knuckle_blend(u)
    y = (1 - blend) * y_profile + blend * knuckles[:, 1]
    x = u * ((1 - blend) * _knuckle_x(knuckles[:, 2]) + blend * knuckles[:, 0])
    return np.stack((x, y, z), axis=1)


def _oval_ring(u: float, count: int) -> np.ndarray:
    """Rounded (superelliptic) palm cross-section of ``count`` points at parameter u."""
    angles = ring_angles(count)
    cos, sin = np.cos(angles), np.sin(angles)
    z = palm_centre_z(u) + _palm_half_width(u) * np.sign(cos) * np.abs(cos) ** 0.7
    y = _palm_half_thickness(u) * np.sign(sin) * np.abs(sin) ** 0.7
    x = u * _knuckle_x(z)
    return np.stack((x, y, z), axis=1)


def angle_parameter(points: np.ndarray, centre: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Angle of each point about ``centre`` in the (e1, e2) plane, as a fraction of a turn in [0, 1)."""
    offsets = points - centre
    return np.mod(np.arctan2(offsets @ e2, offsets @ e1) / (2 * np.pi), 1.0)


def _palm_parameter(points: np.ndarray, u: float) -> np.ndarray:
    centre = np.array([0.0, 0.0, float(palm_centre_z(u))])
    return angle_parameter(points, centre, np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]))


def build_palm(builder: MeshBuilder) -> Dict[str, object]:
    knuckles, knuckle_chain, knuckle_slot = _knuckle_layout()
    wrist = _oval_ring(0.0, WRIST_RING_SIZE)
    wrist_ids = builder.add(wrist, -1, np.zeros(3), 0.0, 0.0)
    transition = _oval_ring(TRANSITION_U, TRANSITION_RING_SIZE)
    transition_ids = builder.add(transition, -1, np.zeros(3), 0.0, TRANSITION_U)
    builder.zip_loops(wrist_ids, _palm_parameter(wrist, 0.0), transition_ids, _palm_parameter(transition, TRANSITION_U))
    rings = []
    for u in PALM_RING_U:
        points = _palm_ring(u, knuckles)
        knuckle_of = knuckle_chain if u == 1.0 else ()
        rings.append(builder.add(points, -1, np.zeros(3), 0.0, u, knuckle_of))
    first = _palm_ring(PALM_RING_U[0], knuckles)
    builder.zip_loops(transition_ids, _palm_parameter(transition, TRANSITION_U), rings[0], _palm_parameter(first, PALM_RING_U[0]))
    hole_quads = [k for k in THUMB_HOLE_COLUMNS[:-1]]
    for row, (lower, upper) in enumerate(zip(rings[:-1], rings[1:])):
        builder.quad_strip(lower, upper, skip=hole_quads if row == THUMB_HOLE_ROWS[0] else ())
    lower, upper = rings[THUMB_HOLE_ROWS[0]], rings[THUMB_HOLE_ROWS[1]]
    hole = [lower[k] for k in THUMB_HOLE_COLUMNS] + [upper[k] for k in THUMB_HOLE_COLUMNS[::-1]]
    knuckle_ids = rings[-1]
    finger_loops = {}
    for chain in range(len(FINGERS)):
        members = np.flatnonzero(knuckle_chain == chain)
        members = members[np.argsort(knuckle_slot[members])]
        finger_loops[chain] = [int(knuckle_ids[k]) for k in members]
    for left, right in zip(LATERAL_ORDER[:-1], LATERAL_ORDER[1:]):
        a, b = finger_loops[left], finger_loops[right]
        quad = (a[HALF_RING - 1], b[0], b[RING_SIZE - 1], a[HALF_RING])
        builder.faces += [(quad[0], quad[1], quad[2]), (quad[0], quad[2], quad[3])]
    return {"wrist": wrist_ids, "hole": hole, "finger_loops": finger_loops}
