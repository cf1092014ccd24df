"""Procedural MANO-format hand: mesh topology, rig arrays, canonical frame, its model files."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from hfl_ros.constants import (
    FINGERTIP_VERTICES_LEFT,
    FINGERTIP_VERTICES_RIGHT,
    MANO_PARENTS,
    NUM_MANO_FACES,
    NUM_MANO_VERTICES,
    SIDES,
)
from hfl_ros.mano.pickle_io import load_mano_dict, mano_pickle_bytes
from hfl_ros.mano.procedural import (
    FINGERS,
    THUMB_BONES,
    procedural_mano_arrays,
    procedural_mano_dir,
)

#: MANO joints: wrist, index 1-3, middle 1-3, little 1-3, ring 1-3, thumb 1-3.
INDEX, MIDDLE, LITTLE, RING, THUMB = (1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12), (13, 14, 15)
#: Fingertip vertex per finger in the constants' order (thumb, index, middle, ring, little).
CHAINS = (THUMB, INDEX, MIDDLE, RING, LITTLE)


@pytest.fixture(scope="module")
def right() -> dict:
    return procedural_mano_arrays("right")


@pytest.fixture(scope="module")
def left() -> dict:
    return procedural_mano_arrays("left")


def _edges(faces: np.ndarray) -> np.ndarray:
    return np.concatenate((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))


def test_counts_and_shapes(right):
    assert right["v_template"].shape == (NUM_MANO_VERTICES, 3)
    assert right["f"].shape == (NUM_MANO_FACES, 3)
    assert set(np.unique(right["f"])) == set(range(NUM_MANO_VERTICES))
    expected = {"shapedirs": (778, 3, 10), "posedirs": (778, 3, 135), "J_regressor": (16, 778),
                "weights": (778, 16), "J": (16, 3), "kintree_table": (2, 16), "hands_components": (45, 45),
                "hands_mean": (45,)}
    for key, shape in expected.items():
        assert right[key].shape == shape, key


def test_mesh_is_a_consistently_oriented_manifold_open_only_at_the_wrist(right):
    faces = right["f"].astype(np.int64)
    directed = Counter(map(tuple, _edges(faces)))
    assert max(directed.values()) == 1  # consistent orientation: no edge used twice the same way
    undirected = Counter(tuple(sorted(edge)) for edge in directed)
    assert set(undirected.values()) <= {1, 2}
    boundary = [edge for edge, count in undirected.items() if count == 1]
    # Euler: V - E + F = 1 (a disc) and the single boundary loop has 2V - 2 - F = 16 vertices.
    assert NUM_MANO_VERTICES - len(undirected) + NUM_MANO_FACES == 1
    assert len(boundary) == 16
    loop_vertices = Counter(v for edge in boundary for v in edge)
    assert set(loop_vertices.values()) == {2} and len(loop_vertices) == 16
    # That loop is the wrist: its ring is what joint 0 averages.
    assert set(loop_vertices) == set(np.flatnonzero(right["J_regressor"][0]))
    points = right["v_template"][faces]
    normals = np.cross(points[:, 1] - points[:, 0], points[:, 2] - points[:, 0])
    assert np.linalg.norm(normals, axis=1).min() > 1e-6  # no degenerate triangle (area > 0.5 mm^2)
    # Outward: positive volume about the wrist-ring centre (the closing cap adds nothing).
    volume = np.einsum("fi,fi->f", points[:, 0], np.cross(points[:, 1], points[:, 2])).sum() / 6
    assert 1.5e-4 < volume < 4e-4  # m^3: a hand is a few hundred millilitres


def test_weights_and_regressor_are_normalised_local_and_smooth(right):
    weights, regressor = right["weights"], right["J_regressor"]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    assert weights.min() >= 0 and regressor.min() >= 0
    edges = _edges(right["f"].astype(np.int64))
    assert np.abs(weights[edges[:, 0]] - weights[edges[:, 1]]).max() < 0.5
    joints = regressor @ right["v_template"]
    for joint in range(16):
        support = right["v_template"][regressor[joint] > 0]
        assert np.linalg.norm(support - joints[joint], axis=1).max() < 0.03, joint


def test_regressed_joints_are_the_kinematic_skeleton(right):
    joints = right["J_regressor"] @ right["v_template"]
    np.testing.assert_allclose(right["J"], joints, atol=1e-15)
    np.testing.assert_allclose(joints[0], 0.0, atol=1e-12)
    for spec, chain in zip(FINGERS, (INDEX, MIDDLE, LITTLE, RING)):
        np.testing.assert_allclose(joints[chain[0]], spec.base, atol=1e-12)
        np.testing.assert_allclose(np.diff(joints[list(chain)], axis=0)[:, 0], [-b for b in spec.bones[:2]], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(np.diff(joints[list(THUMB)], axis=0), axis=1), THUMB_BONES[:2], atol=1e-12)
    assert tuple(int(p) for p in right["kintree_table"][0, 1:]) == MANO_PARENTS[1:]


def test_skin_surrounds_each_bone(right):
    """Vertices skinned mostly to a joint lie close to that joint's bone: fingers are where the joints are."""
    joints, points, weights = right["J"], right["v_template"], right["weights"]
    tips = dict(zip((c[-1] for c in CHAINS), FINGERTIP_VERTICES_RIGHT))
    for joint in range(1, 16):
        children = [c for c, parent in enumerate(MANO_PARENTS) if parent == joint]
        end = joints[children[0]] if children else points[tips[joint]]
        start = joints[joint]
        members = points[weights.argmax(axis=1) == joint]
        t = np.clip((members - start) @ (end - start) / np.sum((end - start) ** 2), 0, 1)
        distance = np.linalg.norm(members - (start + t[:, None] * (end - start)), axis=1)
        assert len(members) >= 10 and distance.max() < 0.016, joint


def test_canonical_frame_matches_real_mano(right):
    """Fingers along -x from the wrist, thumb side +z, palm facing -y, palm about 9 cm long."""
    joints, points = right["J"], right["v_template"]
    assert 0.08 < np.linalg.norm(joints[MIDDLE[0]] - joints[0]) < 0.10
    for chain in (INDEX, MIDDLE, RING, LITTLE):
        assert np.all(np.diff(joints[[0, *chain], 0]) < 0)
    lateral = joints[[INDEX[0], MIDDLE[0], RING[0], LITTLE[0]], 2]
    assert np.all(np.diff(lateral) < 0)
    thumb_tip = points[FINGERTIP_VERTICES_RIGHT[0]]
    assert thumb_tip[2] > joints[INDEX[0], 2] + 0.03 and thumb_tip[0] < -0.05
    assert np.all(joints[list(THUMB), 1] < 0) and thumb_tip[1] < -0.01  # the thumb sits on the palm side

def test_fingertip_vertices_end_their_fingers(right):
    joints, points, weights = right["J"], right["v_template"], right["weights"]
    for tip, chain in zip(FINGERTIP_VERTICES_RIGHT, CHAINS):
        direction = joints[chain[-1]] - joints[chain[-2]]
        direction /= np.linalg.norm(direction)
        distal = np.flatnonzero(weights[:, chain[-1]] > 0.5)
        reach = (points[distal] - joints[chain[-1]]) @ direction
        assert distal[np.argmax(reach)] == tip and 0.015 < reach.max() < 0.035


def test_shape_and_pose_blends_are_small_and_structured(right):
    assert np.abs(right["posedirs"]).max() < 0.003
    assert np.abs(right["shapedirs"]).max() < 0.02
    components = right["hands_components"]
    np.testing.assert_allclose(components @ components.T, np.eye(45), atol=1e-12)
    # Direction 4 (finger girth) only thickens the skin; every other one moves the skeleton.
    moved = np.einsum("jv,vcl->ljc", right["J_regressor"], right["shapedirs"])
    relative = np.abs(moved - moved[:, :1]).reshape(10, -1).max(axis=1)
    assert relative[4] < 1e-15 and np.abs(right["shapedirs"][:, :, 4]).max() > 5e-4
    assert np.all(np.delete(relative, 4) > 5e-4)
    # The thumb's bones keep their lengths under the palm-surface directions (5 thickness, 9 fullness).
    thumb = [13, 14, 15]
    for direction in (5, 9):
        bones = np.diff(right["J"][thumb] + moved[direction][thumb], axis=0)
        np.testing.assert_allclose(np.linalg.norm(bones, axis=1), np.linalg.norm(np.diff(right["J"][thumb], axis=0), axis=1))


def test_left_is_the_mirror_image_with_its_own_tip_ids(right, left):
    mirrored = right["v_template"] * np.array([-1.0, 1.0, 1.0])
    match = np.linalg.norm(left["v_template"][:, None] - mirrored[None], axis=-1).argmin(axis=1)
    np.testing.assert_allclose(left["v_template"], mirrored[match], atol=1e-15)
    assert sorted(match) == list(range(NUM_MANO_VERTICES))
    np.testing.assert_array_equal(match[list(FINGERTIP_VERTICES_LEFT)], FINGERTIP_VERTICES_RIGHT)
    # Faces map onto the right's faces with reversed winding.
    right_faces = {tuple(np.roll(f, -np.argmin(f))) for f in right["f"].astype(np.int64)}
    for face in left["f"].astype(np.int64):
        reversed_face = match[face[::-1]]
        assert tuple(np.roll(reversed_face, -np.argmin(reversed_face))) in right_faces
    np.testing.assert_allclose(left["weights"], right["weights"][match])
    np.testing.assert_allclose(left["J"], right["J"] * np.array([-1.0, 1.0, 1.0]), atol=1e-15)
    np.testing.assert_allclose(left["hands_mean"].reshape(15, 3), right["hands_mean"].reshape(15, 3) * [1, -1, -1])


def test_procedural_dir_writes_both_sides_once(tmp_path):
    directory = procedural_mano_dir(tmp_path / "cache")
    right_file, left_file = directory / "MANO_RIGHT.pkl", directory / "MANO_LEFT.pkl"
    assert right_file.read_bytes() == mano_pickle_bytes(procedural_mano_arrays("right"))
    assert left_file.read_bytes() == mano_pickle_bytes(procedural_mano_arrays("left"))
    assert right_file.read_bytes() != left_file.read_bytes()
    stamp = right_file.stat().st_mtime_ns
    assert procedural_mano_dir(directory) == directory
    assert right_file.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="middle"):
        procedural_mano_arrays("middle")


#: The model arrays as the single-module builder wrote them (hfl_ros/mano/procedural.py as of commit 5e46c67),
#: keyed "<side>_<key>"; the split into one module per concept must leave them as they were.
REFERENCE = Path(__file__).parent / "data" / "procedural_mano_reference.npz"
#: Relative to an array's largest magnitude: far below any change of a constant or formula, above the
#: last-bit differences of transcendental functions (sin, tanh, exp) between CPUs. On the machine that wrote
#: the reference the split was bit-identical (sha256 of both pickles unchanged).
REFERENCE_TOLERANCE = 1e-12


@pytest.mark.parametrize("side", SIDES)
def test_written_pickle_holds_the_reference_model(side, tmp_path):
    reference = np.load(REFERENCE)
    keys = sorted(name[len(side) + 1:] for name in reference.files if name.startswith(side + "_"))
    written = load_mano_dict(procedural_mano_dir(tmp_path) / f"MANO_{side.upper()}.pkl")
    assert sorted(key for key, value in written.items() if not isinstance(value, str)) == keys
    assert (written["bs_type"], written["bs_style"]) == ("lrotmin", "lbs")
    for key in keys:
        expected = reference[f"{side}_{key}"]
        actual = written[key]
        actual = actual.toarray() if scipy.sparse.issparse(actual) else np.asarray(actual)
        assert actual.shape == expected.shape, key
        if np.issubdtype(expected.dtype, np.integer):
            np.testing.assert_array_equal(actual, expected, err_msg=key)
        else:
            scale = float(np.abs(expected).max())
            np.testing.assert_allclose(actual, expected, rtol=0, atol=REFERENCE_TOLERANCE * scale, err_msg=key)
