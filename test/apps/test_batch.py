"""`hfl-video --ray`: a local Ray with 2 workers over three bag inputs of which one is truncated: the two good
ones are written under DIR/<input name>/ as single runs write them, the broken one is reported with its file
and reason; a rerun skips the finished inputs (real Ray, real untrained network, real detector)."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("rosbags")

from hfl_ros.apps import video  # noqa: E402
from hfl_ros.apps.batch import DONE_FILE, SUMMARY_FILE, input_names, run_batch  # noqa: E402
from hfl_ros.evaluation.tracking_scenes import render_sequence  # noqa: E402
from hfl_ros.inference.bags import write_image_bag  # noqa: E402
from hfl_ros.inference.frames import InputError  # noqa: E402

#: A grasp whose hand MediaPipe finds (test/detection/test_hand_detector.py); few frames: Ray on 2 cores.
SEED, FRAMES = 18, 2
STEP_NS = 33_333_333


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two good bags (MCAP, sqlite3) of a rendered grasp and a truncated MCAP file."""
    folder = tmp_path_factory.mktemp("bags")
    sequence = render_sequence(SEED, FRAMES)
    images, K = [frame.image for frame in sequence], sequence[0].annotation.K
    stamps = [1_700_000_000_000_000_000 + i * STEP_NS for i in range(FRAMES)]
    good_mcap = write_image_bag(folder / "first", images, stamps, K, storage="mcap")
    good_sqlite = write_image_bag(folder / "second", images, stamps, K, storage="sqlite3", image_format="png")
    whole = next(good_mcap.glob("*.mcap")).read_bytes()
    broken = folder / "broken.mcap"
    broken.write_bytes(whole[:len(whole) // 2])
    return [good_mcap, broken, good_sqlite], stamps


def _argv(inputs, output: Path, mano_dir: Path):
    return [str(path) for path in inputs] + ["--output", str(output), "--mano-dir", str(mano_dir), "--device", "cpu",
                                             "--side", "right", "--no-overlay", "--ray", "--workers", "2"]


def test_ray_batch_reports_the_broken_input_and_skips_finished_ones_on_rerun(inputs, tmp_path, mano_dir, capsys):
    paths, stamps = inputs
    output = tmp_path / "out"
    assert video.main(_argv(paths, output, mano_dir)) == 1
    summary = json.loads((output / SUMMARY_FILE).read_text())
    assert (summary["done"], summary["failed"], summary["skipped"], summary["frames"]) == (2, 1, 0, 2 * FRAMES)
    assert summary["workers"] == 2
    by_input = {entry["input"]: entry for entry in summary["inputs"]}
    failure = by_input[str(paths[1])]
    assert failure["status"] == "failed" and str(paths[1]) in failure["reason"] and "truncated" in failure["reason"]
    printed = capsys.readouterr().out
    assert f"FAILED {paths[1]}" in printed and "2 done, 0 skipped (finished before), 1 failed" in printed
    for path, name in ((paths[0], "first"), (paths[2], "second")):
        records = [json.loads(line) for line in (output / name / video.TRAJECTORY).read_text().splitlines()]
        assert [record["frame"] for record in records] == list(range(FRAMES))
        assert all(record["source"] == str(path) for record in records)
        np.testing.assert_allclose([record["stamp"] for record in records], np.asarray(stamps) / 1e9, atol=1e-6)
        assert records[0]["hand"] is not None
        assert (output / name / "trajectory.npz").is_file() and (output / name / DONE_FILE).is_file()
    assert not (output / "broken" / DONE_FILE).exists()

    rerun = run_batch(video.parse_args(_argv(paths, output, mano_dir)))
    assert [(result.name, result.status) for result in rerun.results] == [
        ("first", "skipped"), ("broken", "failed"), ("second", "skipped")]
    assert rerun.frames == 0


def test_inputs_sharing_a_results_folder_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "clip.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="share a results folder"):
        input_names([str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4")])


def test_ray_options_need_ray():
    with pytest.raises(SystemExit):
        video.parse_args(["clip.mp4", "--output", "out", "--workers", "2"])
    with pytest.raises(SystemExit):
        video.parse_args(["clip.mp4", "--output", "out", "--ray", "--workers", "0"])
