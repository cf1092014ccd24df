"""The fingers and the thumb: tapering tubes of rings along straight bones, bent at the joints, closed by a
rounded cap whose apex is the fingertip vertex; the thumb grows from the palm's hole."""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.mano.procedural.builder import MeshBuilder, ring_angles, unit
from hfl_ros.mano.procedural.dimensions import (
    PALM_RING_U,
    RING_SIZE,
    THUMB_BASE_NORMAL_WEIGHT,
    THUMB_DIRECTION,
    THUMB_HOLE_ROWS,
)
from hfl_ros.mano.procedural.palm import palm_centre_z

#: Ring positions along a chain, as fractions of each bone: proximal (last = second joint),
#: middle (last = third joint), distal (last = start of the rounded cap).
_PROXIMAL_FRACTIONS = (0.25, 0.6, 1.0)
_MIDDLE_FRACTIONS = (0.5, 1.0)
_DISTAL_FRACTIONS = (0.5, 1.0)

#: Cap rings: angles on the quarter circle from the cap start to the apex.
_CAP_ANGLES = (np.radians(40.0), np.radians(70.0))

#: Cross-section taper from the base (1) to the tip of a chain.
_TAPER = 0.2


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
            return unit(directions[index] + directions[index + 1])
        if s < at:
            return directions[index]
    return directions[-1]


def ring_frame(axis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cross-section axes (e1 lateral, e2 dorsal ~ +y) of a ring whose normal is ``axis``."""
    up = np.array([0.0, 1.0, 0.0])
    e2 = unit(up - (up @ axis) * axis)
    return np.cross(e2, axis), e2


def build_chain(builder: MeshBuilder, chain: int, base: np.ndarray, bones: Sequence[float],
                 directions: Sequence[np.ndarray], half_width: float, half_thickness: float,
                 root_loop: Sequence[int], root_t: Optional[np.ndarray]) -> Tuple[int, List[np.ndarray]]:
    """Rings, cap and apex of one chain bridged to ``root_loop`` (aligned ring if ``root_t`` is None,
    else zipped by the angle parameter ``root_t``). Returns the apex id and the two joint rings."""
    stations, scales, apex_s = _chain_stations(bones, half_thickness * (1 - _TAPER))
    joint_s = np.cumsum(bones)[:-1]
    angles = ring_angles(RING_SIZE)
    previous, joint_rings = list(root_loop), []
    for index, (station, scale) in enumerate(zip(stations, scales)):
        axis = _ring_axis(bones, directions, station)
        e1, e2 = ring_frame(axis)
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
    normal = unit(np.cross(loop_points, np.roll(loop_points, -1, axis=0)).sum(axis=0))
    return normal if normal @ (loop_points.mean(axis=0) - away_from) > 0 else -normal


def thumb_geometry(points: np.ndarray, hole: Sequence[int]) -> Tuple[np.ndarray, List[np.ndarray]]:
    """CMC joint (mean of the hole loop) and the thumb's three bone directions."""
    loop = points[list(hole)]
    cmc = loop.mean(axis=0)
    palm_axis_point = np.array([cmc[0], 0.0, float(palm_centre_z(PALM_RING_U[THUMB_HOLE_ROWS[0]]))])
    normal = _outward_normal(loop, palm_axis_point)
    distal = unit(THUMB_DIRECTION)
    return cmc, [unit(THUMB_BASE_NORMAL_WEIGHT * normal + distal), distal, distal]
