"""Frame statistics of the perception node and their diagnostic_msgs form.

`FrameStatistics` is updated from the subscription callbacks and the worker thread (it locks);
`diagnostic_status` turns a snapshot into a DiagnosticStatus and `status_values` reads one back (pure).
"""

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Deque, Dict, Iterable, Mapping, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from hfl_ros.filtering import FilterCounts

#: Number of recent frames that rates, percentiles and the gated fraction are computed over.
WINDOW = 100
#: WARN when the outlier gate held back more than this fraction of the recent frames: it then hides a
#: persistent problem (wrong object, bad intrinsics, a gate too tight) rather than single outliers.
GATED_WARN_FRACTION = 0.5


@dataclass(frozen=True)
class PublishedFrame:
    """What one published frame adds to the statistics.

    latency: s, arrival -> publish; stamp_age: s, now - image stamp; network_time: s, network forward;
    detector_time: s, hand detection (0 when the detector did not run); hand_source, object_source: where
    the boxes came from ("" when no hand was found); gated: the outlier gate held the hand or the object back.
    tracking_counts: detector runs, track losses, re-acquisitions and track ends by reason since configure
    (BoxPolicy.counts);
    filter_counts: the temporal filter's counters since configure (None when the filter is off).
    """

    latency: float
    stamp_age: float
    network_time: float
    detector_time: float = 0.0
    hand_source: str = ""
    object_source: str = ""
    gated: bool = False
    tracking_counts: Mapping[str, object] = field(default_factory=dict)
    filter_counts: Optional[FilterCounts] = None


@dataclass(frozen=True)
class StatisticsSnapshot:
    """Counters and recent timings at one moment.

    received: frames that arrived; processed: frames published; dropped: frames replaced by a newer one
    before the worker took them; skipped: reason -> frames rejected (bad input, no intrinsics, ...).
    rate: Hz of published frames over the recent window (0 without two of them).
    latency_p50, latency_p95: s, frame arrival -> publish; stamp_age_p50: s, now - image stamp at publish
    (meaningful when camera and node share a clock). network_p50: s, network forward; detector_p50: s, hand
    detection, over the recent frames it ran on. last_error: the latest skip reason ("" if none).
    no_hand: published frames without a hand. gated_recent: fraction of the recent frames the outlier gate
    held back. last: the latest published frame (its box sources and the tracking and filter counters).
    """

    received: int = 0
    processed: int = 0
    dropped: int = 0
    skipped: Dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    stamp_age_p50: float = 0.0
    network_p50: float = 0.0
    detector_p50: float = 0.0
    last_error: str = ""
    no_hand: int = 0
    gated_recent: float = 0.0
    last: Optional[PublishedFrame] = None


class FrameStatistics:
    """Thread-safe counters of the node's frames. Times are from time.monotonic() unless stated."""

    def __init__(self, window: int = WINDOW) -> None:
        self._lock = threading.Lock()
        self._received = 0
        self._processed = 0
        self._dropped = 0
        self._skipped: Counter = Counter()
        self._publish_times: Deque[float] = deque(maxlen=window)
        self._latencies: Deque[float] = deque(maxlen=window)
        self._stamp_ages: Deque[float] = deque(maxlen=window)
        self._network: Deque[float] = deque(maxlen=window)
        self._detector: Deque[float] = deque(maxlen=window)
        self._gated: Deque[bool] = deque(maxlen=window)
        self._no_hand = 0
        self._last_error = ""
        self._last: Optional[PublishedFrame] = None

    def frame_received(self) -> None:
        with self._lock:
            self._received += 1

    def frame_dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def frame_skipped(self, reason: str, detail: str) -> None:
        """A rejected frame: `reason` is a short category key, `detail` the full message."""
        with self._lock:
            self._skipped[reason] += 1
            self._last_error = detail

    def frame_published(self, frame: PublishedFrame, now: Optional[float] = None) -> None:
        """A frame whose outputs were published; now: time.monotonic() of the publication."""
        with self._lock:
            self._processed += 1
            self._publish_times.append(time.monotonic() if now is None else now)
            self._latencies.append(frame.latency)
            self._stamp_ages.append(frame.stamp_age)
            self._network.append(frame.network_time)
            if frame.detector_time > 0:
                self._detector.append(frame.detector_time)
            self._gated.append(frame.gated)
            self._no_hand += not frame.hand_source
            self._last = frame

    def snapshot(self) -> StatisticsSnapshot:
        with self._lock:
            times = list(self._publish_times)
            rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) >= 2 and times[-1] > times[0] else 0.0

            def percentile(values: Deque[float], q: float) -> float:
                return float(np.percentile(list(values), q)) if values else 0.0

            return StatisticsSnapshot(
                received=self._received, processed=self._processed, dropped=self._dropped,
                skipped=dict(self._skipped), rate=rate,
                latency_p50=percentile(self._latencies, 50), latency_p95=percentile(self._latencies, 95),
                stamp_age_p50=percentile(self._stamp_ages, 50), network_p50=percentile(self._network, 50),
                detector_p50=percentile(self._detector, 50), last_error=self._last_error, no_hand=self._no_hand,
                gated_recent=float(np.mean(self._gated)) if self._gated else 0.0, last=self._last,
            )


def _value(key: str, value: object) -> KeyValue:
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    return KeyValue(key=key, value=text)


def _counts(counts: Mapping[str, int]) -> str:
    """{"start": 1, "gap": 2} -> "gap:2 start:1" ("none" when empty)."""
    return " ".join(f"{key}:{value}" for key, value in sorted(counts.items())) or "none"


def _frame_values(frame: Optional[PublishedFrame]) -> list:
    """Box sources and the tracking and filter counters of the latest published frame."""
    frame = frame or PublishedFrame(0.0, 0.0, 0.0)
    values = [_value("hand box source", frame.hand_source), _value("object box source", frame.object_source)]
    values.extend(_value(key.replace("_", " "), frame.tracking_counts.get(key, 0))
                  for key in ("detector_runs", "track_losses", "reacquisitions"))
    values.append(_value("track ends", _counts(frame.tracking_counts.get("track_ends", {}))))
    counts = frame.filter_counts
    values.append(_value("filter", "off" if counts is None else "on"))
    if counts is not None:
        values.extend((_value("filter hand gated", counts.hand_gated),
                       _value("filter object gated", counts.object_gated),
                       _value("filter hand resets", _counts(counts.hand_resets)),
                       _value("filter object resets", _counts(counts.object_resets))))
    return values


def diagnostic_status(snapshot: StatisticsSnapshot, name: str, hardware_id: str, state: str,
                      problems: Tuple[str, ...] = ()) -> DiagnosticStatus:
    """DiagnosticStatus of the node: ERROR while not active or with `problems` that stop processing,
    WARN with frames skipped, untrained weights (pass those as `problems` prefixed "warn: ") or more than
    GATED_WARN_FRACTION of the recent frames gated, else OK.

    state: the lifecycle state label ("active", "inactive", "unconfigured", ...);
    problems: human-readable conditions; those starting with "warn: " only warn.
    """
    errors = [p for p in problems if not p.startswith("warn: ")]
    warnings = [p[len("warn: "):] for p in problems if p.startswith("warn: ")]
    if snapshot.gated_recent > GATED_WARN_FRACTION:
        warnings.append(f"the outlier gate held back {snapshot.gated_recent:.0%} of the recent frames (wrong "
                        "object, bad intrinsics or a gate too tight?)")
    if state != "active" or errors:
        level = DiagnosticStatus.ERROR
    elif warnings or snapshot.skipped:
        level = DiagnosticStatus.WARN
    else:
        level = DiagnosticStatus.OK
    summary = [f"state {state}", f"{snapshot.rate:.1f} Hz"] + errors + warnings
    if snapshot.last_error:
        summary.append(f"last skipped frame: {snapshot.last_error}")
    values = [
        _value("state", state),
        _value("frames received", snapshot.received),
        _value("frames published", snapshot.processed),
        _value("frames dropped", snapshot.dropped),
        _value("frames skipped", sum(snapshot.skipped.values())),
        _value("rate (Hz)", snapshot.rate),
        _value("latency p50 (s)", snapshot.latency_p50),
        _value("latency p95 (s)", snapshot.latency_p95),
        _value("stamp age p50 (s)", snapshot.stamp_age_p50),
        _value("network p50 (s)", snapshot.network_p50),
        _value("detector p50 (s)", snapshot.detector_p50),
        _value("frames without hand", snapshot.no_hand),
        _value("filter gated recent", snapshot.gated_recent),
        *_frame_values(snapshot.last),
        _value("last error", snapshot.last_error),
    ]
    values.extend(_value(f"skipped: {reason}", count) for reason, count in sorted(snapshot.skipped.items()))
    values.extend(_value("problem", problem) for problem in problems)
    return DiagnosticStatus(level=level, name=name, message="; ".join(summary), hardware_id=hardware_id,
                            values=values)


def status_values(arrays: Iterable[DiagnosticArray], name_contains: str = "hfl_ros") -> Optional[Dict[str, str]]:
    """Key -> value, plus "level" (as a digit) and "message", of the last DiagnosticStatus whose name
    contains `name_contains` in `arrays` (oldest first), or None when there is none."""
    for array in reversed(list(arrays)):
        for status in reversed(array.status):
            if name_contains in status.name:
                level = status.level[0] if isinstance(status.level, bytes) else status.level
                return {**{kv.key: kv.value for kv in status.values}, "level": str(level), "message": status.message}
    return None
