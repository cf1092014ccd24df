"""The rig of the right-hand mesh: joint regressor (each joint the mean of its ring), linear blend
skinning weights, pose corrective directions and the ten shape directions."""

import numpy as np

from hfl_ros.constants import NUM_MANO_JOINTS, NUM_MANO_VERTICES
from hfl_ros.geometry.mesh import vertex_normals
from hfl_ros.mano.procedural.dimensions import FINGERS, THUMB_CHAIN, chain_joints
from hfl_ros.mano.procedural.mesh import RiggedMesh
from hfl_ros.mano.procedural.palm import knuckle_blend, palm_centre_z, palm_frame

#: Nominal palm length (wrist to knuckles) used for the skinning blend along the palm.
PALM_LENGTH = 0.09

#: Skinning blend half-width along a chain and across the knuckles, metres.
BLEND_WIDTH = 0.007
KNUCKLE_BLEND_WIDTH = 0.006
KNUCKLE_LATERAL_SIGMA = 0.005
THUMB_BASE_SIGMA = 0.012

#: Outward bulge of a vertex per unit of (3 - trace R) of a joint, times its blend 4 w (1 - w).
POSE_BULGE = 0.0015

#: Per-finger factor of the length-skew shape direction (index longer, little shorter).
LENGTH_SKEW = (1.0, 0.4, -1.0, -0.4)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def joint_regressor(rig: RiggedMesh) -> np.ndarray:
    regressor = np.zeros((NUM_MANO_JOINTS, NUM_MANO_VERTICES))
    for joint, ring in enumerate(rig.joint_rings):
        regressor[joint, ring] = 1.0 / len(ring)
    return regressor


def skinning_weights(rig: RiggedMesh) -> np.ndarray:
    """(778, 16): smooth blends along each chain and across the knuckles; rows sum to 1."""
    weights = np.zeros((NUM_MANO_VERTICES, NUM_MANO_JOINTS))
    for chain, chain_bones in enumerate(rig.chain_bones):
        rows = np.flatnonzero(rig.chain == chain)
        s = rig.s[rows]
        steps = [_sigmoid((s - at) / BLEND_WIDTH) for at in (0.0, chain_bones[0], chain_bones[0] + chain_bones[1])]
        first, second, third = chain_joints(chain)
        weights[rows, 0] = 1 - steps[0]
        weights[rows, first] = steps[0] - steps[1]
        weights[rows, second] = steps[1] - steps[2]
        weights[rows, third] = steps[2]
    palm = np.flatnonzero(rig.chain == -1)
    points = rig.points[palm]
    hole = rig.points[list(rig.joint_rings[chain_joints(THUMB_CHAIN)[0]])]
    hole_distance = np.linalg.norm(points[:, None] - hole[None], axis=-1).min(axis=1)
    thumb = 0.5 * np.exp(-((hole_distance / THUMB_BASE_SIGMA) ** 2))
    knuckle = _sigmoid((rig.u[palm] - 1.0) * PALM_LENGTH / KNUCKLE_BLEND_WIDTH)
    mcp_z = np.array([spec.base[2] for spec in FINGERS])
    lateral = np.exp(-0.5 * ((points[:, 2:3] - mcp_z[None]) / KNUCKLE_LATERAL_SIGMA) ** 2)
    lateral /= lateral.sum(axis=1, keepdims=True)
    weights[palm, 0] = (1 - thumb) * (1 - knuckle)
    weights[palm, chain_joints(THUMB_CHAIN)[0]] = thumb
    for chain in range(len(FINGERS)):
        weights[palm, chain_joints(chain)[0]] = (1 - thumb) * knuckle * lateral[:, chain]
    return weights


def pose_directions(rig: RiggedMesh, weights: np.ndarray) -> np.ndarray:
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


def shape_directions(rig: RiggedMesh) -> np.ndarray:
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
    radial[palm_only, 1:] = points[palm_only, 1:] - np.stack((np.zeros(palm_only.sum()), palm_centre_z(u[palm_only])), axis=1)
    anchor = np.where((on_chain | on_knuckle)[:, None], base, points)
    z_centre = palm_frame()["z_centre"]
    unit_x, unit_y, unit_z = np.eye(3)
    skew = np.zeros(NUM_MANO_VERTICES)
    skew[on_finger] = np.asarray(LENGTH_SKEW)[chain[on_finger]]
    spread = np.zeros(NUM_MANO_VERTICES)
    spread[on_finger] = np.linalg.norm(along[on_finger], axis=1) * (base[on_finger, 2] - z_centre) / 0.02
    thickness = np.where(palm_only, 1 - np.array([knuckle_blend(value) for value in u]), 0.0)
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
    hole = list(rig.joint_rings[chain_joints(THUMB_CHAIN)[0]])
    for direction in _BASE_FOLLOWING_DIRECTIONS:
        shapedirs[on_thumb, :, direction] += shapedirs[hole, :, direction].mean(axis=0)
    return shapedirs
