"""`hfl-video` on a short rendered clip and on a folder of images writes the documented trajectory and
overlays, resumes where it stopped, and names the bad input (real detector, real untrained network)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hfl_ros.apps.video import DEFAULT_INTRINSICS, RunIntrinsics, load_estimator, main, parse_args, run
from hfl_ros.evaluation.tracking_scenes import render_sequence
from hfl_ros.geometry.boxes import box_iou
from hfl_ros.inference.frames import Frame, InputError, default_intrinsics

REPO = Path(__file__).resolve().parents[2]
#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py).
SEED, FRAMES = 18, 4
HAND_KEYS = {"side", "box", "box_source", "score", "joints", "joints_2d", "wrist_pose", "filtered"}
OBJECT_KEYS = {"name", "box", "box_source", "score", "pose", "rotation", "translation", "filtered"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A rendered clip (mp4), its frames, and a camera_info YAML of its camera."""
    folder = tmp_path_factory.mktemp("clip")
    sequence = render_sequence(SEED, FRAMES)
    path = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    for frame in sequence:
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    K = sequence[0].annotation.K
    camera = folder / "camera.yaml"
    camera.write_text(f"image_width: 640\nimage_height: 480\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
                      f"  data: {K.reshape(-1).tolist()}\n")
    return path, sequence, camera


def _records(output):
    return [json.loads(line) for line in (output / "trajectory.jsonl").read_text().splitlines()]


def _common(output, mano_dir):
    return ["--output", str(output), "--mano-dir", str(mano_dir), "--device", "cpu", "--side", "right"]


def test_video_writes_the_documented_trajectory_and_resumes(clip, tmp_path, mano_dir, capsys):
    path, sequence, camera = clip
    output = tmp_path / "out"
    assert main([str(path), "--camera-info", str(camera)] + _common(output, mano_dir)) == 0
    records = _records(output)
    assert [r["frame"] for r in records] == list(range(FRAMES))
    np.testing.assert_allclose([r["stamp"] for r in records], np.arange(FRAMES) / 30.0, atol=1e-3)
    assert all(r["source"] == str(path) for r in records)
    first = records[0]
    assert HAND_KEYS <= set(first["hand"]) and OBJECT_KEYS <= set(first["object"])
    assert first["hand"]["box_source"] == "detector" and first["hand"]["side"] == "right"
    assert box_iou(first["hand"]["box"], sequence[0].hand_box) >= 0.5
    assert first["object"]["box_source"] in ("hand", "refined")
    assert all(r["hand"]["box_source"] in ("detector", "tracking") for r in records)
    assert np.asarray(first["hand"]["joints"]).shape == (21, 3)
    assert np.asarray(first["hand"]["wrist_pose"]).shape == (4, 4)
    assert first["object"]["pose"] is None or np.asarray(first["object"]["pose"]).shape == (4, 4)
    overlay = cv2.VideoCapture(str(output / "overlay" / "clip.mp4"))
    assert int(overlay.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    overlay.release()
    assert (output / "trajectory.npz").is_file()

    lines = (output / "trajectory.jsonl").read_text().splitlines(keepends=True)
    (output / "trajectory.jsonl").write_text("".join(lines[:2]) + lines[2][:40])
    capsys.readouterr()
    assert main([str(path), "--camera-info", str(camera)] + _common(output, mano_dir)) == 0
    out, err = capsys.readouterr()
    assert f"whole run {FRAMES} frames" in out and "this run: 2 frames from frame 2" in out
    assert f"{FRAMES}/{FRAMES}" in err  # the progress bar knows the video's length
    assert [r["frame"] for r in _records(output)] == list(range(FRAMES))
    assert sorted(p.name for p in (output / "overlay").iterdir()) == ["clip.mp4"]  # one overlay, continued
    overlay = cv2.VideoCapture(str(output / "overlay" / "clip.mp4"))
    assert int(overlay.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    overlay.release()
    assert main([str(path), "--camera-info", str(camera)] + _common(output, mano_dir)) == 0
    assert "this run: nothing left to do" in capsys.readouterr().out


def test_folder_of_images_with_a_frame_without_hand(clip, tmp_path, mano_dir):
    _, sequence, camera = clip
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_empty.png"), np.full((480, 640, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "b_hand.png"), cv2.cvtColor(sequence[0].image, cv2.COLOR_RGB2BGR))
    output = tmp_path / "out"
    assert main([str(folder), "--camera-info", str(camera)] + _common(output, mano_dir)) == 0
    empty, hand = _records(output)
    assert empty["hand"] is None and empty["object"] is None and empty["source"].endswith("a_empty.png")
    assert hand["hand"]["box_source"] == "detector"
    assert {p.name for p in (output / "overlay").iterdir()} == {"a_empty.png", "b_hand.png"}


def test_bad_inputs_give_one_error_naming_the_file(clip, tmp_path, mano_dir, capsys):
    path, _, camera = clip
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert main([str(broken)] + _common(tmp_path / "a", mano_dir)) == 2
    assert "broken.png: cannot be read as an image" in capsys.readouterr().err
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((240, 320, 3), np.uint8))
    assert main([str(small), "--camera-info", str(camera)] + _common(tmp_path / "b", mano_dir)) == 2
    assert f"{camera} is for 640x480 images but {small} is 320x240" in capsys.readouterr().err
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main([str(empty)] + _common(tmp_path / "c", mano_dir)) == 2
    assert "nothing: folder holds no images" in capsys.readouterr().err
    assert main([str(path), "--fx", "500"] + _common(tmp_path / "d", mano_dir)) == 2
    assert "go together" in capsys.readouterr().err


def test_stills_of_two_sizes_each_get_their_default_intrinsics_and_given_ones_must_fit(tmp_path, mano_dir,
                                                                                       caplog, capsys):
    folder = tmp_path / "stills"
    folder.mkdir()
    for name, (height, width) in (("a.png", (480, 640)), ("b.png", (240, 320)), ("c.png", (480, 640))):
        cv2.imwrite(str(folder / name), np.full((height, width, 3), 128, np.uint8))
    with caplog.at_level("WARNING", logger="hfl_ros.video"):
        assert main([str(folder)] + _common(tmp_path / "default", mano_dir)) == 0
    warned = [record.getMessage() for record in caplog.records if "default intrinsics for" in record.getMessage()]
    assert len(warned) == 2 and "640x480" in warned[0] and "320x240" in warned[1], warned
    assert len(_records(tmp_path / "default")) == 3

    frames = [Frame(index, str(folder / name), 0.0, np.zeros((height, width, 3), np.uint8))
              for index, (name, (height, width)) in enumerate((("a.png", (480, 640)), ("b.png", (240, 320))))]
    default = RunIntrinsics(default_intrinsics(640, 480), None, DEFAULT_INTRINSICS, frames[0])
    np.testing.assert_array_equal(default.of(frames[1]), default_intrinsics(320, 240))
    np.testing.assert_array_equal(default.of(frames[0]), default_intrinsics(640, 480))
    given = RunIntrinsics(default_intrinsics(640, 480), None, "--fx --fy --cx --cy", frames[0])
    with pytest.raises(InputError, match="--fx --fy --cx --cy is for 640x480 images but .*b.png is 320x240"):
        given.of(frames[1])
    assert main([str(folder), "--fx", "500", "--fy", "500", "--cx", "100", "--cy", "100"]
                + _common(tmp_path / "given", mano_dir)) == 2
    assert "is for 640x480 images but" in capsys.readouterr().err


def _two_hand_folder(folder, sequence, frames):
    """PNGs of the rendered right hand with its mirror image (a left hand) beside it: 1280 x 480 px."""
    folder.mkdir()
    for index in range(frames):
        image = np.concatenate((sequence[index].image[:, ::-1], sequence[index].image), axis=1)
        cv2.imwrite(str(folder / f"{index:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    K = sequence[0].annotation.K
    return ["--fx", str(K[0, 0]), "--fy", str(K[1, 1]), "--cx", str(K[0, 2] + 640), "--cy", str(K[1, 2])]


def test_two_hands_give_a_hands_list_and_per_side_arrays(clip, tmp_path, mano_dir):
    _, sequence, _ = clip
    folder = tmp_path / "pair"
    intrinsics = _two_hand_folder(folder, sequence, 1)
    output = tmp_path / "out"
    assert main([str(folder), "--max-hands", "2", "--no-overlay", "--output", str(output), "--mano-dir",
                 str(mano_dir), "--device", "cpu"] + intrinsics) == 0
    record = _records(output)[0]
    sides = {entry["side"]: entry for entry in record["hands"]}
    assert sorted(sides) == ["left", "right"]
    assert sides["right"]["box"][0] > 640 > sides["left"]["box"][2]  # each hand where it is
    first = record["hands"][0]
    assert {key: value for key, value in first.items() if key != "object"} == record["hand"]
    assert first["object"] == record["object"]
    for entry in sides.values():
        assert HAND_KEYS <= set(entry) and OBJECT_KEYS <= set(entry["object"])
        assert entry["filtered"]["reset"] == "start"  # each side's own filter
    arrays = np.load(output / "trajectory.npz")
    for side, entry in sides.items():
        assert arrays[f"{side}_hand_valid"][0] and arrays[f"{side}_hand_side"][0] == side
        np.testing.assert_array_equal(arrays[f"{side}_joints"][0], entry["joints"])
        np.testing.assert_array_equal(arrays[f"{side}_filtered_joints"][0], entry["filtered"]["joints"])
    np.testing.assert_array_equal(arrays["joints"][0], record["hand"]["joints"])


class PoisonedNetwork:
    """The real estimator, with NaN joints for images whose top-left pixel is POISON."""

    POISON = (255, 0, 255)

    def __init__(self, estimator) -> None:
        self.estimator = estimator
        self.untrained, self.device = estimator.untrained, estimator.device

    def estimate_batch(self, image, requests):
        estimates = self.estimator.estimate_batch(image, requests)
        if tuple(image[0, 0]) != self.POISON:
            return estimates
        return [dataclasses.replace(e, hand=dataclasses.replace(e.hand, joints=e.hand.joints * np.nan))
                for e in estimates]


def test_a_non_finite_estimate_is_a_skipped_frame_not_a_crash(clip, tmp_path, mano_dir):
    _, sequence, camera = clip
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        image = sequence[index].image.copy()
        if index == 1:
            image[0, 0] = PoisonedNetwork.POISON
        cv2.imwrite(str(folder / f"{index}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    args = parse_args([str(folder), "--camera-info", str(camera), "--no-overlay"] + _common(tmp_path / "out", mano_dir))
    assert run(args, estimator=PoisonedNetwork(load_estimator(args))) == 0
    first, skipped, after = _records(tmp_path / "out")
    assert skipped["skipped"] == "non-finite estimate" and skipped["hand"] is None and skipped["hands"] == []
    assert "skipped" not in first and first["hand"]["filtered"]["reset"] == "start"
    assert after["hand"]["filtered"]["reset"] == "track_lost"  # the filter restarted after the skipped frame


def test_ctrl_c_stops_with_one_line_and_exit_130_and_the_run_resumes_into_one_overlay(clip, tmp_path, mano_dir):
    _, sequence, camera = clip
    frames = 10
    path = tmp_path / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    for frame in render_sequence(SEED, frames):
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    output = tmp_path / "out"
    command = [sys.executable, "-m", "hfl_ros.apps.video", str(path), "--camera-info", str(camera)] + \
        _common(output, mano_dir)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    trajectory = output / "trajectory.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and \
            (not trajectory.is_file() or len(trajectory.read_text().splitlines()) < 2):
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    done = len(_records(output))
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    last = err.strip().splitlines()[-1]
    assert last == f"hfl-video: interrupted: {done} frames in {trajectory}; run the same command again to resume"
    assert 2 <= done < frames
    resumed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"this run: {frames - done} frames from frame {done}" in resumed.stdout
    assert [r["frame"] for r in _records(output)] == list(range(frames))
    assert sorted(p.name for p in (output / "overlay").iterdir()) == ["long.mp4"]
    overlay = cv2.VideoCapture(str(output / "overlay" / "long.mp4"))
    assert int(overlay.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    overlay.release()
