"""Frames from videos, images, folders and globs (streamed, resumable), and intrinsics from a camera_info
YAML, explicit values or the default; every bad input names its file."""

import math

import cv2
import numpy as np
import pytest

from hfl_ros.inference.frames import (
    DEFAULT_HORIZONTAL_FOV_DEG, InputError, check_intrinsics, default_intrinsics, expand_inputs,
    explicit_intrinsics, iterate_frames, read_camera_info_yaml,
)


def _write_video(path, frames, fps=25.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for value in frames:
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    return path


def _write_image(path, value):
    cv2.imwrite(str(path), np.full((48, 64, 3), value, np.uint8))
    return path


def test_inputs_expand_folders_globs_and_files_in_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    images = [_write_image(folder / f"{i:02d}.png", 10 * i) for i in (2, 0, 1)]
    (folder / "notes.txt").write_text("not an image")
    video = _write_video(tmp_path / "clip.mp4", [0, 50])
    files = expand_inputs([str(video), str(folder), str(tmp_path / "frames" / "0[01].png")])
    assert files == [video] + sorted(images) + sorted(images)[:2]


@pytest.mark.parametrize("name, message", [("missing.png", "no such file"), ("empty", "no images"),
                                           ("notes.txt", "not a video")])
def test_bad_inputs_are_named(tmp_path, name, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=message) as error:
        expand_inputs([str(tmp_path / name)])
    assert name in str(error.value)


def test_video_frames_stream_with_stamps_and_resume(tmp_path):
    video = _write_video(tmp_path / "clip.mp4", [0, 60, 120, 180, 240])
    image = _write_image(tmp_path / "after.png", 90)
    frames = list(iterate_frames([video, image], fps=10.0))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose([f.stamp for f in frames], [0, 0.04, 0.08, 0.12, 0.16, 0.2], atol=1e-6)
    assert [int(round(f.image.mean() / 60)) for f in frames[:5]] == [0, 1, 2, 3, 4]
    assert frames[5].source == str(image) and frames[5].image.shape == (48, 64, 3)
    resumed = list(iterate_frames([video, image], fps=10.0, start=3))
    assert [f.index for f in resumed] == [3, 4, 5]
    np.testing.assert_allclose([f.stamp for f in resumed], [0.12, 0.16, 0.2], atol=1e-6)
    np.testing.assert_array_equal(resumed[0].image, frames[3].image)


def test_unreadable_image_and_video_are_named(tmp_path):
    broken_image = tmp_path / "broken.png"
    broken_image.write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png: cannot be read as an image"):
        list(iterate_frames([broken_image]))
    broken_video = tmp_path / "broken.mp4"
    broken_video.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="broken.mp4"):
        list(iterate_frames([broken_video]))


def test_camera_info_yaml_gives_K_and_size(tmp_path):
    path = tmp_path / "camera.yaml"
    path.write_text("image_width: 640\nimage_height: 480\ncamera_name: cam\n"
                    "camera_matrix: {rows: 3, cols: 3, data: [600.0, 0.0, 320.5, 0.0, 601.0, 240.5, 0.0, 0.0, 1.0]}\n")
    K, size = read_camera_info_yaml(path)
    np.testing.assert_allclose(K, [[600, 0, 320.5], [0, 601, 240.5], [0, 0, 1]])
    assert size == (640, 480)
    path.write_text("image_width: 640\n")
    with pytest.raises(InputError, match="camera.yaml"):
        read_camera_info_yaml(path)


def test_intrinsics_that_do_not_fit_the_frame_are_refused_naming_both():
    K = explicit_intrinsics(500, 500, 320, 240)
    check_intrinsics(K, (640, 480), (640, 480), "cam.yaml", "a.png")
    with pytest.raises(InputError, match=r"cam.yaml is for 640x480 images but b.png is 320x240"):
        check_intrinsics(K, (320, 240), (640, 480), "cam.yaml", "b.png")
    with pytest.raises(InputError, match="principal point"):
        check_intrinsics(K, (300, 200), None, "--cx --cy", "c.png")
    with pytest.raises(InputError, match="fx"):
        explicit_intrinsics(0, 500, 320, 240)


def test_default_intrinsics_have_the_documented_field_of_view():
    K = default_intrinsics(640, 480)
    assert math.degrees(2 * math.atan((640 / 2) / K[0, 0])) == pytest.approx(DEFAULT_HORIZONTAL_FOV_DEG)
    assert K[0, 0] == K[1, 1] and (K[0, 2], K[1, 2]) == (319.5, 239.5)
