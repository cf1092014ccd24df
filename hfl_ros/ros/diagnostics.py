"""Frame statistics of the perception node and their diagnostic_msgs form.

`FrameStatistics` is updated from the subscription callbacks and the worker thread (it locks);
`diagnostic_status` turns a snapshot into a DiagnosticStatus and `status_values` reads one back (pure).
"""

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Deque, Dict, Iterable, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

#: Number of recent frames that rates and latency percentiles are computed over.
WINDOW = 100


@dataclass(frozen=True)
class StatisticsSnapshot:
    """Counters and recent timings at one moment.

    received: frames that arrived; processed: frames published; dropped: frames replaced by a newer one
    before the worker took them; skipped: reason -> frames rejected (bad input, no intrinsics, ...).
    rate: Hz of published frames over the recent window (0 without two of them).
    latency_p50, latency_p95: s, frame arrival -> publish; stamp_age_p50: s, now - image stamp at publish
    (meaningful when camera and node share a clock). network_p50: s, network forward.
    last_error: the latest skip reason ("" if none); last_box_source: where the last boxes came from.
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
    last_error: str = ""
    last_box_source: str = ""


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
        self._last_error = ""
        self._last_box_source = ""

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

    def frame_published(self, latency: float, stamp_age: float, network_time: float, box_source: str,
                        now: Optional[float] = None) -> None:
        """latency: s arrival -> publish; stamp_age: s now - image stamp; network_time: s forward."""
        with self._lock:
            self._processed += 1
            self._publish_times.append(time.monotonic() if now is None else now)
            self._latencies.append(latency)
            self._stamp_ages.append(stamp_age)
            self._network.append(network_time)
            self._last_box_source = box_source

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
                last_error=self._last_error, last_box_source=self._last_box_source,
            )


def _value(key: str, value: object) -> KeyValue:
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    return KeyValue(key=key, value=text)


def diagnostic_status(snapshot: StatisticsSnapshot, name: str, hardware_id: str, state: str,
                      problems: Tuple[str, ...] = ()) -> DiagnosticStatus:
    """DiagnosticStatus of the node: ERROR while not active or with `problems` that stop processing,
    WARN with frames skipped or untrained weights (pass those as `problems` prefixed "warn: "), else OK.

    state: the lifecycle state label ("active", "inactive", "unconfigured", ...);
    problems: human-readable conditions; those starting with "warn: " only warn.
    """
    errors = [p for p in problems if not p.startswith("warn: ")]
    warnings = [p[len("warn: "):] for p in problems if p.startswith("warn: ")]
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
        _value("box source", snapshot.last_box_source),
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
