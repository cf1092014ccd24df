"""Overlay drawing: the legend names every element drawn, in its colour, and only those; the ground truth
is drawn in its own colour where the truth projects."""

import numpy as np
import pytest

from hfl_ros.constants import NUM_JOINTS, NUM_MANO_FACES, NUM_MANO_VERTICES
from hfl_ros.geometry.camera import project_points
from hfl_ros.inference.overlay import (
    BOX_COLOUR,
    CONTROL_POINT_COLOUR,
    GROUND_TRUTH_COLOUR,
    HAND_MESH_COLOUR,
    OBJECT_BOX_COLOUR,
    SKELETON_COLOUR,
    OverlayTruth,
    draw_estimate,
    draw_hands,
    draw_truth,
)
from hfl_ros.objects import object_model_from_mesh
from hfl_ros.results import HandEstimate, HandObjectEstimate, ObjectEstimate

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
GREY = 128
#: The legend's corner (bottom left, rows and columns): the scene below is drawn in the image's right half.
LEGEND_REGION = (slice(300, 480), slice(0, 300))
#: An RGB pixel "has" a colour within this many levels per channel (anti-aliased edges blend).
COLOUR_TOLERANCE = 12
HAND_CENTRE = np.array([0.15, -0.08, 0.6])
OBJECT_TRANSLATION = np.array([0.2, 0.05, 0.6])


def _estimate(with_pose: bool) -> HandObjectEstimate:
    rng = np.random.default_rng(0)
    joints = HAND_CENTRE + rng.uniform(-0.03, 0.03, size=(NUM_JOINTS, 3))
    vertices = HAND_CENTRE + rng.uniform(-0.03, 0.03, size=(NUM_MANO_VERTICES, 3))
    hand = HandEstimate(
        joints=joints, vertices=vertices, faces=rng.integers(0, NUM_MANO_VERTICES, size=(NUM_MANO_FACES, 3)),
        joints_2d=project_points(joints, K), wrist_pose=np.eye(4), mano_pose=np.zeros(48), mano_shape=np.zeros(10),
        box=np.array([420.0, 120.0, 500.0, 200.0]), score=0.9)
    obj = ObjectEstimate(
        name="cube", rotation=np.eye(3) if with_pose else None, translation=OBJECT_TRANSLATION if with_pose else None,
        control_points_2d=rng.uniform([460, 240], [520, 300], size=(21, 2)), control_point_scores=np.full(21, 0.9),
        inliers=12 if with_pose else 0, box=np.array([450.0, 230.0, 530.0, 310.0]), score=0.9)
    return HandObjectEstimate(hand=hand, object=obj, timings={})


@pytest.fixture(scope="module")
def cube():
    corners = np.array([[x, y, z] for x in (-0.03, 0.03) for y in (-0.03, 0.03) for z in (-0.03, 0.03)])
    return object_model_from_mesh("cube", corners, np.zeros((0, 3)))


def _has_colour(pixels: np.ndarray, colour, minimum: int = 4) -> bool:
    close = np.all(np.abs(pixels.astype(int) - np.array(colour)) <= COLOUR_TOLERANCE, axis=-1)
    return int(close.sum()) >= minimum


def _image() -> np.ndarray:
    return np.full((480, 640, 3), GREY, np.uint8)


def test_legend_shows_each_drawn_element_in_its_colour(cube):
    truth = OverlayTruth(HAND_CENTRE + rng_offsets(), np.eye(3), OBJECT_TRANSLATION + 0.01)
    with_legend = draw_estimate(_image(), K, _estimate(True), cube, truth=truth)
    without = draw_estimate(_image(), K, _estimate(True), cube, truth=truth, legend=False)
    legend, bare = with_legend[LEGEND_REGION], without[LEGEND_REGION]
    assert np.all(bare == GREY)  # the scene leaves the corner alone: what is there is the legend
    for colour in (HAND_MESH_COLOUR, SKELETON_COLOUR, OBJECT_BOX_COLOUR, CONTROL_POINT_COLOUR, BOX_COLOUR,
                   GROUND_TRUTH_COLOUR):
        assert _has_colour(legend, colour), colour
    assert _has_colour(legend, (255, 255, 255), minimum=50)  # the labels
    outside = (slice(0, 300), slice(None))
    assert np.array_equal(with_legend[outside], without[outside])


def test_legend_lists_only_what_is_drawn(cube):
    overlay = draw_estimate(_image(), K, _estimate(False), cube)
    legend = overlay[LEGEND_REGION]
    assert _has_colour(legend, SKELETON_COLOUR) and _has_colour(legend, BOX_COLOUR)
    assert not _has_colour(legend, OBJECT_BOX_COLOUR)  # no pose: no object box and no entry for it
    assert not _has_colour(overlay, GROUND_TRUTH_COLOUR, minimum=1)


def test_ground_truth_is_drawn_where_the_truth_projects(cube):
    truth_joints = HAND_CENTRE + rng_offsets()
    truth = OverlayTruth(truth_joints)
    overlay = draw_estimate(_image(), K, _estimate(True), cube, truth=truth, legend=False)
    for u, v in np.round(project_points(truth_joints, K)).astype(int):
        assert _has_colour(overlay[v - 1:v + 2, u - 1:u + 2], GROUND_TRUTH_COLOUR, minimum=1), (u, v)
    plain = draw_estimate(_image(), K, _estimate(True), cube, legend=False)
    assert not _has_colour(plain, GROUND_TRUTH_COLOUR, minimum=1)


def rng_offsets() -> np.ndarray:
    """(21, 3) m: a truth beside the estimate (the estimate's joints lie in HAND_CENTRE +- 3 cm)."""
    return np.random.default_rng(1).uniform(-0.03, 0.03, size=(NUM_JOINTS, 3)) + np.array([-0.12, 0.0, 0.0])


def test_truth_alone_over_a_finished_overlay_with_its_own_legend_entry(cube):
    truth_joints = HAND_CENTRE + rng_offsets()
    truth = OverlayTruth(truth_joints, np.eye(3), OBJECT_TRANSLATION, object_points=cube.control_points)
    drawn = draw_truth(_image(), K, truth)  # the object box from object_points, no model given
    bare = draw_truth(_image(), K, OverlayTruth(truth_joints), legend=False)
    for u, v in np.round(project_points(truth_joints, K)).astype(int):
        assert _has_colour(drawn[v - 1:v + 2, u - 1:u + 2], GROUND_TRUTH_COLOUR, minimum=1), (u, v)
    box_corner = np.round(project_points(OBJECT_TRANSLATION + cube.control_points[:1], K)[0]).astype(int)
    assert _has_colour(drawn[box_corner[1] - 1:box_corner[1] + 2, box_corner[0] - 1:box_corner[0] + 2],
                       GROUND_TRUTH_COLOUR, minimum=1)
    right_corner = (slice(400, 480), slice(440, 640))
    assert np.all(bare[right_corner] == GREY)
    assert _has_colour(drawn[right_corner], GROUND_TRUTH_COLOUR) and _has_colour(drawn[right_corner], (255, 255, 255))


def test_truth_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"joints must have shape \(21, 3\), got \(3,\)"):
        OverlayTruth(HAND_CENTRE)
    with pytest.raises(ValueError, match="object_translation"):
        OverlayTruth(HAND_CENTRE + rng_offsets(), np.eye(3), np.zeros(2))


def test_an_image_too_small_for_the_legend_gets_none(cube):
    small_K = K * np.array([[0.1], [0.1], [1.0]])
    image = np.full((48, 64, 3), GREY, np.uint8)
    overlay = draw_estimate(image, small_K, _estimate(True), cube)
    assert overlay.shape == image.shape
    assert np.array_equal(overlay, draw_estimate(image, small_K, _estimate(True), cube, legend=False))


def test_two_hands_share_one_legend_and_name_their_boxes_by_side(cube):
    right = _estimate(True)
    hand = right.hand
    # the left hand is drawn only away from the right one: its box and joints 300 px to the left, its mesh behind
    # the camera (not drawn); both hold the same object (drawn alike twice)
    shift = np.array([300.0, 0.0])
    left = HandObjectEstimate(hand=HandEstimate(**{
        **hand.__dict__, "box": hand.box - np.tile(shift, 2), "joints_2d": hand.joints_2d - shift,
        "vertices": hand.vertices * [1.0, 1.0, -1.0]}), object=right.object, timings={})
    both = draw_hands(_image(), K, [("right", right, cube), ("left", left, cube)])
    one = draw_estimate(_image(), K, right, cube)
    # the same entries once: the legend corner is that of one hand (two legends drawn over each other darken
    # the panel and misplace lines)
    assert np.array_equal(both[LEGEND_REGION], one[LEGEND_REGION])
    single = draw_hands(_image(), K, [("right", right, cube)])
    assert np.array_equal(single, one)  # one hand: exactly draw_estimate's overlay (boxes named "hand", "object")
    label_row = (slice(int(hand.box[1]) - 20, int(hand.box[1])), slice(int(hand.box[0]), int(hand.box[0]) + 120))
    assert not np.array_equal(both[label_row], one[label_row])  # "right hand" where one hand says "hand"
