"""HandObjectEstimator: geometry round trip through decode_output, end to end on the bundled sample, bad input,
the inference path against the plain network, prepare + infer = estimate, a one-crop batch = the network run
on that crop, batches of crops, CUDA against the CPU (on a GPU)."""

import json

import numpy as np
import pytest
import torch

from hfl_ros.constants import NUM_CONTROL_POINTS, ROI_SIZE
from hfl_ros.geometry.camera import affine_boxes, apply_affine, normalise_in_box, project_points
from hfl_ros.geometry.control_points import control_points_from_points
from hfl_ros.geometry.rotations import axis_angle_to_matrix
from hfl_ros.geometry.mirror import mirror_box, mirror_image, mirror_intrinsics
from hfl_ros.inference.crop import crop_cv2
from hfl_ros.inference.estimator import (
    CropRequest,
    EstimationError,
    HandObjectEstimator,
    InferenceConfig,
    crop_geometry,
    decode_output,
    outputs_to_host,
)
from hfl_ros.objects import ObjectModel
from hfl_ros.results import estimate_to_dict
from hfl_ros.model.hflnet import HFLNetOutput

K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])


def _box_object() -> ObjectModel:
    corners = np.array([[x, y, z] for x in (-0.03, 0.03) for y in (-0.04, 0.04) for z in (-0.06, 0.06)])
    return ObjectModel(name="box", control_points=control_points_from_points(corners), vertices=corners,
                       faces=np.zeros((0, 3), dtype=np.int64), diameter=float(np.linalg.norm(corners[0] * 2)))


def _scene(mano_layer):
    """A posed procedural hand at a known camera translation and an object at a known pose."""
    torch.manual_seed(3)
    pose = torch.randn(1, 48) * 0.3
    hand = mano_layer(pose, torch.zeros(1, 10))
    root = np.array([0.02, -0.01, 0.55])
    joints_rel = hand.joints[0].double().numpy()
    rotation = axis_angle_to_matrix(torch.tensor([0.3, -0.5, 0.2], dtype=torch.float64)).numpy()
    translation = np.array([0.05, 0.02, 0.6])
    return pose, hand, joints_rel, root, rotation, translation


def _oracle_output(hand, joints_rel, root, rotation, translation, geometry, model) -> HFLNetOutput:
    """Network outputs that say exactly the ground truth: what a perfect HFL-Net would predict."""
    joints_crop = apply_affine(project_points(joints_rel + root, K), geometry.affine)
    joints_2d = normalise_in_box(joints_crop[None], geometry.hand_crop_box[None])[0]
    points_img = project_points(model.control_points @ rotation.T + translation, K)
    points_box = normalise_in_box(apply_affine(points_img, geometry.affine)[None], geometry.object_crop_box[None])[0]
    confidence = np.full((ROI_SIZE, ROI_SIZE, NUM_CONTROL_POINTS), 0.1)
    confidence[10:14, 10:13] = 0.9  # 12 confident cells per point
    xs = np.broadcast_to(points_box[:, 0], confidence.shape).copy()
    ys = np.broadcast_to(points_box[:, 1], confidence.shape).copy()
    heatmaps = torch.full((1, 21, ROI_SIZE, ROI_SIZE), 1.0 / ROI_SIZE**2)
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)[None]  # noqa: E731
    return HFLNetOutput(
        joints_2d=as_t(joints_2d), heatmaps=heatmaps, mano_pose=torch.zeros(1, 48),
        mano_rotmats=torch.eye(3).expand(1, 16, 3, 3), mano_shape=torch.zeros(1, 10),
        vertices=hand.vertices.double(), joints=as_t(joints_rel),
        object_confidence=as_t(confidence), object_x=as_t(xs), object_y=as_t(ys),
    )


def test_perfect_network_outputs_give_back_the_scene(mano_layer):
    _, hand, joints_rel, root, rotation, translation = _scene(mano_layer)
    model = _box_object()
    hand_box = np.r_[project_points(joints_rel + root, K).min(0) - 8, project_points(joints_rel + root, K).max(0) + 8]
    points_img = project_points(model.control_points @ rotation.T + translation, K)
    object_box = np.r_[points_img.min(0), points_img.max(0)]
    geometry = crop_geometry((640, 480), K, hand_box, object_box)
    np.testing.assert_allclose(geometry.hand_crop_box, affine_boxes(hand_box, geometry.affine))

    out = _oracle_output(hand, joints_rel, root, rotation, translation, geometry, model)
    hand_est, obj_est = decode_output(out, geometry, model, mano_layer.faces.numpy())
    np.testing.assert_allclose(hand_est.joints, joints_rel + root, atol=1e-6)
    np.testing.assert_allclose(hand_est.wrist_pose[:3, 3], root, atol=1e-6)
    np.testing.assert_allclose(hand_est.joints_2d, project_points(joints_rel + root, K), atol=1e-6)
    assert obj_est.has_pose and obj_est.inliers >= 6
    np.testing.assert_allclose(obj_est.rotation, rotation, atol=1e-4)
    np.testing.assert_allclose(obj_est.translation, translation, atol=1e-4)
    np.testing.assert_allclose(obj_est.control_points_2d, points_img, atol=1e-6)


def test_unconfident_object_maps_give_no_pose(mano_layer):
    _, hand, joints_rel, root, rotation, translation = _scene(mano_layer)
    model = _box_object()
    geometry = crop_geometry((640, 480), K, np.array([200.0, 150, 400, 350]), np.array([250.0, 200, 450, 400]))
    out = _oracle_output(hand, joints_rel, root, rotation, translation, geometry, model)
    out.object_confidence.fill_(0.3)
    _, obj_est = decode_output(out, geometry, model, mano_layer.faces.numpy())
    assert not obj_est.has_pose and obj_est.rotation is None and obj_est.inliers == 0


@pytest.fixture(scope="module")
def untrained(mano_dir):
    return HandObjectEstimator.from_files(None, mano_dir, device="cpu")


def test_end_to_end_on_the_bundled_sample(untrained):
    from hfl_ros.data.synthetic import bundled_sample, default_assets

    image, annotation, _ = bundled_sample()
    model = default_assets().object_model(annotation.object_name)
    joints_2d = project_points(annotation.joints_3d, annotation.K)
    hand_box = np.r_[joints_2d.min(0), joints_2d.max(0)]
    points = project_points(annotation.object_control_points @ annotation.object_rotation.T
                            + annotation.object_translation, annotation.K)
    object_box = np.r_[points.min(0), points.max(0)]
    estimate = untrained.estimate(image, annotation.K, hand_box, object_box, model)
    assert untrained.untrained
    assert estimate.hand.joints.shape == (21, 3) and estimate.hand.vertices.shape == (778, 3)
    assert estimate.hand.joints_2d.shape == (21, 2) and estimate.object.control_points_2d.shape == (21, 2)
    assert np.all(np.isfinite(estimate.hand.vertices)) and estimate.hand.joints[:, 2].min() > 0
    assert set(estimate.timings) == {"crop", "network", "geometry"}
    json.dumps(estimate_to_dict(estimate))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image": np.zeros((10, 10, 3), dtype=np.float32)}, "uint8"),
        ({"K": np.full((3, 3), np.nan)}, "nan"),
        ({"hand_box": np.array([50.0, 50.0, 40.0, 60.0])}, "50.0, 50.0, 40.0"),
        ({"object_box": np.array([900.0, 900.0, 950.0, 950.0]), "hand_box": np.array([700.0, 700.0, 800.0, 800.0])},
         "does not overlap"),
    ],
)
def test_bad_input_is_refused_with_the_value(untrained, change, message):
    args = {"image": np.zeros((480, 640, 3), dtype=np.uint8), "K": K,
            "hand_box": np.array([100.0, 100.0, 200.0, 200.0]), "object_box": np.array([150.0, 150.0, 250.0, 250.0])}
    args.update(change)
    with pytest.raises(EstimationError, match=message):
        untrained.estimate(object_model=_box_object(), **args)


def _bundled_frame():
    """(image, K, hand box, object box, object model) of the bundled demo scene."""
    from hfl_ros.apps.demo import BUNDLED_SCENE, scene_boxes
    from hfl_ros.data.synthetic import read_scene, read_scene_object

    image, annotation, _ = read_scene(BUNDLED_SCENE)
    boxes = scene_boxes(annotation)
    return image, annotation.K, boxes["hand"], boxes["object"], read_scene_object(BUNDLED_SCENE)


def test_default_inference_path_equals_the_plain_network(untrained, mano_dir):
    plain = HandObjectEstimator.from_files(None, mano_dir, device="cpu", inference=InferenceConfig(optimize=False))
    assert untrained.network is not untrained.model and plain.network is plain.model
    frame = _bundled_frame()
    fast, reference = untrained.estimate(*frame), plain.estimate(*frame)
    np.testing.assert_allclose(fast.hand.vertices - fast.hand.joints[:1],
                               reference.hand.vertices - reference.hand.joints[:1], atol=1e-5, rtol=0)
    np.testing.assert_allclose(fast.hand.joints_2d, reference.hand.joints_2d, atol=1e-3, rtol=0)
    np.testing.assert_allclose(fast.object.control_points_2d, reference.object.control_points_2d, atol=1e-3, rtol=0)


def test_prepare_then_infer_is_estimate(untrained):
    frame = _bundled_frame()
    prepared = untrained.prepare(*frame)
    assert prepared.images.shape == (1, 3, 256, 256) and set(prepared.timings) == {"crop"}
    split, whole = untrained.infer(prepared), untrained.estimate(*frame)
    np.testing.assert_array_equal(split.hand.vertices, whole.hand.vertices)
    np.testing.assert_array_equal(split.object.control_point_scores, whole.object.control_point_scores)
    assert set(split.timings) == {"crop", "network", "geometry"}


def test_a_one_crop_batch_is_the_network_run_on_that_crop(untrained):
    """estimate (a batch of one) against the pieces run by hand: OpenCV crop, (1, 3, 256, 256) input,
    network, decode of sample 0. Bit-equal: batching one crop adds no arithmetic."""
    image, K_, hand_box, object_box, model = _bundled_frame()
    geometry = crop_geometry(image.shape[1::-1], K_, hand_box, object_box)
    pixels = torch.from_numpy(crop_cv2(image, geometry.affine)).permute(2, 0, 1)[None].float() / 255.0
    boxes = torch.from_numpy(np.stack((geometry.hand_crop_box, geometry.object_crop_box))).float()
    with torch.inference_mode():
        out = outputs_to_host(untrained.network(pixels, boxes[:1], boxes[1:]))
    hand, obj = decode_output(out, geometry, model, untrained.faces, untrained.pose_settings)
    estimate = untrained.estimate(image, K_, hand_box, object_box, model)
    np.testing.assert_array_equal(estimate.hand.vertices, hand.vertices)
    np.testing.assert_array_equal(estimate.hand.joints_2d, hand.joints_2d)
    np.testing.assert_array_equal(estimate.object.control_points_2d, obj.control_points_2d)
    np.testing.assert_array_equal(estimate.object.control_point_scores, obj.control_point_scores)


def _two_crops():
    """The bundled frame's crop and the crop of its mirrored view (as for a left hand): (image, requests)."""
    image, K_, hand_box, object_box, model = _bundled_frame()
    width = image.shape[1]
    return image, (CropRequest(K_, hand_box, object_box, model),
                   CropRequest(mirror_intrinsics(K_, width), mirror_box(hand_box, width),
                               mirror_box(object_box, width), model, mirrored=True))


def test_a_batch_cuts_each_crop_from_its_view(untrained):
    """prepare_batch stacks the crops in request order; a mirrored request is cut from the flipped image."""
    image, requests = _two_crops()
    prepared = untrained.prepare_batch(image, requests)
    assert prepared.images.shape == (2, 3, 256, 256) and prepared.hand_boxes.shape == (2, 4)
    for index, (view, request) in enumerate(zip((image, mirror_image(image)), requests)):
        geometry = crop_geometry(image.shape[1::-1], request.K, request.hand_box, request.object_box)
        expected = torch.from_numpy(crop_cv2(view, geometry.affine)).permute(2, 0, 1).float() / 255.0
        torch.testing.assert_close(prepared.images[index], expected, rtol=0, atol=0)
        np.testing.assert_allclose(prepared.object_boxes[index].numpy(), geometry.object_crop_box, rtol=1e-6)
    estimates = untrained.infer_batch(prepared)
    assert len(estimates) == 2 and set(estimates[1].timings) == {"crop", "network", "geometry"}
    with pytest.raises(ValueError, match="infer_batch"):
        untrained.infer(prepared)
    with pytest.raises(EstimationError, match="at least one"):
        untrained.prepare_batch(image, ())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batch_matches_the_cpu(untrained, mano_dir):
    """Batch 2 on CUDA (one upload, the flipped view on the GPU, a CUDA graph per batch size) against the CPU,
    then batch 1 again (its own graph)."""
    cuda = HandObjectEstimator.from_files(None, mano_dir, device="cuda")
    image, requests = _two_crops()
    for batch in (requests, requests, requests[1:]):
        got, expected = cuda.estimate_batch(image, batch), untrained.estimate_batch(image, batch)
        for one, reference in zip(got, expected):
            np.testing.assert_allclose(one.hand.vertices - one.hand.joints[:1],
                                       reference.hand.vertices - reference.hand.joints[:1], atol=1e-3, rtol=0)
            np.testing.assert_allclose(one.hand.joints_2d, reference.hand.joints_2d, atol=0.5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision, tolerance_m", [("fp32", 1e-3), ("fp16", 5e-3)])
def test_cuda_estimate_matches_the_cpu(untrained, mano_dir, precision, tolerance_m):
    """GPU crop, pinned upload, CUDA graph and the precision's backbone against the CPU estimator."""
    cuda = HandObjectEstimator.from_files(None, mano_dir, device="cuda", inference=InferenceConfig(precision=precision))
    frame = _bundled_frame()
    for _ in range(2):  # the second call replays the captured CUDA graph
        got, expected = cuda.estimate(*frame), untrained.estimate(*frame)
    np.testing.assert_allclose(got.hand.vertices - got.hand.joints[:1],
                               expected.hand.vertices - expected.hand.joints[:1], atol=tolerance_m, rtol=0)
