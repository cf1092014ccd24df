"""The right hand's mesh in build order (palm, then fingers and thumb) with the per-vertex metadata and
joint rings that the rig arrays are computed from."""

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Tuple

import numpy as np

from hfl_ros.constants import NUM_MANO_FACES, NUM_MANO_JOINTS, NUM_MANO_VERTICES
from hfl_ros.mano.procedural.builder import MeshBuilder, orient_consistently
from hfl_ros.mano.procedural.chains import build_chain, ring_frame, thumb_geometry
from hfl_ros.mano.procedural.dimensions import (
    FINGERS,
    THUMB_BONES,
    THUMB_CHAIN,
    THUMB_HALF_THICKNESS,
    THUMB_HALF_WIDTH,
    chain_joints,
)
from hfl_ros.mano.procedural.palm import angle_parameter, build_palm


@dataclass(frozen=True)
class RiggedMesh:
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
def build_right_hand() -> RiggedMesh:
    builder = MeshBuilder()
    palm = build_palm(builder)
    minus_x = np.array([-1.0, 0.0, 0.0])
    joint_rings: List[np.ndarray] = [np.asarray(palm["wrist"])] + [np.empty(0, dtype=np.int64)] * (NUM_MANO_JOINTS - 1)
    apexes, bases, bones = [], [], []
    for chain in range(len(FINGERS) + 1):
        if chain == THUMB_CHAIN:
            points = np.array(builder.points)
            base, directions = thumb_geometry(points, palm["hole"])
            chain_bones, half_width, half_thickness = THUMB_BONES, THUMB_HALF_WIDTH, THUMB_HALF_THICKNESS
            root_loop = palm["hole"]
            e1, e2 = ring_frame(directions[0])
            root_t = angle_parameter(points[root_loop], base, e1, e2)
        else:
            spec = FINGERS[chain]
            base, directions = np.asarray(spec.base, dtype=np.float64), [minus_x] * 3
            chain_bones, half_width, half_thickness = spec.bones, spec.half_width, spec.half_thickness
            root_loop, root_t = palm["finger_loops"][chain], None
        apex, rings = build_chain(builder, chain, base, chain_bones, directions, half_width,
                                   half_thickness, root_loop, root_t)
        first, second, third = chain_joints(chain)
        joint_rings[first] = np.asarray(root_loop)
        joint_rings[second], joint_rings[third] = rings
        apexes.append(apex)
        bases.append(base)
        bones.append(tuple(chain_bones))
    points = np.array(builder.points)
    faces = orient_consistently(np.array(builder.faces, dtype=np.int64), points)
    if len(points) != NUM_MANO_VERTICES or len(faces) != NUM_MANO_FACES:
        raise RuntimeError(f"procedural hand has {len(points)} vertices and {len(faces)} faces")
    return RiggedMesh(
        points=points, faces=faces, chain=np.array(builder.chain), centre=np.array(builder.centre),
        s=np.array(builder.s), u=np.array(builder.u), knuckle_of=np.array(builder.knuckle_of),
        apexes=tuple(apexes), joint_rings=tuple(joint_rings),
        chain_bases=np.array(bases), chain_bones=tuple(bones),
    )
