"""A procedural hand in the MANO file format, for tests and demos without the licensed model.

Geometry (right hand, MANO canonical frame, metres), oriented like the real MANO template:
fingers point along -x, the thumb side is +z, the palm faces -y (back of the hand +y). Unlike the
real template (wrist joint near x = +9.6 cm, mesh centred near the middle knuckle) the wrist joint
sits at the origin. The left hand is the mirror image (x negated, faces flipped), like real MANO's.

Mesh: a generalised-cylinder palm (rings from the wrist to the knuckles) whose knuckle ring splits
into the four finger tubes (with two-triangle webs between neighbours), a thumb tube grown from a
hole in the palm's thumb side, and a rounded cap with one apex vertex per finger: that apex is the
fingertip vertex, placed at ``FINGERTIP_VERTICES_RIGHT`` / ``_LEFT``. 778 vertices and 1538 faces,
one connected, consistently oriented manifold surface. Euler's formula fixes what a mesh with these
counts can be: a closed surface would need 2 * 778 - 4 = 1552 faces, so, like the real MANO mesh,
it is open at the wrist, with a boundary loop of 2 * 778 - 2 - 1538 = 16 vertices.

Every joint is the mean of one ring of vertices centred on it (the wrist ring, each finger's
knuckle / PIP / DIP ring, the thumb-hole loop and the thumb's rings), so ``J_regressor @
v_template`` is exactly the kinematic skeleton.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from hfl_ros.constants import (
    FINGERTIP_VERTICES_LEFT,
    FINGERTIP_VERTICES_RIGHT,
    MANO_PARENTS,
    NUM_HAND_POSE,
    NUM_MANO_FACES,
    NUM_MANO_JOINTS,
    NUM_MANO_VERTICES,
    SIDES,
)
from hfl_ros.geometry.mesh import vertex_normals
from hfl_ros.mano.layer import MANO_FILE_NAMES
from hfl_ros.mano.pickle_io import write_mano_pickle

#: Root entry of kintree_table's parent row, as the official files store it (uint32 -1).
KINTREE_ROOT = 2**32 - 1

#: Vertices per finger / thumb cross-section ring; half of them on the back, half on the front.
RING_SIZE = 10
HALF_RING = RING_SIZE // 2
#: Open boundary at the wrist (see the module docstring) and the ring between it and the palm.
#: Vertex budget: 16 + 27 + 7 palm rings x 40 + 5 chains x (9 rings x 10 + apex) = 778.
WRIST_RING_SIZE = 16
TRANSITION_RING_SIZE = 27
#: Palm parameter u (0 = wrist ring, 1 = knuckle ring) of the transition ring and the palm rings.
TRANSITION_U = 0.06
PALM_RING_U = (0.14, 0.34, 0.5, 0.64, 0.77, 0.89, 1.0)
#: Palm ring columns (knuckle-ring positions) and ring rows whose 4 quads are cut out for the thumb.
THUMB_HOLE_COLUMNS = (36, 37, 38, 39, 0)
THUMB_HOLE_ROWS = (0, 1)

WRIST_HALF_WIDTH = 0.027
WRIST_HALF_THICKNESS = 0.013
PALM_HALF_THICKNESS = 0.0145
#: Nominal palm length (wrist to knuckles) used for the skinning blend along the palm.
PALM_LENGTH = 0.09
#: Skinning blend half-width along a chain and across the knuckles, metres.
BLEND_WIDTH = 0.007
KNUCKLE_BLEND_WIDTH = 0.006
KNUCKLE_LATERAL_SIGMA = 0.005
THUMB_BASE_SIGMA = 0.012
#: Outward bulge of a vertex per unit of (3 - trace R) of a joint, times its blend 4 w (1 - w).
POSE_BULGE = 0.0015


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
#: Per-finger factor of the length-skew shape direction (index longer, little shorter).
LENGTH_SKEW = (1.0, 0.4, -1.0, -0.4)
#: Fingertip vertex ids in chain order (index, middle, little, ring, thumb) from the constants'
#: (thumb, index, middle, ring, little) order.
_TIP_ORDER = (1, 2, 4, 3, 0)
#: Ring positions along a chain, as fractions of each bone: proximal (last = second joint),
#: middle (last = third joint), distal (last = start of the rounded cap).
_PROXIMAL_FRACTIONS = (0.25, 0.6, 1.0)
_MIDDLE_FRACTIONS = (0.5, 1.0)
_DISTAL_FRACTIONS = (0.5, 1.0)
#: Cap rings: angles on the quarter circle from the cap start to the apex.
_CAP_ANGLES = (np.radians(40.0), np.radians(70.0))
#: Cross-section taper from the base (1) to the tip of a chain.
_TAPER = 0.2


def _chain_joints(chain: int) -> Tuple[int, int, int]:
    return 1 + 3 * chain, 2 + 3 * chain, 3 + 3 * chain


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _unit(vector: Sequence[float]) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def _ring_angles(count: int) -> np.ndarray:
    return 2 * np.pi * (np.arange(count) + 0.5) / count


class _Builder:
    """Accumulates vertices with their rig metadata and faces."""

    def __init__(self) -> None:
        self.points: List[np.ndarray] = []
        self.chain: List[int] = []  # -1 palm, 0-3 fingers, 4 thumb
        self.centre: List[np.ndarray] = []  # ring centre (chains), the apex itself, or zero (palm)
        self.s: List[float] = []  # arc length from the chain base; palm: 0
        self.u: List[float] = []  # palm parameter; chains: nan
        self.knuckle_of: List[int] = []  # knuckle-ring vertex: its finger chain, else -1
        self.faces: List[Tuple[int, int, int]] = []

    @property
    def count(self) -> int:
        return len(self.points)

    def add(self, points: np.ndarray, chain: int, centre: np.ndarray, s: float, u: float,
            knuckle_of: Sequence[int] = ()) -> np.ndarray:
        points = np.atleast_2d(points)
        ids = np.arange(self.count, self.count + len(points))
        centres = np.broadcast_to(centre, points.shape)
        knuckles = list(knuckle_of) if len(knuckle_of) else [-1] * len(points)
        for point, middle, knuckle in zip(points, centres, knuckles):
            self.points.append(np.array(point))
            self.chain.append(chain)
            self.centre.append(np.array(middle))
            self.s.append(s)
            self.u.append(u)
            self.knuckle_of.append(knuckle)
        return ids

    def quad_strip(self, lower: Sequence[int], upper: Sequence[int], skip: Sequence[int] = ()) -> None:
        """Quads between two aligned loops of equal size; ``skip``: quad indices left open."""
        count = len(lower)
        for k in range(count):
            if k in skip:
                continue
            a, b = lower[k], lower[(k + 1) % count]
            c, d = upper[(k + 1) % count], upper[k]
            self.faces += [(a, b, c), (a, c, d)]

    def zip_loops(self, lower: Sequence[int], t_lower: np.ndarray, upper: Sequence[int], t_upper: np.ndarray) -> None:
        """Triangle strip between two loops of any sizes, merged by their angular parameter t in [0, 1)."""
        lower = [lower[i] for i in np.argsort(t_lower, kind="stable")]
        upper = [upper[i] for i in np.argsort(t_upper, kind="stable")]
        t_lower, t_upper = np.sort(t_lower, kind="stable"), np.sort(t_upper, kind="stable")
        na, nb = len(lower), len(upper)
        i = j = 0
        while i < na or j < nb:
            next_lower = t_lower[i + 1] if i + 1 < na else t_lower[0] + 1.0
            next_upper = t_upper[j + 1] if j + 1 < nb else t_upper[0] + 1.0
            if j == nb or (i < na and next_lower <= next_upper):
                self.faces.append((lower[i % na], lower[(i + 1) % na], upper[j % nb]))
                i += 1
            else:
                self.faces.append((lower[i % na], upper[(j + 1) % nb], upper[j % nb]))
                j += 1

    def fan(self, loop: Sequence[int], apex: int) -> None:
        for k in range(len(loop)):
            self.faces.append((loop[k], loop[(k + 1) % len(loop)], apex))


# ----------------------------------------------------------------------------------------------
# Palm


def _knuckle_layout() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knuckle ring: points (40, 3), finger chain of each (40,), position in that finger's ring (40,).

    Back halves run across the palm from the thumb side, front halves back again, so each finger's
    ring (back then front) goes round its MCP with the angle increasing in the (z, y) plane.
    """
    angles = _ring_angles(RING_SIZE)
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
def _palm_frame() -> Dict[str, float]:
    knuckles, _, _ = _knuckle_layout()
    z_max, z_min = knuckles[:, 2].max(), knuckles[:, 2].min()
    return {"z_centre": 0.5 * (z_max + z_min), "half_width": 0.5 * (z_max - z_min)}


def _knuckle_x(z: np.ndarray) -> np.ndarray:
    """Knuckle-line x at lateral position z (interpolated between the MCP joints)."""
    bases = np.array([FINGERS[c].base for c in LATERAL_ORDER[::-1]])
    return np.interp(z, bases[:, 2], bases[:, 0])


def _palm_centre_z(u: np.ndarray) -> np.ndarray:
    return u * _palm_frame()["z_centre"]


def _palm_half_width(u: float) -> float:
    return WRIST_HALF_WIDTH + u * (_palm_frame()["half_width"] - WRIST_HALF_WIDTH)


def _palm_half_thickness(u: float) -> float:
    return WRIST_HALF_THICKNESS + _smoothstep(u / 0.5) * (PALM_HALF_THICKNESS - WRIST_HALF_THICKNESS)


def _knuckle_blend(u: float) -> float:
    return float(_smoothstep((u - 0.5) / 0.5))


def _palm_ring(u: float, knuckles: np.ndarray) -> np.ndarray:
    """40 palm-ring points at parameter u, column k lined up with knuckle point k."""
    frame = _palm_frame()
    zn = (knuckles[:, 2] - frame["z_centre"]) / frame["half_width"]
    z = _palm_centre_z(u) + zn * _palm_half_width(u)
    rounded = np.maximum((1.0 - np.abs(zn) ** 4) ** 0.25, 0.35)
    y_profile = np.sign(knuckles[:, 1]) * _palm_half_thickness(u) * rounded
    blend = _knuckle_blend(u)
    y = (1 - blend) * y_profile + blend * knuckles[:, 1]
    x = u * ((1 - blend) * _knuckle_x(knuckles[:, 2]) + blend * knuckles[:, 0])
    return np.stack((x, y, z), axis=1)


def _oval_ring(u: float, count: int) -> np.ndarray:
    """Rounded (superelliptic) palm cross-section of ``count`` points at parameter u."""
    angles = _ring_angles(count)
    cos, sin = np.cos(angles), np.sin(angles)
    z = _palm_centre_z(u) + _palm_half_width(u) * np.sign(cos) * np.abs(cos) ** 0.7
    y = _palm_half_thickness(u) * np.sign(sin) * np.abs(sin) ** 0.7
    x = u * _knuckle_x(z)
    return np.stack((x, y, z), axis=1)


def _angle_parameter(points: np.ndarray, centre: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Angle of each point about ``centre`` in the (e1, e2) plane, as a fraction of a turn in [0, 1)."""
    offsets = points - centre
    return np.mod(np.arctan2(offsets @ e2, offsets @ e1) / (2 * np.pi), 1.0)


def _palm_parameter(points: np.ndarray, u: float) -> np.ndarray:
    centre = np.array([0.0, 0.0, float(_palm_centre_z(u))])
    return _angle_parameter(points, centre, np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]))


def _build_palm(builder: _Builder) -> Dict[str, object]:
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


# ----------------------------------------------------------------------------------------------
# Fingers and thumb


def _chain_stations(bones: Sequence[float], cap_radius: float) -> Tuple[np.ndarray, np.ndarray, float]:
    """Arc lengths of a chain's rings (9) and their cap scale, and the apex arc length."""
    l1, l2, l3 = bones
    cap_start = l1 + l2 + l3 - cap_radius
    stations = [l1 * f for f in _PROXIMAL_FRACTIONS] + [l1 + l2 * f for f in _MIDDLE_FRACTIONS]
    stations += [l1 + l2 + (cap_start - l1 - l2) * f for f in _DISTAL_FRACTIONS]
    scales = [1.0] * len(stations)
    for angle in _CAP_ANGLES:
        stations.append(cap_start + cap_radius * np.sin(angle))
        scales.append(np.cos(angle))
    return np.array(stations), np.array(scales), l1 + l2 + l3


def _chain_centreline(base: np.ndarray, bones: Sequence[float], directions: Sequence[np.ndarray], s: float) -> np.ndarray:
    """Point at arc length s along a chain of straight bones with the given unit directions."""
    point, travelled = np.array(base, dtype=np.float64), 0.0
    for length, direction in zip(bones, directions):
        step = min(max(s - travelled, 0.0), length)
        point = point + step * direction
        travelled += length
    return point + max(s - travelled, 0.0) * directions[-1]


def _ring_axis(bones: Sequence[float], directions: Sequence[np.ndarray], s: float) -> np.ndarray:
    """Ring plane normal at arc length s: the bone direction, bisected exactly at a joint."""
    joint_s = np.cumsum(bones)[:-1]
    for index, at in enumerate(joint_s):
        if np.isclose(s, at):
            return _unit(directions[index] + directions[index + 1])
        if s < at:
            return directions[index]
    return directions[-1]


def _ring_frame(axis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cross-section axes (e1 lateral, e2 dorsal ~ +y) of a ring whose normal is ``axis``."""
    up = np.array([0.0, 1.0, 0.0])
    e2 = _unit(up - (up @ axis) * axis)
    return np.cross(e2, axis), e2


def _build_chain(builder: _Builder, chain: int, base: np.ndarray, bones: Sequence[float],
                 directions: Sequence[np.ndarray], half_width: float, half_thickness: float,
                 root_loop: Sequence[int], root_t: Optional[np.ndarray]) -> Tuple[int, List[np.ndarray]]:
    """Rings, cap and apex of one chain bridged to ``root_loop`` (aligned ring if ``root_t`` is None,
    else zipped by the angle parameter ``root_t``). Returns the apex id and the two joint rings."""
    stations, scales, apex_s = _chain_stations(bones, half_thickness * (1 - _TAPER))
    joint_s = np.cumsum(bones)[:-1]
    angles = _ring_angles(RING_SIZE)
    previous, joint_rings = list(root_loop), []
    for index, (station, scale) in enumerate(zip(stations, scales)):
        axis = _ring_axis(bones, directions, station)
        e1, e2 = _ring_frame(axis)
        centre = _chain_centreline(base, bones, directions, station)
        size = scale * (1 - _TAPER * station / apex_s)
        section = half_width * np.cos(angles)[:, None] * e1 + half_thickness * np.sin(angles)[:, None] * e2
        ids = builder.add(centre + size * section, chain, centre, float(station), np.nan)
        if index == 0 and root_t is not None:
            builder.zip_loops(previous, root_t, list(ids), angles / (2 * np.pi))
        else:
            builder.quad_strip(previous, ids)
        if np.any(np.isclose(station, joint_s)):
            joint_rings.append(ids)
        previous = list(ids)
    apex = _chain_centreline(base, bones, directions, apex_s)
    apex_id = int(builder.add(apex, chain, apex, float(apex_s), np.nan)[0])
    builder.fan(previous, apex_id)
    return apex_id, joint_rings


def _outward_normal(loop_points: np.ndarray, away_from: np.ndarray) -> np.ndarray:
    """Newell normal of a closed polygon, signed to point away from ``away_from``."""
    normal = _unit(np.cross(loop_points, np.roll(loop_points, -1, axis=0)).sum(axis=0))
    return normal if normal @ (loop_points.mean(axis=0) - away_from) > 0 else -normal


def _thumb_geometry(points: np.ndarray, hole: Sequence[int]) -> Tuple[np.ndarray, List[np.ndarray]]:
    """CMC joint (mean of the hole loop) and the thumb's three bone directions."""
    loop = points[list(hole)]
    cmc = loop.mean(axis=0)
    palm_axis_point = np.array([cmc[0], 0.0, float(_palm_centre_z(PALM_RING_U[THUMB_HOLE_ROWS[0]]))])
    normal = _outward_normal(loop, palm_axis_point)
    distal = _unit(THUMB_DIRECTION)
    return cmc, [_unit(THUMB_BASE_NORMAL_WEIGHT * normal + distal), distal, distal]


def _orient_consistently(faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Flip faces so that every shared edge runs in opposite directions, then point normals outward."""
    faces = faces.copy()
    edge_faces: Dict[Tuple[int, int], List[int]] = {}
    for index, face in enumerate(faces.tolist()):
        for k in range(3):
            a, b = face[k], face[(k + 1) % 3]
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(index)
    if any(len(owners) > 2 for owners in edge_faces.values()):
        raise RuntimeError("procedural hand mesh is not manifold")

    def directed(index: int) -> set:
        face = faces[index].tolist()
        return {(face[k], face[(k + 1) % 3]) for k in range(3)}

    visited = np.zeros(len(faces), dtype=bool)
    for seed in range(len(faces)):
        if visited[seed]:
            continue
        visited[seed] = True
        stack = [seed]
        while stack:
            current = stack.pop()
            for a, b in directed(current):
                for other in edge_faces[(min(a, b), max(a, b))]:
                    if other == current:
                        continue
                    clash = (a, b) in directed(other)
                    if visited[other]:
                        if clash:
                            raise RuntimeError("procedural hand mesh is not orientable")
                        continue
                    if clash:
                        faces[other] = faces[other][::-1]
                    visited[other] = True
                    stack.append(other)
    corners = points[faces]
    # Signed volume about the wrist-ring centre (the origin), where closing the wrist hole adds nothing.
    volume = np.einsum("fi,fi->f", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    return faces if volume > 0 else faces[:, ::-1].copy()


@dataclass(frozen=True)
class _Rig:
    """Right hand in build order, with the metadata the rig arrays are computed from."""

    points: np.ndarray  # (778, 3) m
    faces: np.ndarray  # (1538, 3)
    chain: np.ndarray  # (778,) -1 palm, 0-3 fingers, 4 thumb
    centre: np.ndarray  # (778, 3) m ring centre (chains), the point itself (apexes) or zero (palm)
    s: np.ndarray  # (778,) m arc length from the chain base
    u: np.ndarray  # (778,) palm parameter (nan on chains)
    knuckle_of: np.ndarray  # (778,) finger chain of a knuckle-ring vertex, else -1
    apexes: Tuple[int, ...]  # fingertip vertex per chain
    joint_rings: Tuple[np.ndarray, ...]  # (16,) vertex ids averaged into each joint
    chain_bases: np.ndarray  # (5, 3) m
    chain_bones: Tuple[Tuple[float, float, float], ...]


@lru_cache(maxsize=1)
def _build_right_rig() -> _Rig:
    builder = _Builder()
    palm = _build_palm(builder)
    minus_x = np.array([-1.0, 0.0, 0.0])
    joint_rings: List[np.ndarray] = [np.asarray(palm["wrist"])] + [np.empty(0, dtype=np.int64)] * (NUM_MANO_JOINTS - 1)
    apexes, bases, bones = [], [], []
    for chain in range(len(FINGERS) + 1):
        if chain == THUMB_CHAIN:
            points = np.array(builder.points)
            base, directions = _thumb_geometry(points, palm["hole"])
            chain_bones, half_width, half_thickness = THUMB_BONES, THUMB_HALF_WIDTH, THUMB_HALF_THICKNESS
            root_loop = palm["hole"]
            e1, e2 = _ring_frame(directions[0])
            root_t = _angle_parameter(points[root_loop], base, e1, e2)
        else:
            spec = FINGERS[chain]
            base, directions = np.asarray(spec.base, dtype=np.float64), [minus_x] * 3
            chain_bones, half_width, half_thickness = spec.bones, spec.half_width, spec.half_thickness
            root_loop, root_t = palm["finger_loops"][chain], None
        apex, rings = _build_chain(builder, chain, base, chain_bones, directions, half_width,
                                   half_thickness, root_loop, root_t)
        first, second, third = _chain_joints(chain)
        joint_rings[first] = np.asarray(root_loop)
        joint_rings[second], joint_rings[third] = rings
        apexes.append(apex)
        bases.append(base)
        bones.append(tuple(chain_bones))
    points = np.array(builder.points)
    faces = _orient_consistently(np.array(builder.faces, dtype=np.int64), points)
    if len(points) != NUM_MANO_VERTICES or len(faces) != NUM_MANO_FACES:
        raise RuntimeError(f"procedural hand has {len(points)} vertices and {len(faces)} faces")
    return _Rig(
        points=points, faces=faces, chain=np.array(builder.chain), centre=np.array(builder.centre),
        s=np.array(builder.s), u=np.array(builder.u), knuckle_of=np.array(builder.knuckle_of),
        apexes=tuple(apexes), joint_rings=tuple(joint_rings),
        chain_bases=np.array(bases), chain_bones=tuple(bones),
    )


# ----------------------------------------------------------------------------------------------
# Rig arrays (right hand, build order)


def _regressor(rig: _Rig) -> np.ndarray:
    regressor = np.zeros((NUM_MANO_JOINTS, NUM_MANO_VERTICES))
    for joint, ring in enumerate(rig.joint_rings):
        regressor[joint, ring] = 1.0 / len(ring)
    return regressor


def _skinning_weights(rig: _Rig) -> np.ndarray:
    """(778, 16): smooth blends along each chain and across the knuckles; rows sum to 1."""
    weights = np.zeros((NUM_MANO_VERTICES, NUM_MANO_JOINTS))
    for chain, chain_bones in enumerate(rig.chain_bones):
        rows = np.flatnonzero(rig.chain == chain)
        s = rig.s[rows]
        steps = [_sigmoid((s - at) / BLEND_WIDTH) for at in (0.0, chain_bones[0], chain_bones[0] + chain_bones[1])]
        first, second, third = _chain_joints(chain)
        weights[rows, 0] = 1 - steps[0]
        weights[rows, first] = steps[0] - steps[1]
        weights[rows, second] = steps[1] - steps[2]
        weights[rows, third] = steps[2]
    palm = np.flatnonzero(rig.chain == -1)
    points = rig.points[palm]
    hole = rig.points[list(rig.joint_rings[_chain_joints(THUMB_CHAIN)[0]])]
    hole_distance = np.linalg.norm(points[:, None] - hole[None], axis=-1).min(axis=1)
    thumb = 0.5 * np.exp(-((hole_distance / THUMB_BASE_SIGMA) ** 2))
    knuckle = _sigmoid((rig.u[palm] - 1.0) * PALM_LENGTH / KNUCKLE_BLEND_WIDTH)
    mcp_z = np.array([spec.base[2] for spec in FINGERS])
    lateral = np.exp(-0.5 * ((points[:, 2:3] - mcp_z[None]) / KNUCKLE_LATERAL_SIGMA) ** 2)
    lateral /= lateral.sum(axis=1, keepdims=True)
    weights[palm, 0] = (1 - thumb) * (1 - knuckle)
    weights[palm, _chain_joints(THUMB_CHAIN)[0]] = thumb
    for chain in range(len(FINGERS)):
        weights[palm, _chain_joints(chain)[0]] = (1 - thumb) * knuckle * lateral[:, chain]
    return weights


def _posedirs(rig: _Rig, weights: np.ndarray) -> np.ndarray:
    """(778, 3, 135): an outward bulge of POSE_BULGE * (3 - trace R_j) at joint j's blend zone."""
    normals = vertex_normals(rig.points, rig.faces)
    posedirs = np.zeros((NUM_MANO_VERTICES, 3, (NUM_MANO_JOINTS - 1) * 9))
    for joint in range(1, NUM_MANO_JOINTS):
        blend = 4 * weights[:, joint] * (1 - weights[:, joint])
        for diagonal in (0, 4, 8):
            posedirs[:, :, 9 * (joint - 1) + diagonal] = -POSE_BULGE * blend[:, None] * normals
    return posedirs


#: Shape directions that displace the palm surface without carrying the thumb chain along by itself.
_BASE_FOLLOWING_DIRECTIONS = (5, 9)


def _shapedirs(rig: _Rig) -> np.ndarray:
    """(778, 3, 10) linear shape directions, metres per unit beta:
    0 size (about the wrist), 1 finger length, 2 palm width, 3 palm length, 4 finger girth,
    5 palm thickness, 6 thumb length, 7 index-to-little length skew, 8 finger spread, 9 fullness.
    Every direction moves each joint ring rigidly or radially about its centre, so joints follow;
    4 (girth) leaves the skeleton where it is."""
    points, chain = rig.points, rig.chain
    on_chain, on_finger = chain >= 0, (chain >= 0) & (chain < THUMB_CHAIN)
    on_thumb, on_palm = chain == THUMB_CHAIN, chain == -1
    on_knuckle = rig.knuckle_of >= 0
    base = np.zeros_like(points)
    base[on_chain] = rig.chain_bases[chain[on_chain]]
    base[on_knuckle] = rig.chain_bases[rig.knuckle_of[on_knuckle]]
    along = np.where(on_chain[:, None], rig.centre - base, 0.0)
    u = np.nan_to_num(rig.u)
    radial = np.where(on_chain[:, None], points - rig.centre, 0.0)
    radial[on_knuckle] = points[on_knuckle] - base[on_knuckle]
    palm_only = on_palm & ~on_knuckle
    radial[palm_only, 1:] = points[palm_only, 1:] - np.stack((np.zeros(palm_only.sum()), _palm_centre_z(u[palm_only])), axis=1)
    anchor = np.where((on_chain | on_knuckle)[:, None], base, points)
    z_centre = _palm_frame()["z_centre"]
    unit_x, unit_y, unit_z = np.eye(3)
    skew = np.zeros(NUM_MANO_VERTICES)
    skew[on_finger] = np.asarray(LENGTH_SKEW)[chain[on_finger]]
    spread = np.zeros(NUM_MANO_VERTICES)
    spread[on_finger] = np.linalg.norm(along[on_finger], axis=1) * (base[on_finger, 2] - z_centre) / 0.02
    thickness = np.where(palm_only, 1 - np.array([_knuckle_blend(value) for value in u]), 0.0)
    directions = (
        0.05 * points,
        0.07 * along * on_finger[:, None],
        0.07 * (anchor[:, 2:3] - z_centre) * unit_z,
        0.07 * anchor[:, 0:1] * unit_x,
        0.12 * radial * (on_chain | on_knuckle)[:, None],
        0.12 * (thickness * points[:, 1])[:, None] * unit_y,
        0.08 * along * on_thumb[:, None],
        0.07 * along * skew[:, None],
        0.06 * spread[:, None] * unit_z,
        0.05 * radial,
    )
    shapedirs = np.stack(directions, axis=2)
    # Where the palm surface moves the thumb's base (the hole loop), the thumb follows rigidly.
    hole = list(rig.joint_rings[_chain_joints(THUMB_CHAIN)[0]])
    for direction in _BASE_FOLLOWING_DIRECTIONS:
        shapedirs[on_thumb, :, direction] += shapedirs[hole, :, direction].mean(axis=0)
    return shapedirs


def _hands_components() -> np.ndarray:
    """(45, 45) orthonormal rows: the DCT-II basis."""
    n = np.arange(NUM_HAND_POSE)
    basis = np.cos(np.pi * (n[None] + 0.5) * n[:, None] / NUM_HAND_POSE) * np.sqrt(2.0 / NUM_HAND_POSE)
    basis[0] /= np.sqrt(2.0)
    return basis


def _curl_pose(finger_flex: Sequence[float]) -> np.ndarray:
    """(45,) articulation with each finger joint flexed about +z (curling towards the palm, -y)."""
    pose = np.zeros((NUM_MANO_JOINTS - 1, 3))
    for chain in range(len(FINGERS)):
        for level, joint in enumerate(_chain_joints(chain)):
            pose[joint - 1, 2] = finger_flex[level]
    thumb = _chain_joints(THUMB_CHAIN)
    for level, joint in enumerate(thumb):
        pose[joint - 1] = 0.5 * finger_flex[level] * np.array([0.3, 0.3, 1.0])
    return pose.reshape(-1)


def _hands_mean() -> np.ndarray:
    return _curl_pose((0.15, 0.1, 0.06))


def _hands_coeffs(components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(8, 45) PCA coefficients of curls from flat to a loose fist, relative to the mean."""
    poses = np.stack([_curl_pose((0.9 * a, 1.1 * a, 0.7 * a)) for a in np.linspace(0.0, 1.0, 8)])
    return (poses - mean) @ components.T


def _kintree_table() -> np.ndarray:
    parents = [KINTREE_ROOT if parent < 0 else parent for parent in MANO_PARENTS]
    return np.array([parents, list(range(NUM_MANO_JOINTS))], dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# Sides: mirror and fingertip placement


def _pose_mirror_signs() -> np.ndarray:
    """(45,) sign flips of the articulation vector under x -> -x (axis-angle (x, y, z) -> (x, -y, -z))."""
    return np.tile(np.array([1.0, -1.0, -1.0]), NUM_MANO_JOINTS - 1)


def _posedir_mirror_signs() -> np.ndarray:
    """(3, 135) sign of each posedirs entry under x -> -x: output component c times (R - I)[a, b]."""
    mirror = np.array([-1.0, 1.0, 1.0])
    entry = np.outer(mirror, mirror).reshape(-1)
    return mirror[:, None] * np.tile(entry, NUM_MANO_JOINTS - 1)[None]


def _vertex_order(apexes: Sequence[int], side: str) -> np.ndarray:
    """New-to-old vertex map putting each chain's apex at the side's fingertip vertex id."""
    table = FINGERTIP_VERTICES_RIGHT if side == "right" else FINGERTIP_VERTICES_LEFT
    targets = {table[_TIP_ORDER[chain]]: apex for chain, apex in enumerate(apexes)}
    remaining = iter(v for v in range(NUM_MANO_VERTICES) if v not in set(apexes))
    return np.array([targets[new] if new in targets else next(remaining) for new in range(NUM_MANO_VERTICES)])


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


@lru_cache(maxsize=2)
def _side_arrays(side: str) -> Dict[str, object]:
    rig = _build_right_rig()
    weights = _skinning_weights(rig)
    arrays = {
        "v_template": rig.points,
        "shapedirs": _shapedirs(rig),
        "posedirs": _posedirs(rig, weights),
        "J_regressor": _regressor(rig),
        "weights": weights,
        "f": rig.faces,
    }
    components, mean = _hands_components(), _hands_mean()
    coeffs = _hands_coeffs(components, mean)
    if side == "left":
        arrays["v_template"] = arrays["v_template"] * np.array([-1.0, 1.0, 1.0])
        arrays["shapedirs"] = arrays["shapedirs"] * np.array([-1.0, 1.0, 1.0])[None, :, None]
        arrays["posedirs"] = arrays["posedirs"] * _posedir_mirror_signs()[None]
        arrays["f"] = arrays["f"][:, ::-1]
        components, mean = components * _pose_mirror_signs()[None], mean * _pose_mirror_signs()
    order = _vertex_order(rig.apexes, side)
    inverse = np.argsort(order)
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        arrays[key] = arrays[key][order]
    arrays["J_regressor"] = arrays["J_regressor"][:, order]
    arrays["f"] = inverse[arrays["f"]].astype(np.uint32)
    arrays["J"] = arrays["J_regressor"] @ arrays["v_template"]
    arrays.update(
        kintree_table=_kintree_table(), hands_components=components, hands_mean=mean,
        hands_coeffs=coeffs, bs_type="lrotmin", bs_style="lbs",
    )
    for value in arrays.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return arrays


def procedural_mano_arrays(side: str = "right") -> Dict[str, object]:
    """The procedural model as plain arrays, keyed like the official pickle.

    Keys: v_template (778, 3) m; shapedirs (778, 3, 10); posedirs (778, 3, 135); J_regressor
    (16, 778) dense; weights (778, 16); f (1538, 3) uint32; J (16, 3) m; kintree_table (2, 16);
    hands_components (45, 45); hands_mean (45,) rad; hands_coeffs (8, 45); bs_type; bs_style.
    Arrays are fresh writable copies.
    """
    _check_side(side)
    return {key: np.array(value) if isinstance(value, np.ndarray) else value
            for key, value in _side_arrays(side).items()}


def procedural_mano_dir(cache_dir: Union[str, Path]) -> Path:
    """Directory holding procedural MANO_RIGHT.pkl and MANO_LEFT.pkl (written when absent or stale).

    Returns ``cache_dir``, usable as ``load_mano(cache_dir, side)``.
    """
    directory = Path(cache_dir)
    for side in SIDES:
        write_mano_pickle(directory / MANO_FILE_NAMES[side], procedural_mano_arrays(side))
    return directory


#: `mano_dir` value of a run configuration that selects the procedural hand.
PROCEDURAL_MANO = "procedural"


def resolve_mano_dir(mano_dir: Union[str, Path], output_dir: Union[str, Path]) -> Path:
    """The MANO folder a run loads: `mano_dir`, or for PROCEDURAL_MANO the procedural hand written under
    `<output_dir>/procedural_mano` (atomically and with the same bytes, so concurrent processes agree)."""
    if str(mano_dir) != PROCEDURAL_MANO:
        return Path(mano_dir)
    return procedural_mano_dir(Path(output_dir) / "procedural_mano")
