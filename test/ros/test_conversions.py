"""HandObjectEstimate -> ROS messages: headers copied, poses and quaternions exact, box sources and filtered
fields carried, TF frames named by the hand's side, marker sizes."""

import dataclasses
import json

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from builtin_interfaces.msg import Time  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hfl_ros.constants import BOX_EDGES, JOINT_NAMES, JOINT_PARENTS, NUM_JOINTS, NUM_MANO_FACES  # noqa: E402
from hfl_ros.filtering import HandObjectFilter  # noqa: E402
from hfl_ros.geometry.camera import transform_points  # noqa: E402
from hfl_ros.geometry.control_points import control_points_from_points  # noqa: E402
from hfl_ros.geometry.rotations import quaternion_to_matrix  # noqa: E402
from hfl_ros.perception import HandResult  # noqa: E402
from hfl_ros.ros import conversions  # noqa: E402
from hfl_ros.msg import HandObjectRois  # noqa: E402  (after conversions: the generated package joins hfl_ros)
from hfl_ros.ros.camera_info import intrinsics_from_camera_info  # noqa: E402
from hfl_ros.ros.image_conversion import image_to_rgb  # noqa: E402

HEADER = Header(stamp=Time(sec=1700000000, nanosec=123456789), frame_id="camera_color_optical_frame")
CUBE = control_points_from_points(np.array([[-0.03, -0.02, -0.01], [0.03, 0.02, 0.01]]))


def _same_header(header: Header) -> bool:
    return (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (1700000000, 123456789,
                                                                       "camera_color_optical_frame")


def _matrix(q) -> np.ndarray:
    """(3, 3) rotation of a geometry_msgs/Quaternion, by the project's inverse of the conversion."""
    return quaternion_to_matrix(torch.tensor([q.w, q.x, q.y, q.z], dtype=torch.float64)).numpy()


def _xyz(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points])


def _hand(estimate, filtered=None, hand_source: str = "tracking", object_source: str = "refined", passes: int = 2,
          track_id: int = 4, object_track_id: int = 7) -> HandResult:
    """The pipeline's hand around an estimate: its boxes with the given sources."""
    return HandResult(side=estimate.hand.side, track_id=track_id, hand_box=estimate.hand.box, hand_source=hand_source,
                      hand_score=0.9, object_name=estimate.object.name, object_box=estimate.object.box,
                      object_source=object_source, object_track_id=object_track_id, estimate=estimate,
                      filtered=filtered, output=estimate, passes=passes, gated=False)


def _left(estimate):
    return dataclasses.replace(estimate, hand=dataclasses.replace(estimate.hand, side="left"))


def test_quaternion_round_trips_and_is_unit():
    rng = np.random.default_rng(0)
    for _ in range(20):
        rotation = quaternion_to_matrix(torch.from_numpy(rng.normal(size=4))).numpy()
        msg = conversions.quaternion_from_matrix(rotation)
        assert np.isclose(np.linalg.norm([msg.w, msg.x, msg.y, msg.z]), 1.0) and msg.w >= 0
        np.testing.assert_allclose(_matrix(msg), rotation, atol=1e-12)


def test_hand_object_message_carries_the_estimate(estimate_factory):
    estimate = estimate_factory(object_angle=0.7)
    msg = conversions.hand_object_message(_hand(estimate), HEADER, True, (320, 240), 0.5)
    assert _same_header(msg.header) and msg.header is not HEADER
    assert (msg.hand_found, msg.hand_box_source, msg.object_box_source, msg.passes, msg.untrained) == \
        (True, "tracking", "refined", 2, True)
    assert (msg.side, msg.track_id, msg.object_track_id) == ("right", 4, 7)
    assert msg.hand.side == "right" and not msg.hand_filtered.valid and not msg.object_filtered.valid
    assert np.isclose(msg.network_time, 0.4) and np.isclose(msg.processing_time, 0.5)
    joints = np.array([[p.x, p.y, p.z] for p in msg.hand.joints])
    np.testing.assert_allclose(joints, estimate.hand.joints)
    np.testing.assert_allclose([[p.x, p.y] for p in msg.hand.joints_2d], estimate.hand.joints_2d)
    np.testing.assert_allclose(msg.hand.mano_pose, estimate.hand.mano_pose, atol=1e-6)
    np.testing.assert_allclose(_matrix(msg.hand.wrist_pose.orientation), estimate.hand.wrist_pose[:3, :3], atol=1e-12)
    assert msg.object.has_pose and msg.object.inliers == 12
    np.testing.assert_allclose(_matrix(msg.object.pose.orientation), estimate.object.rotation, atol=1e-12)
    position = msg.object.pose.position
    np.testing.assert_allclose([position.x, position.y, position.z], estimate.object.translation)
    roi = msg.hand.box
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == (100, 60, 120, 120)


def test_filtered_fields_carry_the_filter_output(estimate_factory):
    hand_object_filter = HandObjectFilter()
    hand_object_filter.update_estimate(10.0, estimate_factory(object_angle=0.5, wrist_angle=0.3))
    estimate = estimate_factory(object_angle=0.6, wrist_angle=0.5)  # turned: the filter lags behind
    filtered = hand_object_filter.update_estimate(10.04, estimate)
    msg = conversions.hand_object_message(_hand(estimate, filtered), HEADER, False, (320, 240), 0.1)
    hand, obj = msg.hand_filtered, msg.object_filtered
    assert hand.valid and obj.valid and not hand.gated and (hand.reset, obj.reset) == ("", "")
    np.testing.assert_allclose(_xyz(hand.joints), filtered.hand.joints)
    np.testing.assert_allclose(_xyz(hand.joints_wrist), filtered.hand.joints_wrist)
    np.testing.assert_allclose(_matrix(hand.wrist_pose.orientation), filtered.hand.wrist_pose[:3, :3], atol=1e-12)
    np.testing.assert_allclose(_matrix(obj.pose.orientation), filtered.object.pose[:3, :3], atol=1e-12)
    assert not np.allclose(_matrix(obj.pose.orientation), estimate.object.rotation, atol=1e-3)  # raw != filtered
    np.testing.assert_allclose(_matrix(msg.object.pose.orientation), estimate.object.rotation, atol=1e-12)
    restarted = HandObjectFilter().update_estimate(10.0, estimate_factory(object_angle=None))
    msg = conversions.hand_object_message(_hand(estimate, restarted), HEADER, False, (320, 240), 0.1)
    assert (msg.hand_filtered.valid, msg.hand_filtered.reset, msg.object_filtered.valid) == (True, "start", False)


def test_a_frame_without_hand_is_marked_and_empty():
    msg = conversions.hand_object_message(None, HEADER, False, (320, 240), 0.1)
    assert _same_header(msg.header) and not msg.hand_found and (msg.side, msg.track_id) == ("", 0)
    assert (msg.hand_box_source, msg.object_box_source, msg.object.name, msg.network_time) == ("", "", "", 0.0)
    record = conversions.hand_object_record(msg)
    assert (record["hand_found"], record["hand"], record["object"]) == (False, None, None)


def test_external_rois_zero_size_box_is_not_given():
    rois = HandObjectRois(header=HEADER, hand=conversions.roi_from_box(np.array([10.0, 20.0, 50.0, 60.0]), 64, 64),
                          object_class="025_mug", side="left")
    external = conversions.external_rois(rois)
    assert external.stamp == pytest.approx(1700000000.123456789) and external.object_box is None
    np.testing.assert_array_equal(external.hand_box, [10, 20, 50, 60])
    assert (external.object_class, external.side) == ("025_mug", "left")


def test_no_pose_gives_identity_and_no_pose_outputs(estimate_factory):
    estimate = estimate_factory(object_angle=None)
    msg = conversions.hand_object_message(_hand(estimate, None, "roi", "roi", 1), HEADER, False, (320, 240), 0.1)
    assert not msg.object.has_pose and msg.object.pose.orientation.w == 1.0
    assert conversions.object_pose_message(estimate, HEADER) is None
    tf = conversions.tf_message(estimate, HEADER, "hfl/")
    assert [t.child_frame_id for t in tf.transforms] == ["hfl/right_wrist"]


def test_object_pose_and_tf_share_the_image_header(estimate_factory):
    estimate = estimate_factory(object_angle=-1.2)
    pose = conversions.object_pose_message(estimate, HEADER)
    assert _same_header(pose.header)
    np.testing.assert_allclose(_matrix(pose.pose.orientation), estimate.object.rotation, atol=1e-12)
    tf = conversions.tf_message(_left(estimate), HEADER, "cam1/")
    assert [t.child_frame_id for t in tf.transforms] == ["cam1/left_wrist", "cam1/object"]
    for transform in tf.transforms:
        assert _same_header(transform.header)
    wrist = tf.transforms[0].transform
    np.testing.assert_allclose([wrist.translation.x, wrist.translation.y, wrist.translation.z],
                               estimate.hand.joints[0])
    assert conversions.tf_message(estimate, HEADER, "", include_hand=False).transforms[0].child_frame_id == "object"


def test_joint_tf_and_wrist_frame_joints_are_the_camera_joints_seen_from_the_wrist(estimate_factory):
    estimate = _left(estimate_factory(object_angle=0.4, wrist_angle=0.9))
    wrist = estimate.hand.wrist_pose
    transforms = conversions.tf_message(estimate, HEADER, "hfl/", include_joints=True).transforms
    assert [t.child_frame_id for t in transforms] == \
        ["hfl/left_wrist"] + [f"hfl/left_{name}" for name in JOINT_NAMES[1:]] + ["hfl/object"]
    joints = transforms[1:NUM_JOINTS]
    assert all(t.header.frame_id == "hfl/left_wrist" and t.header.stamp == HEADER.stamp for t in joints)
    assert all(t.transform.rotation.w == 1.0 for t in joints)
    local = np.array([[t.transform.translation.x, t.transform.translation.y, t.transform.translation.z]
                      for t in joints])
    np.testing.assert_allclose(transform_points(local, wrist[:3, :3], wrist[:3, 3]), estimate.hand.joints[1:],
                               atol=1e-12)
    poses = conversions.hand_joints_wrist_message(estimate, HEADER, "hfl/")
    assert poses.header.frame_id == "hfl/left_wrist" and poses.header.stamp == HEADER.stamp
    assert HEADER.frame_id == "camera_color_optical_frame"  # the image's header is left as it was
    positions = np.array([[p.position.x, p.position.y, p.position.z] for p in poses.poses])
    assert len(positions) == NUM_JOINTS and np.allclose(positions[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(positions[1:], local, atol=1e-12)


def test_hand_joints_are_a_pose_array_in_joint_order(estimate_factory):
    estimate = estimate_factory()
    msg = conversions.hand_joints_message(estimate, HEADER)
    assert _same_header(msg.header) and len(msg.poses) == NUM_JOINTS
    np.testing.assert_allclose([[p.position.x, p.position.y, p.position.z] for p in msg.poses], estimate.hand.joints)
    assert all(p.orientation.w == 1.0 for p in msg.poses)


def test_markers_have_the_documented_sizes(estimate_factory):
    estimate = estimate_factory(object_angle=0.2)
    markers = conversions.marker_array(estimate, HEADER, CUBE, lifetime=0.5).markers
    mesh, skeleton, box = markers
    assert all(_same_header(m.header) for m in markers)
    assert (mesh.type, len(mesh.points)) == (Marker.TRIANGLE_LIST, 3 * NUM_MANO_FACES)
    first_face = estimate.hand.vertices[estimate.hand.faces[0]]
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in mesh.points[:3]], first_face)
    assert (skeleton.type, len(skeleton.points)) == (Marker.LINE_LIST, 2 * (len(JOINT_PARENTS) - 1))
    assert (box.type, len(box.points)) == (Marker.LINE_LIST, 2 * len(BOX_EDGES))
    corner = CUBE[BOX_EDGES[0][0]] @ estimate.object.rotation.T + estimate.object.translation
    np.testing.assert_allclose([box.points[0].x, box.points[0].y, box.points[0].z], corner)
    assert (mesh.lifetime.sec, mesh.lifetime.nanosec) == (0, 500_000_000)


def test_hidden_parts_are_deleted(estimate_factory):
    estimate = estimate_factory(object_angle=None)
    markers = conversions.marker_array(estimate, HEADER, CUBE, include_hand=False).markers
    assert [m.action for m in markers] == [Marker.DELETE] * 3
    assert len({m.id for m in markers}) == 3


def test_roi_and_box_round_trip():
    roi = conversions.roi_from_box(np.array([10.2, 20.7, 50.1, 80.0]), 64, 64)
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == (10, 20, 41, 44)
    np.testing.assert_array_equal(conversions.box_from_roi(roi), [10, 20, 51, 64])


def test_duration_and_stamp_seconds():
    d = conversions.duration(1.25)
    assert (d.sec, d.nanosec) == (1, 250_000_000)
    assert conversions.stamp_seconds(HEADER.stamp) == pytest.approx(1700000000.123456789, abs=1e-6)
    stamp = conversions.stamp_from_seconds(12.25)
    assert (stamp.sec, stamp.nanosec) == (12, 250_000_000)
    carried = conversions.stamp_from_seconds(1.9999999999)  # rounds up into the next second
    assert (carried.sec, carried.nanosec) == (2, 0)


def test_camera_messages_round_trip_through_the_node_conversions():
    K = np.array([[400.0, 0.0, 30.0], [0.0, 410.0, 20.0], [0.0, 0.0, 1.0]])
    info = conversions.camera_info_message(K, 64, 48, HEADER)
    assert _same_header(info.header) and (info.width, info.height) == (64, 48)
    np.testing.assert_array_equal(intrinsics_from_camera_info(info.k, info.p, "k"), K)
    np.testing.assert_array_equal(intrinsics_from_camera_info(info.k, info.p, "p"), K)
    rgb = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    image = conversions.image_message(rgb, HEADER)
    assert _same_header(image.header) and image.header is not HEADER
    np.testing.assert_array_equal(image_to_rgb(image.encoding, image.height, image.width, image.step, image.data),
                                  rgb)


def test_hand_object_record_is_plain_json(estimate_factory):
    estimate = estimate_factory(object_angle=0.3)
    filtered = HandObjectFilter().update_estimate(1.0, estimate)
    record = conversions.hand_object_record(
        conversions.hand_object_message(_hand(estimate, filtered, "external", "hand"), HEADER, False, (320, 240),
                                        0.25))
    decoded = json.loads(json.dumps(record))
    assert decoded["stamp"] == pytest.approx(1700000000.123456789) and decoded["hand_found"] is True
    assert (decoded["hand"]["box_source"], decoded["object"]["box_source"]) == ("external", "hand")
    assert decoded["hand"]["filtered"]["reset"] == "start" and decoded["hand"]["filtered"]["gated"] is False
    np.testing.assert_allclose(decoded["hand"]["filtered"]["joints_wrist"], filtered.hand.joints_wrist)
    np.testing.assert_allclose(decoded["object"]["filtered"]["pose"]["position"], filtered.object.pose[:3, 3])
    np.testing.assert_allclose(decoded["hand"]["joints"], estimate.hand.joints)
    np.testing.assert_allclose(decoded["object"]["pose"]["position"], estimate.object.translation)
    assert decoded["hand"]["box"] == [100, 60, 220, 180]
    no_pose = conversions.hand_object_record(
        conversions.hand_object_message(_hand(estimate_factory(), None, "roi", "roi"), HEADER, True, (320, 240),
                                        0.1))
    assert no_pose["object"]["pose"] is None and no_pose["untrained"] is True
    assert no_pose["hand"]["filtered"] is None and no_pose["object"]["filtered"] is None
