"""ROS 2 bags as frame inputs (rosbags, no ROS): bags this test writes (sqlite3 and MCAP, folders and single
files, raw and compressed images) read back pixel for pixel with their header stamps; resuming skips frames;
every bad bag fails with one error naming the bag and the topic."""

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags")

from hfl_ros.inference.bags import BagTopics, open_bag, write_image_bag  # noqa: E402
from hfl_ros.inference.frames import InputError, expand_inputs, iterate_frames  # noqa: E402

K = np.array([[80.0, 0.0, 32.0], [0.0, 82.0, 24.0], [0.0, 0.0, 1.0]])
#: Header stamps, ns: an epoch time with nanoseconds that float seconds cannot hold exactly.
STAMPS = [1_700_000_000_123_456_789 + i * 33_333_333 for i in range(5)]
SUFFIX = {"mcap": ".mcap", "sqlite3": ".db3"}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8) for _ in STAMPS]


def _single_file(bag: Path, storage: str, target: Path) -> Path:
    """The storage file of a rosbag2 folder, copied out alone (a bag as one file)."""
    return Path(shutil.copy(next(bag.glob("*" + SUFFIX[storage])), target / ("single" + SUFFIX[storage])))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("image_format", ["raw", "png"])
@pytest.mark.parametrize("as_file", [False, True])
def test_bag_frames_are_the_recorded_images_with_header_stamps(tmp_path, images, storage, image_format, as_file):
    bag = write_image_bag(tmp_path / "bag", images, STAMPS, K, storage=storage, image_format=image_format)
    if as_file:
        bag = _single_file(bag, storage, tmp_path)
    assert expand_inputs([bag]) == [bag]
    camera = open_bag(bag)
    assert (camera.image_topic, camera.camera_info_topic, camera.size, camera.frames) == \
        ("/camera/image_raw", "/camera/camera_info", (64, 48), len(STAMPS))
    np.testing.assert_array_equal(camera.K, K)
    frames = list(iterate_frames([bag]))
    assert [frame.index for frame in frames] == list(range(len(STAMPS)))
    for frame, image, stamp in zip(frames, images, STAMPS):
        np.testing.assert_array_equal(frame.image, image)
        assert frame.stamp_ns == stamp and frame.stamp == stamp / 10**9  # int / int: correctly rounded
        assert frame.frame_id == "camera_optical_frame" and frame.source == str(bag)


def test_jpeg_images_decode_close_to_the_recorded_ones(tmp_path, images):
    smooth = [np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3)) for _ in STAMPS]
    bag = write_image_bag(tmp_path / "bag", smooth, STAMPS, K, image_format="jpeg")
    frames = list(iterate_frames([bag]))
    assert len(frames) == len(STAMPS)
    assert max(np.abs(frame.image.astype(int) - smooth[0]).max() for frame in frames) <= 8  # JPEG, quality 90


def test_resume_skips_to_the_start_frame_across_inputs(tmp_path, images):
    first = write_image_bag(tmp_path / "a", images[:2], STAMPS[:2], K)
    second = write_image_bag(tmp_path / "b", images[2:], STAMPS[2:], K, storage="sqlite3")
    frames = list(iterate_frames([first, second], start=3))
    assert [frame.index for frame in frames] == [3, 4]
    np.testing.assert_array_equal(frames[0].image, images[3])
    assert frames[0].stamp_ns == STAMPS[3]


def test_topics_are_chosen_by_name_among_several(tmp_path, images):
    bag = write_image_bag(tmp_path / "bag", images, STAMPS, K, image_topic="/cam/color/image_raw",
                          camera_info_topic="/cam/color/camera_info")
    camera = open_bag(bag, BagTopics(image="/cam/color/image_raw", camera_info="/cam/color/camera_info"))
    assert camera.image_topic == "/cam/color/image_raw" and camera.camera_info_topic == "/cam/color/camera_info"


def test_a_bag_without_camera_info_has_no_intrinsics(tmp_path, images):
    camera = open_bag(write_image_bag(tmp_path / "bag", images, STAMPS, None))
    assert camera.camera_info_topic is None and camera.K is None and camera.size is None


def _error(bag: Path, topics: BagTopics = BagTopics()) -> str:
    with pytest.raises(InputError) as caught:
        list(iterate_frames([bag], bag_topics=topics))
    return str(caught.value)


def test_a_bag_without_image_topic_is_refused_naming_it(tmp_path, images):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    store = get_typestore(Stores.ROS2_JAZZY)
    bag = tmp_path / "no_images"
    with Writer(bag, version=9) as writer:
        connection = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        writer.write(connection, 1, store.serialize_cdr(store.types["std_msgs/msg/String"](data="hi"),
                                                        "std_msgs/msg/String"))
    message = _error(bag)
    assert str(bag) in message and "no image topic" in message and "/chatter" in message


def test_an_unknown_topic_name_is_refused_listing_the_image_topics(tmp_path, images):
    bag = write_image_bag(tmp_path / "bag", images, STAMPS, K)
    message = _error(bag, BagTopics(image="/camera/rgb"))
    assert str(bag) in message and "'/camera/rgb'" in message and "/camera/image_raw" in message
    message = _error(bag, BagTopics(camera_info="/other/camera_info"))
    assert "'/other/camera_info'" in message and "/camera/camera_info" in message
    message = _error(bag, BagTopics(image="/camera/camera_info"))
    assert "not images" in message


def test_camera_info_for_another_image_size_is_refused(tmp_path, images):
    bag = write_image_bag(tmp_path / "bag", images, STAMPS, K, camera_info_size=(640, 480))
    message = _error(bag)
    assert str(bag) in message and "/camera/camera_info is for 640x480" in message and "64x48" in message


def test_invalid_camera_info_intrinsics_are_refused(tmp_path, images):
    bag = write_image_bag(tmp_path / "bag", images, STAMPS, np.zeros((3, 3)))
    message = _error(bag)
    assert str(bag) in message and "/camera/camera_info" in message and "focal lengths" in message


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_truncated_bag_is_refused_naming_it(tmp_path, images, storage):
    whole = _single_file(write_image_bag(tmp_path / "bag", images, STAMPS, K, storage=storage), storage, tmp_path)
    cut = tmp_path / ("cut" + SUFFIX[storage])
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) * 2 // 3])
    message = _error(cut, BagTopics(image="/camera/image_raw"))
    assert str(cut) in message and "/camera/image_raw" in message and "truncated" in message


def test_bags_intrinsics_come_from_camera_info_and_must_agree(tmp_path, images):
    from hfl_ros.inference.bags import bags_intrinsics
    first = write_image_bag(tmp_path / "a", images, STAMPS, K)
    plain = write_image_bag(tmp_path / "b", images, STAMPS, None)
    K_found, size, where = bags_intrinsics([plain, first])
    np.testing.assert_array_equal(K_found, K)
    assert size == (64, 48) and where == f"{first} /camera/camera_info"
    assert bags_intrinsics([plain]) is None
    other = write_image_bag(tmp_path / "c", images, STAMPS, K + np.diag([5.0, 0.0, 0.0]))
    with pytest.raises(InputError, match="disagrees with"):
        bags_intrinsics([first, other])
