"""Latest-frame-only worker: newest item wins, drops are reported, errors never stop it."""

import threading
import time

from hfl_ros.ros.worker import LatestFrameWorker


def _wait(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def test_a_burst_keeps_only_the_newest_waiting_item():
    gate, started = threading.Event(), threading.Event()
    processed, dropped = [], []

    def process(item: int) -> None:
        started.set()
        gate.wait()
        processed.append(item)

    worker = LatestFrameWorker(process, on_error=lambda item, error: None, on_drop=dropped.append)
    worker.submit(0)
    assert started.wait(5)  # 0 is being processed
    for item in range(1, 101):
        worker.submit(item)
    gate.set()
    assert _wait(lambda: worker.idle)
    worker.stop()
    assert processed == [0, 100]
    assert dropped == list(range(1, 100))


def test_errors_are_reported_and_the_worker_goes_on():
    errors, processed = [], []

    def process(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        processed.append(item)

    worker = LatestFrameWorker(process, on_error=lambda item, error: errors.append((item, str(error))))
    worker.submit(1)
    assert _wait(lambda: errors == [(1, "boom")])
    worker.submit(2)
    assert _wait(lambda: processed == [2])
    worker.stop()


def test_stop_discards_the_waiting_item():
    gate, started = threading.Event(), threading.Event()
    processed = []
    worker = LatestFrameWorker(lambda item: (started.set(), gate.wait(), processed.append(item)),
                               on_error=lambda i, e: None)
    worker.submit(1)
    assert started.wait(5)
    assert not worker.idle
    worker.submit(2)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    gate.set()
    stopper.join(5)
    assert processed == [1]
