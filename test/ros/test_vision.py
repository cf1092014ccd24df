"""A frame's hands and objects -> vision_msgs: the pose covariance against the spread of real PnP solutions,
what each Detection3D / Detection2D carries, and the vision_msgs build being the upstream release."""

import dataclasses
import hashlib
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")
pytest.importorskip("vision_msgs", exc_type=ImportError,
                    reason="vision_msgs is not built: scripts/setup_ros.sh builds it from ../shared/vision_msgs")

from builtin_interfaces.msg import Time  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from hfl_ros.geometry.camera import project_points, transform_points  # noqa: E402
from hfl_ros.geometry.rotations import quaternion_to_matrix  # noqa: E402
from hfl_ros.geometry.so3 import exp_map, log_map  # noqa: E402
from hfl_ros.objects import object_model_from_mesh  # noqa: E402
from hfl_ros.perception import HandResult  # noqa: E402
from hfl_ros.results import ObjectEstimate  # noqa: E402
from hfl_ros.ros import vision  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
VISION_MSGS_SOURCES = REPO.parent / "shared" / "vision_msgs"
HEADER = Header(stamp=Time(sec=1700000000, nanosec=5), frame_id="camera_color_optical_frame")
K = np.array([[600.0, 0.0, 320.0], [0.0, 610.0, 240.0], [0.0, 0.0, 1.0]])
#: An object whose box is off its origin: the Detection3D box centre is not the pose's position.
LOW, HIGH = np.array([-0.03, -0.05, -0.02]), np.array([0.04, 0.06, 0.11])
MODEL = object_model_from_mesh("021_bleach_cleanser",
                               LOW + np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T * (HIGH - LOW),
                               np.zeros((0, 3)))
ROTATION = exp_map(np.array([0.6, -1.1, 0.4]))
TRANSLATION = np.array([0.06, -0.03, 0.45])


def _header_is_the_image_one(header: Header) -> bool:
    return (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (1700000000, 5, "camera_color_optical_frame")


def _matrix(q) -> np.ndarray:
    return quaternion_to_matrix(torch.tensor([q.w, q.x, q.y, q.z], dtype=torch.float64)).numpy()


def _object(rotation, translation, points_2d, scores=None, name=MODEL.name, score=0.8) -> ObjectEstimate:
    return ObjectEstimate(name=name, rotation=rotation, translation=translation, control_points_2d=points_2d,
                          control_point_scores=np.full(21, 0.9) if scores is None else scores, inliers=21,
                          box=np.array([250.0, 180.0, 390.0, 330.0]), score=score)


def _solve(points_2d: np.ndarray) -> tuple:
    """Least-squares PnP of the 21 control points (as the estimator's RANSAC refines its inliers)."""
    rvec, _ = cv2.Rodrigues(ROTATION)
    ok, rvec, tvec = cv2.solvePnP(MODEL.control_points, points_2d, K, None, rvec.copy(), TRANSLATION.copy(),
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    assert ok
    return cv2.Rodrigues(rvec)[0], tvec.reshape(3)


def test_covariance_matches_the_spread_of_pnp_solutions_under_pixel_noise():
    rng = np.random.default_rng(0)
    sigma, draws = 1.5, 1500
    exact = project_points(transform_points(MODEL.control_points, ROTATION, TRANSLATION), K)
    errors, predicted = [], []
    for _ in range(draws):
        noisy = exact + rng.normal(scale=sigma, size=exact.shape)
        rotation, translation = _solve(noisy)
        # the convention of PoseWithCovariance: x, y, z, then rotations about the header frame's fixed axes
        errors.append(np.concatenate([translation - TRANSLATION, log_map(rotation @ ROTATION.T)]))
        predicted.append(vision.pose_covariance(_object(rotation, translation, noisy), MODEL.control_points, K))
    empirical = np.cov(np.array(errors).T)
    expected = np.mean(predicted, axis=0)
    # whitened by the prediction, the empirical covariance is the identity up to sampling error (~4 % per
    # eigenvalue at 1500 draws); a wrong axis order, body-fixed rotations or a missing sigma^2 are far off
    root = np.linalg.cholesky(np.linalg.inv(expected))
    eigenvalues = np.linalg.eigvalsh(root.T @ empirical @ root)
    assert eigenvalues.min() > 0.8 and eigenvalues.max() < 1.25, eigenvalues
    assert np.all(np.linalg.eigvalsh(expected) > 0)


def test_covariance_is_unknown_all_zeros_when_fewer_than_four_control_points_agree():
    exact = project_points(transform_points(MODEL.control_points, ROTATION, TRANSLATION), K)
    scores = np.full(21, 0.9)
    scores[3:] = 0.3  # below the PnP confidence threshold (0.5): only three points count
    covariance = vision.pose_covariance(_object(ROTATION, TRANSLATION, exact, scores), MODEL.control_points, K)
    assert np.array_equal(covariance, np.zeros((6, 6)))
    far = exact.copy()
    far[3:] += 20.0  # beyond the RANSAC inlier threshold (8 px): three points agree
    covariance = vision.pose_covariance(_object(ROTATION, TRANSLATION, far), MODEL.control_points, K)
    assert np.array_equal(covariance, np.zeros((6, 6)))
    with pytest.raises(ValueError, match="021_bleach_cleanser"):
        vision.pose_covariance(_object(None, None, exact), MODEL.control_points, K)
    with pytest.raises(ValueError, match="K"):
        vision.pose_covariance(_object(ROTATION, TRANSLATION, exact), MODEL.control_points, K[:2])


def test_a_perfect_fit_keeps_a_floor_sigma_and_never_reads_as_unknown():
    exact = project_points(transform_points(MODEL.control_points, ROTATION, TRANSLATION), K)
    floor = vision.pose_covariance(_object(ROTATION, TRANSLATION, exact), MODEL.control_points, K)
    noisy = exact + np.random.default_rng(1).normal(scale=3.0, size=exact.shape)
    rotation, translation = _solve(noisy)
    wider = vision.pose_covariance(_object(rotation, translation, noisy), MODEL.control_points, K)
    assert np.all(np.diag(floor) > 0)
    # the floor is 0.5 px: a fit with 3 px residuals is ~36 times as uncertain in variance
    assert 10 < np.median(np.diag(wider) / np.diag(floor)) < 100


@pytest.fixture()
def make_hand(estimate_factory):
    """_hand with the ROS tests' hand-made hand."""
    return lambda **options: _hand(estimate_factory(object_angle=0.0), **options)


def _hand(raw, side="right", track_id=3, object_track_id=7, shown=(True, True), object_box=True,
          output_translation=TRANSLATION + np.array([0.01, 0.0, -0.02])) -> HandResult:
    """A hand holding MODEL: the raw estimate at (ROTATION, TRANSLATION) with its exact control points, the
    output (filtered) pose shifted by `output_translation`."""
    exact = project_points(transform_points(MODEL.control_points, ROTATION, TRANSLATION), K)
    raw = dataclasses.replace(raw, object=_object(ROTATION, TRANSLATION, exact),
                              hand=dataclasses.replace(raw.hand, side=side))
    output = dataclasses.replace(raw, object=dataclasses.replace(raw.object, translation=output_translation))
    return HandResult(side=side, track_id=track_id, hand_box=np.array([100.0, 60.0, 220.0, 190.0]),
                      hand_source="detector", hand_score=0.93, object_name=MODEL.name,
                      object_box=np.array([250.0, 180.0, 390.0, 330.0]) if object_box else None,
                      object_source="refined", object_track_id=object_track_id, estimate=raw, filtered=None,
                      output=output, passes=2, gated=False, hand_shown=shown[0], object_shown=shown[1])


def test_detection_3d_carries_class_score_output_pose_raw_covariance_mesh_box_and_track_id(make_hand):
    hand = make_hand()
    array = vision.detection_3d_array(HEADER, [hand, make_hand(side="left", shown=(True, False))],
                                      {MODEL.name: MODEL}.__getitem__, K)
    assert _header_is_the_image_one(array.header) and len(array.detections) == 1  # the unshown object left out
    detection = array.detections[0]
    assert _header_is_the_image_one(detection.header) and detection.id == "object-7"
    (result,) = detection.results
    assert result.hypothesis.class_id == "021_bleach_cleanser" and result.hypothesis.score == pytest.approx(0.8)
    pose = result.pose.pose
    np.testing.assert_allclose([pose.position.x, pose.position.y, pose.position.z],
                               hand.output.object.translation, atol=1e-12)  # what TF shows, not the raw pose
    np.testing.assert_allclose(_matrix(pose.orientation), ROTATION, atol=1e-12)
    np.testing.assert_allclose(np.reshape(result.pose.covariance, (6, 6)),
                               vision.pose_covariance(hand.estimate.object, MODEL.control_points, K), rtol=1e-12)
    # the box's 8 corners are the mesh box's corners (the model's control points 0..7) placed by the pose
    box = detection.bbox
    centre = np.array([box.center.position.x, box.center.position.y, box.center.position.z])
    size = np.array([box.size.x, box.size.y, box.size.z])
    signs = np.array(np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5])).reshape(3, -1).T
    corners = centre + (signs * size) @ _matrix(box.center.orientation).T
    expected = transform_points(LOW + (signs + 0.5) * (HIGH - LOW), ROTATION, hand.output.object.translation)
    np.testing.assert_allclose(np.sort(corners, axis=0), np.sort(expected, axis=0), atol=1e-12)
    np.testing.assert_allclose(size, HIGH - LOW, atol=1e-15)


def test_detection_3d_array_is_empty_without_a_shown_object_and_an_untracked_object_has_no_id(make_hand):
    models = {MODEL.name: MODEL}.__getitem__
    assert vision.detection_3d_array(HEADER, [make_hand(shown=(True, False))], models, K).detections == []
    assert vision.detection_3d_array(HEADER, [], models, K).detections == []
    assert vision.detection_3d_array(HEADER, [make_hand(object_track_id=-1)], models, K).detections[0].id == ""


def test_detection_2d_array_has_each_shown_hand_by_side_and_every_object_box_beside_it(make_hand):
    right, left = make_hand(), make_hand(side="left", track_id=4, object_track_id=9, shown=(False, False))
    no_object = make_hand(track_id=5, object_box=False)
    array = vision.detection_2d_array(HEADER, [right, left, no_object])
    assert _header_is_the_image_one(array.header)
    assert all(_header_is_the_image_one(d.header) for d in array.detections)
    found = [(d.id, d.results[0].hypothesis.class_id, d.results[0].hypothesis.score) for d in array.detections]
    assert found == [("hand-3", "right_hand", 0.93), ("object-7", MODEL.name, 0.8),
                     ("object-9", MODEL.name, 0.8),  # the left hand failed the gate: its object box stays
                     ("hand-5", "right_hand", 0.93)]
    hand_box = array.detections[0].bbox
    assert (hand_box.center.position.x, hand_box.center.position.y, hand_box.size_x, hand_box.size_y,
            hand_box.center.theta) == (160.0, 125.0, 120.0, 130.0, 0.0)
    object_box = array.detections[1].bbox
    assert (object_box.center.position.x, object_box.center.position.y, object_box.size_x,
            object_box.size_y) == (320.0, 255.0, 140.0, 150.0)


def test_a_hand_of_an_unknown_side_is_refused_by_name(make_hand):
    with pytest.raises(ValueError, match="'up'"):
        vision.detection_2d_array(HEADER, [make_hand(side="up")])


@pytest.mark.skipif(not (VISION_MSGS_SOURCES / "SHA256SUMS").is_file(), reason="no ../shared/vision_msgs")
def test_installed_vision_msgs_definitions_are_the_upstream_release():
    from ament_index_python.packages import get_package_share_directory

    sums = dict(reversed(line.split()) for line in (VISION_MSGS_SOURCES / "SHA256SUMS").read_text().splitlines())
    tarball = VISION_MSGS_SOURCES / "vision_msgs-4.1.1.tar.gz"
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == sums[tarball.name]
    installed = Path(get_package_share_directory("vision_msgs")) / "msg"
    with tarfile.open(tarball) as archive:
        upstream = {Path(m.name).name: archive.extractfile(m).read() for m in archive.getmembers()
                    if m.name.startswith("vision_msgs-4.1.1/vision_msgs/msg/") and m.name.endswith(".msg")}
    assert len(upstream) == 16
    assert {name: (installed / name).read_bytes() for name in upstream} == upstream
