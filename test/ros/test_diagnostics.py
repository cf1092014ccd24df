"""Frame statistics and their DiagnosticStatus."""

import threading

import pytest

pytest.importorskip("rclpy", exc_type=ImportError,
                    reason="rclpy is not importable: run scripts/setup_ros.sh (ROS 2 Jazzy wheels)")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402

from hfl_ros.filtering import FilterCounts  # noqa: E402
from hfl_ros.ros.diagnostics import FrameStatistics, PublishedFrame, diagnostic_status, status_values  # noqa: E402


def _values(status: DiagnosticStatus) -> dict:
    return {kv.key: kv.value for kv in status.values}


def test_counters_rate_and_percentiles():
    stats = FrameStatistics()
    for i in range(11):
        stats.frame_received()
        stats.frame_published(PublishedFrame(latency=0.1 * (i + 1), stamp_age=0.2, network_time=0.05,
                                             hand_source="tracking"), now=100.0 + 0.5 * i)
    stats.frame_dropped()
    stats.frame_skipped("bad image", "unsupported encoding 'rgb16'")
    snap = stats.snapshot()
    assert (snap.received, snap.processed, snap.dropped, snap.skipped) == (11, 11, 1, {"bad image": 1})
    assert snap.rate == pytest.approx(2.0)
    assert snap.latency_p50 == pytest.approx(0.6)
    assert snap.last_error == "unsupported encoding 'rgb16'" and snap.last.hand_source == "tracking"


def test_box_sources_tracking_and_filter_counters_are_reported():
    stats = FrameStatistics()
    counts = FilterCounts(frames=4, hand_gated=1, object_gated=2, hand_resets={"start": 1, "gap": 2},
                          object_resets={"start": 1})
    stats.frame_published(PublishedFrame(0.1, 0.1, 0.05, detector_time=0.03, hand_source="detector",
                                         object_source="refined", tracking_counts={"detector_runs": 5,
                                                                                   "track_losses": 1}))
    stats.frame_published(PublishedFrame(0.1, 0.1, 0.0, gated=True, filter_counts=counts))  # no hand
    values = _values(diagnostic_status(stats.snapshot(), "n", "h", "active"))
    assert (values["hand box source"], values["object box source"], values["frames without hand"]) == ("", "", "1")
    assert values["detector p50 (s)"] == "0.0300" and values["filter gated recent"] == "0.5000"
    assert (values["filter"], values["filter hand gated"], values["filter object gated"]) == ("on", "1", "2")
    assert (values["filter hand resets"], values["filter object resets"]) == ("gap:2 start:1", "start:1")
    first = _values(diagnostic_status(FrameStatistics().snapshot(), "n", "h", "active"))
    assert (first["filter"], first["detector runs"], first["track losses"]) == ("off", "0", "0")


def test_mostly_gated_frames_warn():
    stats = FrameStatistics()
    for gated in (True, True, False):
        stats.frame_published(PublishedFrame(0.1, 0.1, 0.05, hand_source="tracking", gated=gated))
    status = diagnostic_status(stats.snapshot(), "n", "h", "active")
    assert status.level == DiagnosticStatus.WARN and "held back 67% of the recent frames" in status.message
    stats.frame_published(PublishedFrame(0.1, 0.1, 0.05, hand_source="tracking"))
    assert diagnostic_status(stats.snapshot(), "n", "h", "active").level == DiagnosticStatus.OK


def test_counters_are_thread_safe():
    stats = FrameStatistics()
    threads = [threading.Thread(target=lambda: [stats.frame_received() for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.snapshot().received == 4000


def test_levels_and_reported_values():
    stats = FrameStatistics()
    ok = diagnostic_status(stats.snapshot(), "hfl_ros: /perception_node", "hfl_ros", "active")
    assert ok.level == DiagnosticStatus.OK and ok.name == "hfl_ros: /perception_node"
    stats.frame_skipped("no camera_info", "no camera_info received yet")
    warn = diagnostic_status(stats.snapshot(), "n", "h", "active", ("warn: UNTRAINED WEIGHTS",))
    assert warn.level == DiagnosticStatus.WARN
    assert "UNTRAINED WEIGHTS" in warn.message and "no camera_info received yet" in warn.message
    values = _values(warn)
    assert values["skipped: no camera_info"] == "1" and values["last error"] == "no camera_info received yet"
    error = diagnostic_status(stats.snapshot(), "n", "h", "unconfigured",
                              ("configure failed: FileNotFoundError: /x/ckpt.pt",))
    assert error.level == DiagnosticStatus.ERROR and "/x/ckpt.pt" in error.message


def test_status_values_read_back_the_newest_matching_status():
    stats = FrameStatistics()
    stats.frame_received()
    old = diagnostic_status(stats.snapshot(), "hfl_ros: /a/perception_node", "hfl_ros", "inactive")
    stats.frame_received()
    new = diagnostic_status(stats.snapshot(), "hfl_ros: /a/perception_node", "hfl_ros", "active")
    other = diagnostic_status(stats.snapshot(), "hfl_ros: /b/perception_node", "hfl_ros", "unconfigured")
    arrays = [DiagnosticArray(status=[old]), DiagnosticArray(status=[new]), DiagnosticArray(status=[other])]
    values = status_values(arrays, "/a/perception_node")
    assert values["state"] == "active" and values["frames received"] == "2"
    assert values["level"] == "0" and values["message"] == new.message  # 0: OK
    assert status_values(arrays, "/b/")["level"] == "2"  # ERROR while unconfigured
    assert status_values(arrays, "/c/") is None
