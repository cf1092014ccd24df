"""`hfl-video --lerobot`: a run over a video and a bag of a rendered grasp written as a LeRobot v3.0 dataset by
LeRobot's own code, loaded back with the same library: one episode per input at the inputs' 30 frames/s,
every per-frame feature equal to trajectory.jsonl's values, the source frames as its video (real detector,
real untrained network)."""

import json

import cv2
import numpy as np
import pytest

pytest.importorskip("ledataset")
pytest.importorskip("rosbags")

from hfl_ros.apps import video  # noqa: E402
from hfl_ros.apps.lerobot_export import (  # noqa: E402
    IMAGE_KEY, VALID_NAMES, Episode, frame_values, pose_vector, write_lerobot_dataset,
)
from hfl_ros.evaluation.tracking_scenes import render_sequence  # noqa: E402
from hfl_ros.inference.bags import write_image_bag  # noqa: E402
from hfl_ros.inference.frames import Frame, InputError  # noqa: E402

#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py).
SEED, FRAMES, FPS = 18, 3, 30


@pytest.fixture(scope="module")
def run(tmp_path_factory, mano_dir):
    """An hfl-video run over an mp4 clip and an MCAP bag of the same rendered grasp, and its dataset."""
    folder = tmp_path_factory.mktemp("lerobot")
    sequence = render_sequence(SEED, FRAMES)
    images, K = [frame.image for frame in sequence], sequence[0].annotation.K
    clip = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), float(FPS), (640, 480))
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    stamps = [1_700_000_000_000_000_000 + round(i * 1e9 / FPS) for i in range(FRAMES)]
    bag = write_image_bag(folder / "bag", images, stamps, K)
    camera = folder / "camera.yaml"
    camera.write_text(f"image_width: 640\nimage_height: 480\ncamera_matrix:\n  data: {K.reshape(-1).tolist()}\n")
    output = folder / "out"
    assert video.main([str(clip), str(bag), "--output", str(output), "--mano-dir", str(mano_dir), "--device", "cpu",
                       "--side", "right", "--no-overlay", "--camera-info", str(camera), "--lerobot"]) == 0
    records = [json.loads(line) for line in (output / video.TRAJECTORY).read_text().splitlines()]
    return records, output / "lerobot", images


def test_dataset_loads_back_with_one_episode_per_input_and_the_trajectory_values(run):
    from ledataset.datasets.lerobot_dataset import LeRobotDataset
    records, root, _ = run
    dataset = LeRobotDataset("hfl_ros/hand_object", root=root)
    assert (dataset.meta.total_episodes, dataset.fps, dataset.num_frames) == (2, FPS, 2 * FRAMES)
    assert dataset.meta.info["codebase_version"] == "v3.0"
    rows = dataset.hf_dataset.with_format(None)
    assert [row["index"] for row in rows] == [record["frame"] for record in records]
    assert [row["episode_index"] for row in rows] == [0] * FRAMES + [1] * FRAMES
    assert [row["frame_index"] for row in rows] == list(range(FRAMES)) * 2
    assert any(record["hand"] is not None for record in records)
    for row, record in zip(rows, records):
        hand = record["hand"]
        found = hand is not None
        filtered = found and hand["filtered"] is not None
        assert row["observation.valid"][:4] == [found, filtered, False, False]
        assert row["observation.stamp"] == list(divmod(round(record["stamp"] * 1e9), 10**9))
        if filtered:
            values = hand["filtered"]
            np.testing.assert_allclose(row["observation.hand.right.wrist_pose"], pose_vector(values["wrist_pose"]),
                                       rtol=1e-6, atol=1e-7)  # float32 of 6-decimal values
            np.testing.assert_allclose(np.reshape(row["observation.hand.right.joints_wrist"], (21, 3)),
                                       values["joints_wrist"], rtol=1e-6, atol=1e-7)  # MediaPipe order = ours
            np.testing.assert_allclose(np.reshape(row["observation.hand.right.joints_camera"], (21, 3)),
                                       values["joints"], rtol=1e-6, atol=1e-7)
        assert row["observation.hand.left.wrist_pose"] == [0.0] * 7
        obj = record["object"]
        object_filtered = obj is not None and obj["filtered"] is not None
        assert row["observation.valid"][4:] == [object_filtered or bool(obj and obj["has_pose"]), object_filtered]
        if object_filtered:
            np.testing.assert_allclose(row["observation.object.pose"], pose_vector(obj["filtered"]["pose"]),
                                       rtol=1e-6, atol=1e-7)
    names = dataset.meta.features["observation.valid"]["names"]
    assert tuple(names) == VALID_NAMES


def test_dataset_video_holds_the_source_frames(run):
    import av
    from ledataset.datasets.lerobot_dataset import LeRobotDataset
    _, root, images = run
    dataset = LeRobotDataset("hfl_ros/hand_object", root=root)
    decoded = []
    for episode in range(2):
        with av.open(str(root / dataset.meta.get_video_file_path(episode, IMAGE_KEY))) as container:
            decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(decoded) == 2 * FRAMES  # both episodes in one video file, in order
    errors = np.array([[np.abs(frame.astype(float) - image).mean() for image in images] for frame in decoded])
    # Each decoded frame is nearest to its own source frame (the clip's went through mp4v, then AV1 at CRF 30).
    assert errors.argmin(axis=1).tolist() == list(range(FRAMES)) * 2
    assert errors.min(axis=1).max() < 6.0


def test_frames_that_do_not_match_the_records_are_refused(tmp_path):
    record = {"frame": 0, "stamp": 0.0, "hand": None, "object": None}
    frame = Frame(1, "x.png", 0.0, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="frame 1 read again, but the trajectory's record is frame 0"):
        write_lerobot_dataset(tmp_path / "lerobot", [Episode("x.png", [record], [frame])])
    assert frame_values(record)["observation.valid"].tolist() == [False] * 6
