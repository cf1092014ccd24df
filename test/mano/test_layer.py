"""MANO layer invariants, checked on the procedural MANO-format hand."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hfl_ros.constants import (
    FINGERTIP_JOINTS,
    FINGERTIP_VERTICES_LEFT,
    FINGERTIP_VERTICES_RIGHT,
    JOINT_NAMES,
    MANO_TO_OUTPUT_JOINTS,
    NUM_MANO_FACES,
    WRIST,
)
from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.mano import ManoLayer, ManoOutput, load_mano, read_mano_pickle
from hfl_ros.mano.procedural import procedural_mano_dir

FINGER_ORDER = ("thumb", "index", "middle", "ring", "little")
ATOL = 1e-10


@pytest.fixture(scope="module")
def mano_dir(tmp_path_factory) -> Path:
    return procedural_mano_dir(tmp_path_factory.mktemp("mano"))


@pytest.fixture(scope="module")
def right(mano_dir) -> ManoLayer:
    return load_mano(mano_dir, "right", dtype=torch.float64)


@pytest.fixture(scope="module")
def left(mano_dir) -> ManoLayer:
    return load_mano(mano_dir, "left", dtype=torch.float64)


def _random_pose(batch: int, seed: int, scale: float = 0.4) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(batch, 48, generator=generator, dtype=torch.float64)


def _random_betas(batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed + 1000)
    return torch.randn(batch, 10, generator=generator, dtype=torch.float64)


def _zeros(batch: int = 1):
    return torch.zeros(batch, 48, dtype=torch.float64), torch.zeros(batch, 10, dtype=torch.float64)


def test_output_types_shapes_and_buffers(mano_dir):
    layer = load_mano(mano_dir)
    out = layer(torch.zeros(2, 48), torch.zeros(2, 10))
    assert isinstance(out, ManoOutput)
    assert out.vertices.shape == (2, 778, 3) and out.joints.shape == (2, 21, 3)
    assert out.vertices.dtype == torch.float32
    assert layer.faces.dtype == torch.int64 and layer.faces.shape == (NUM_MANO_FACES, 3)
    assert layer.side == "right"
    for name in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "hands_mean", "hands_components"):
        assert name in dict(layer.named_buffers())
    assert layer.state_dict() == {}  # the licensed model never goes into checkpoints


def test_rest_pose_is_the_template_centred_on_the_wrist(right, mano_dir):
    out = right(*_zeros())
    model = read_mano_pickle(Path(mano_dir) / "MANO_RIGHT.pkl")
    regressed = model.J_regressor @ model.v_template
    wrist = regressed[WRIST]
    np.testing.assert_allclose(out.joints[0, WRIST].numpy(), 0.0, atol=ATOL)
    mano_rows = [i for i, row in enumerate(MANO_TO_OUTPUT_JOINTS) if row < 16]
    mano_ids = [MANO_TO_OUTPUT_JOINTS[i] for i in mano_rows]
    np.testing.assert_allclose(out.joints[0, mano_rows].numpy(), regressed[mano_ids] - wrist, atol=ATOL)
    np.testing.assert_allclose(out.vertices[0].numpy(), model.v_template - wrist, atol=ATOL)


@pytest.mark.parametrize("side, tips", [("right", FINGERTIP_VERTICES_RIGHT), ("left", FINGERTIP_VERTICES_LEFT)])
def test_fingertips_are_the_named_vertices(mano_dir, side, tips):
    layer = load_mano(mano_dir, side, dtype=torch.float64)
    out = layer(_random_pose(3, seed=1), _random_betas(3, seed=1))
    for finger, vertex in zip(FINGER_ORDER, tips):
        joint = FINGERTIP_JOINTS[finger]
        assert JOINT_NAMES[joint] == f"{finger}4"
        torch.testing.assert_close(out.joints[:, joint], out.vertices[:, vertex], atol=ATOL, rtol=0)


def test_global_rotation_is_rigid_about_the_wrist(right):
    pose, betas = _random_pose(4, seed=2), _random_betas(4, seed=2)
    unrotated = pose.clone()
    unrotated[:, :3] = 0
    rest = right(unrotated, betas)
    out = right(pose, betas)
    rotation = axis_angle_to_matrix(pose[:, :3])
    torch.testing.assert_close(out.vertices, rest.vertices @ rotation.transpose(1, 2), atol=ATOL, rtol=0)
    torch.testing.assert_close(out.joints, rest.joints @ rotation.transpose(1, 2), atol=ATOL, rtol=0)


def test_from_rotmats_equals_forward(right):
    pose, betas = _random_pose(5, seed=3), _random_betas(5, seed=3)
    rotmats = axis_angle_to_matrix(pose.reshape(5, 16, 3))
    expected = right(pose, betas)
    out = right.from_rotmats(rotmats, betas)
    torch.testing.assert_close(out.vertices, expected.vertices, atol=ATOL, rtol=0)
    torch.testing.assert_close(out.joints, expected.joints, atol=ATOL, rtol=0)


def test_pca_with_all_components_reproduces_the_full_pose(mano_dir, right):
    model = read_mano_pickle(Path(mano_dir) / "MANO_RIGHT.pkl")
    pose, betas = _random_pose(3, seed=4), _random_betas(3, seed=4)
    expected = right(pose, betas)
    pca = ManoLayer(model, use_pca=True, ncomps=45, dtype=torch.float64)
    components = torch.from_numpy(np.array(model.hands_components))
    coefficients = torch.cat((pose[:, :3], pose[:, 3:] @ components.T), dim=1)
    torch.testing.assert_close(pca(coefficients, betas).vertices, expected.vertices, atol=ATOL, rtol=0)
    identity = ManoLayer(dataclasses.replace(model, hands_components=np.eye(45)), use_pca=True, ncomps=45,
                         dtype=torch.float64)
    torch.testing.assert_close(identity(pose, betas).joints, expected.joints, atol=ATOL, rtol=0)


def test_pca_with_fewer_components_uses_the_leading_rows(mano_dir):
    model = read_mano_pickle(Path(mano_dir) / "MANO_RIGHT.pkl")
    layer = ManoLayer(model, use_pca=True, ncomps=6, dtype=torch.float64)
    assert layer.pose_size == 9
    coefficients = torch.zeros(1, 9, dtype=torch.float64)
    coefficients[0, 3 + 2] = 0.7
    full = layer.full_pose(coefficients)
    np.testing.assert_allclose(full[0, 3:].numpy(), 0.7 * model.hands_components[2], atol=1e-12)
    with pytest.raises(ValueError, match=r"\(B, 9\)"):
        layer(torch.zeros(1, 48, dtype=torch.float64), torch.zeros(1, 10, dtype=torch.float64))


def test_hand_mean_is_added_when_not_flat(mano_dir, right):
    model = read_mano_pickle(Path(mano_dir) / "MANO_RIGHT.pkl")
    curved = ManoLayer(model, flat_hand_mean=False, dtype=torch.float64)
    pose, betas = _zeros()
    mean_pose = pose.clone()
    mean_pose[0, 3:] = torch.from_numpy(np.array(model.hands_mean))
    torch.testing.assert_close(curved(pose, betas).vertices, right(mean_pose, betas).vertices, atol=ATOL, rtol=0)
    assert not torch.allclose(curved(pose, betas).vertices, right(pose, betas).vertices)


def _bone_lengths(joints: torch.Tensor, chain: tuple) -> torch.Tensor:
    return (joints[:, list(chain[1:])] - joints[:, list(chain[:-1])]).norm(dim=-1)


def test_betas_change_bone_lengths(right):
    pose = _zeros()[0]
    base = right(pose, torch.zeros(1, 10, dtype=torch.float64)).joints
    middle = (0, 9, 10, 11, 12)  # wrist, middle 1-4 in output order
    # Beta 0 of the procedural model scales the hand by 5 % per unit about the wrist.
    scaled = right(pose, torch.tensor([[1.0] + [0.0] * 9], dtype=torch.float64)).joints
    torch.testing.assert_close(scaled, 1.05 * base, atol=1e-12, rtol=0)
    # Beta 1 lengthens the fingers and leaves the palm (wrist -> knuckle) alone.
    longer = right(pose, torch.tensor([[0.0, 2.0] + [0.0] * 8], dtype=torch.float64)).joints
    assert torch.all(_bone_lengths(longer, middle)[:, 1:] > _bone_lengths(base, middle)[:, 1:] + 1e-3)
    torch.testing.assert_close(_bone_lengths(longer, middle)[:, 0], _bone_lengths(base, middle)[:, 0])


def test_batch_elements_are_independent(right):
    pose, betas = _random_pose(4, seed=5), _random_betas(4, seed=5)
    batch = right(pose, betas)
    for index in range(4):
        single = right(pose[index : index + 1], betas[index : index + 1])
        torch.testing.assert_close(batch.vertices[index : index + 1], single.vertices, atol=ATOL, rtol=0)
        torch.testing.assert_close(batch.joints[index : index + 1], single.joints, atol=ATOL, rtol=0)


def test_left_hand_is_the_mirror_of_the_right(right, left):
    mirror = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    template_right = right.v_template * mirror
    match = torch.cdist(left.v_template, template_right).argmin(dim=1)
    torch.testing.assert_close(left.v_template, template_right[match], atol=1e-12, rtol=0)
    assert sorted(match.tolist()) == list(range(778))
    pose, betas = _random_pose(3, seed=6), _random_betas(3, seed=6)
    # Reflecting x maps an axis-angle (x, y, z) to (x, -y, -z).
    mirrored_pose = pose * torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64).repeat(16)
    out_right, out_left = right(pose, betas), left(mirrored_pose, betas)
    torch.testing.assert_close(out_left.joints, out_right.joints * mirror, atol=ATOL, rtol=0)
    torch.testing.assert_close(out_left.vertices, out_right.vertices[:, match] * mirror, atol=ATOL, rtol=0)
    assert left.side == "left"


def test_gradients_flow_to_pose_shape_and_rotations(right):
    pose = _random_pose(2, seed=7).requires_grad_(True)
    betas = _random_betas(2, seed=7).requires_grad_(True)
    out = right(pose, betas)
    (out.vertices.square().sum() + out.joints.square().sum()).backward()
    for grad in (pose.grad, betas.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    rotmats = axis_angle_to_matrix(_random_pose(2, seed=8).reshape(2, 16, 3)).requires_grad_(True)
    right.from_rotmats(rotmats, torch.zeros(2, 10, dtype=torch.float64)).vertices.sum().backward()
    assert rotmats.grad is not None and rotmats.grad.abs().sum() > 0


def test_gradient_matches_finite_differences(right):
    pose, betas = _random_pose(1, seed=9), _random_betas(1, seed=9)
    tips = [FINGERTIP_JOINTS[finger] for finger in FINGER_ORDER]
    inputs = (pose.requires_grad_(True), betas.requires_grad_(True))
    assert torch.autograd.gradcheck(lambda p, b: right(p, b).joints[:, tips], inputs, fast_mode=True)


def test_bending_a_finger_moves_only_that_finger(right):
    pose, betas = _zeros()
    bent = pose.clone()
    bent[0, 3 * 2 + 2] = math.pi / 2  # index PIP (MANO joint 2) flexes about +z
    rest, out = right(pose, betas), right(bent, betas)
    moved = (out.joints - rest.joints).norm(dim=-1)[0]
    assert torch.all(moved[[7, 8]] > 0.01)  # index3, index4
    still = [j for j in range(21) if j not in (7, 8)]
    assert torch.all(moved[still] < 1e-12)
    # Flexion curls the finger towards the palm side (-y).
    assert out.joints[0, 8, 1] < -0.02


def test_input_validation(right):
    with pytest.raises(ValueError, match=r"\(2, 47\)"):
        right(torch.zeros(2, 47, dtype=torch.float64), torch.zeros(2, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(2, 9\)"):
        right(torch.zeros(2, 48, dtype=torch.float64), torch.zeros(2, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch sizes"):
        right(torch.zeros(2, 48, dtype=torch.float64), torch.zeros(3, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(2, 16, 3\)"):
        right.from_rotmats(torch.zeros(2, 16, 3), torch.zeros(2, 10))
    with pytest.raises(TypeError, match="floating"):
        right(torch.zeros(1, 48, dtype=torch.int64), torch.zeros(1, 10))


def test_load_mano_paths(mano_dir, tmp_path):
    assert load_mano(Path(mano_dir) / "MANO_LEFT.pkl", side="left").side == "left"
    models = tmp_path / "mano_v1_2" / "models"
    models.mkdir(parents=True)
    (models / "MANO_RIGHT.pkl").write_bytes((Path(mano_dir) / "MANO_RIGHT.pkl").read_bytes())
    assert load_mano(tmp_path / "mano_v1_2").source == str(models / "MANO_RIGHT.pkl")
    with pytest.raises(FileNotFoundError, match="MANO_LEFT.pkl"):
        load_mano(tmp_path / "mano_v1_2", side="left")
    with pytest.raises(FileNotFoundError, match="does_not_exist"):
        load_mano(tmp_path / "does_not_exist")
    with pytest.raises(ValueError, match="left hand model"):
        load_mano(Path(mano_dir) / "MANO_LEFT.pkl", side="right")
    with pytest.raises(ValueError, match="side"):
        load_mano(mano_dir, side="both")
