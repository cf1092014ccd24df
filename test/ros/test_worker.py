"""Latest-frame-only worker and the two-stage pipeline: newest item wins, drops are reported, errors never
stop them; the pipeline's stages overlap, keep the order and hold at most one item between them."""

import threading
import time

from hfl_ros.ros.worker import LatestFrameWorker, PipelineWorker


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


def test_pipeline_prepares_the_next_item_while_the_previous_one_is_finished():
    finishing, release = threading.Event(), threading.Event()
    prepared_while_finishing, finished = [], []

    def prepare(item: int) -> int:
        if finishing.is_set() and not release.is_set():
            prepared_while_finishing.append(item)
        return item * 10

    def finish(item: int, prepared: int) -> None:
        if item == 0:
            finishing.set()
            release.wait()
        finished.append((item, prepared))

    pipeline = PipelineWorker(prepare, finish, on_error=lambda item, error: None)
    pipeline.submit(0)
    assert finishing.wait(5)
    pipeline.submit(1)
    assert _wait(lambda: prepared_while_finishing == [1])
    release.set()
    assert _wait(lambda: pipeline.idle)
    pipeline.stop()
    assert finished == [(0, 0), (1, 10)]


def test_pipeline_holds_one_prepared_item_prepares_no_other_meanwhile_then_takes_the_newest():
    release, finishing = threading.Event(), threading.Event()
    prepared, finished, dropped = [], [], []

    def finish(item: int, value: int) -> None:
        finishing.set()
        release.wait()
        finished.append(item)

    pipeline = PipelineWorker(lambda item: prepared.append(item) or item, finish,
                              on_error=lambda item, error: None, on_drop=dropped.append)
    pipeline.submit(0)
    assert finishing.wait(5)
    for item in range(1, 101):
        pipeline.submit(item)
        time.sleep(0.001)
    assert _wait(lambda: len(prepared) == 2)
    time.sleep(0.2)
    assert len(prepared) == 2  # one prepared item waits; stage 1 holds the newest raw one
    release.set()
    assert _wait(lambda: pipeline.idle)
    pipeline.stop()
    assert finished == prepared and finished[0] == 0 and finished[-1] == 100 and len(finished) == 3
    assert sorted(dropped + finished) == list(range(101))  # every other item reported dropped, once


def test_pipeline_finishes_items_in_arrival_order_and_prepares_no_more_than_it_finishes_under_a_stream():
    prepared, finished = [], []

    def finish(item: int, value: int) -> None:
        time.sleep(0.004)
        finished.append(item)

    pipeline = PipelineWorker(lambda item: time.sleep(0.002) or prepared.append(item) or item, finish,
                              on_error=lambda item, error: None)
    for item in range(200):
        pipeline.submit(item)
        time.sleep(0.001)
    assert _wait(lambda: pipeline.idle)
    pipeline.stop()
    assert finished[-1] == 199  # the newest item is never lost
    assert finished == sorted(set(finished))  # strictly increasing: nothing out of order, nothing twice
    assert len(finished) < 200  # the stream was faster than stage 2: some items were dropped
    assert prepared == finished  # no preparation wasted on an item that was then dropped


def test_pipeline_reports_an_error_in_either_stage_in_order_on_the_stage_2_thread_and_goes_on():
    errors, finished, threads = [], [], set()

    def on_error(item: int, error: BaseException) -> None:
        threads.add(threading.current_thread().name)
        errors.append((item, str(error)))

    def prepare(item: int) -> int:
        if item == 1:
            raise ValueError("bad input")
        return item

    def finish(item: int, prepared: int) -> None:
        if item == 2:
            raise RuntimeError("network failed")
        finished.append(item)

    pipeline = PipelineWorker(prepare, finish, on_error=on_error)
    for item in (1, 2, 3):
        pipeline.submit(item)
        assert _wait(lambda: pipeline.idle)
    pipeline.stop()
    assert errors == [(1, "bad input"), (2, "network failed")]
    assert finished == [3]
    assert threads == {"hfl_ros_pipeline_finish"}


def test_pipeline_stop_finishes_the_item_in_stage_2_and_discards_the_rest():
    finishing, preparing, release = threading.Event(), threading.Event(), threading.Event()
    finished = []

    def prepare(item: int) -> int:
        if item == 2:
            preparing.set()
            release.wait()
        return item

    def finish(item: int, prepared: int) -> None:
        finishing.set()
        release.wait()
        finished.append(item)

    pipeline = PipelineWorker(prepare, finish, on_error=lambda item, error: None)
    pipeline.submit(1)
    assert finishing.wait(5)
    pipeline.submit(2)
    assert preparing.wait(5)
    pipeline.submit(3)  # waits before stage 1
    stopper = threading.Thread(target=pipeline.stop)
    stopper.start()
    time.sleep(0.05)
    release.set()
    stopper.join(5)
    assert not stopper.is_alive()
    assert finished == [1]  # 2 was being prepared, 3 was waiting: neither reaches stage 2
    assert not any(thread.name.startswith("hfl_ros_pipeline") for thread in threading.enumerate())


def test_pipeline_clear_discards_the_item_being_prepared():
    preparing, release = threading.Event(), threading.Event()
    finished = []

    def prepare(item: int) -> int:
        if item == 1:
            preparing.set()
            release.wait()
        return item

    pipeline = PipelineWorker(prepare, lambda item, prepared: finished.append(item), on_error=lambda i, e: None)
    pipeline.submit(1)
    assert preparing.wait(5)
    pipeline.clear()
    release.set()
    assert _wait(lambda: pipeline.idle)
    pipeline.submit(2)
    assert _wait(lambda: finished == [2])
    pipeline.stop()
