"""Latest-frame-only processing off the subscription callback.

`LatestFrameWorker` holds at most one waiting item: `submit` from the callback never blocks and a newer
item replaces a waiting one (the replaced one is reported as dropped), so however slow `process` is,
the worker is never more than one frame behind the camera.

`PipelineWorker` is two such workers in a row: stage 1 `prepare`s the newest item while stage 2 runs
`finish` on the previous one. Between the stages at most one prepared item waits, and stage 1 prepares
no other item until stage 2 has taken it. Stage 1 starts just in time: when stage 2 is expected to end
less the time a preparation takes (the medians of their recent durations), so the item stage 2 takes
next is as fresh as the overlap allows and no preparation is wasted on frames that would be dropped. A
preparation longer than usual (a hand detector run every few frames) makes stage 2 wait for it. A
failure in stage 1 travels to stage 2 like a prepared item, so errors are reported in order, on the
stage-2 thread, never while `finish` runs.
"""

import logging
import threading
import time
from collections import deque
from typing import Callable, Deque, Generic, Optional, Tuple, TypeVar

import numpy as np

LOG = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P")

#: Recent durations per stage that schedule stage 1.
TIMING_WINDOW = 10
#: s stage 1 starts before its estimated start (scheduling jitter).
START_MARGIN = 0.002
#: s stage 1 sleeps at most while a prepared item waits (stage 2 wakes it when it takes the item).
RECHECK_PERIOD = 1.0


class LatestFrameWorker(Generic[T]):
    """A daemon thread that runs `process(item)` on the newest submitted item.

    process: called on the worker thread; exceptions are passed to `on_error(item, exception)` and never
    stop the thread. on_drop: called (on the submitting thread) with each item replaced before processing.
    hold: called (under the worker's lock) while an item waits: s to wait before taking the newest one
    (<= 0: now); `wake` makes the worker ask again.
    """

    def __init__(self, process: Callable[[T], None], on_error: Callable[[T, BaseException], None],
                 on_drop: Callable[[T], None] = lambda item: None, name: str = "hfl_ros_worker",
                 hold: Callable[[], float] = lambda: 0.0) -> None:
        self._process = process
        self._hold = hold
        self._on_error = on_error
        self._on_drop = on_drop
        self._condition = threading.Condition()
        self._pending: Optional[T] = None
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue `item` for processing; returns True when it replaced a waiting item (a drop)."""
        with self._condition:
            replaced = self._pending
            self._pending = item
            self._condition.notify()
        if replaced is not None:
            self._on_drop(replaced)
        return replaced is not None

    def clear(self) -> Optional[T]:
        """Discard the waiting item, if any, and return it."""
        with self._condition:
            item, self._pending = self._pending, None
        return item

    def wake(self) -> None:
        """Ask `hold` again now."""
        with self._condition:
            self._condition.notify()

    @property
    def idle(self) -> bool:
        """True when nothing waits and nothing is being processed."""
        with self._condition:
            return self._pending is None and not self._busy

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the item in progress (the waiting one is discarded) and join the thread."""
        with self._condition:
            self._stopping = True
            self._pending = None
            self._condition.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._busy = False
                while not self._stopping:
                    if self._pending is None:
                        self._condition.wait()
                        continue
                    delay = self._hold()
                    if delay <= 0:
                        break
                    self._condition.wait(delay)
                if self._stopping:
                    return
                item, self._pending = self._pending, None
                self._busy = True
            try:
                self._process(item)
            except Exception as error:  # the worker must survive any frame
                try:
                    self._on_error(item, error)
                except Exception:
                    LOG.exception("error handler failed")


class PipelineWorker(Generic[T, P]):
    """Two daemon threads: `prepare(item) -> prepared` on the newest submitted item, then
    `finish(item, prepared)` on the newest prepared one, the two overlapping.

    At most one item waits before stage 1; a newer one replaces it and the replaced item goes to `on_drop`
    (on the submitting thread). At most one prepared item waits before stage 2, and stage 1 takes no other
    until stage 2 has taken it; stage 1 starts just in time (module docstring). An exception in either
    stage goes to `on_error(item, exception)`, called on the stage-2 thread in item order, and the item
    goes no further; the threads go on.
    """

    def __init__(self, prepare: Callable[[T], P], finish: Callable[[T, P], None],
                 on_error: Callable[[T, BaseException], None], on_drop: Callable[[T], None] = lambda item: None,
                 name: str = "hfl_ros_pipeline") -> None:
        self._prepare = prepare
        self._lock = threading.Lock()
        self._generation = 0  # advanced by clear and stop: an item prepared before then goes no further
        self._handed_over = False  # a prepared item waits for stage 2
        self._finish_started: Optional[float] = None  # time.monotonic() when stage 2 took its item
        self._prepare_times: Deque[float] = deque(maxlen=TIMING_WINDOW)  # s
        self._finish_times: Deque[float] = deque(maxlen=TIMING_WINDOW)  # s
        self._finish = finish
        self._finisher: LatestFrameWorker[Tuple[T, P]] = LatestFrameWorker(
            self._finish_or_raise, on_error=lambda pair, error: on_error(pair[0], error),
            on_drop=lambda pair: on_drop(pair[0]), name=f"{name}_finish")
        self._preparer: LatestFrameWorker[Tuple[int, T]] = LatestFrameWorker(
            self._prepare_and_pass, on_error=lambda pair, error: on_error(pair[1], error),
            on_drop=lambda pair: on_drop(pair[1]), name=f"{name}_prepare", hold=self._stage_1_delay)

    def submit(self, item: T) -> bool:
        """Queue `item` for stage 1; returns True when it replaced a waiting item (a drop)."""
        with self._lock:
            generation = self._generation
        return self._preparer.submit((generation, item))

    def clear(self) -> None:
        """Discard the items waiting before either stage and the one being prepared."""
        with self._lock:
            self._generation += 1
            self._handed_over = False
        self._preparer.clear()  # outside the lock: the preparer's hold takes it under the preparer's own
        self._finisher.clear()

    @property
    def idle(self) -> bool:
        """True when nothing waits and neither stage is busy."""
        return self._preparer.idle and self._finisher.idle  # stage 1 first: it hands over before it is idle

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both stages: the item being prepared and the waiting ones are discarded, the one in stage 2
        is finished; joins both threads (each within `timeout` s)."""
        with self._lock:
            self._generation += 1
        self._preparer.stop(timeout)
        self._finisher.stop(timeout)

    def _stage_1_delay(self) -> float:
        """s until stage 1 should take the newest item (its LatestFrameWorker's hold)."""
        with self._lock:
            if self._handed_over:
                return RECHECK_PERIOD
            if self._finish_started is None or not self._finish_times:
                return 0.0
            lead = float(np.median(self._prepare_times)) + START_MARGIN if self._prepare_times else START_MARGIN
            end = self._finish_started + float(np.median(self._finish_times))
        return end - lead - time.monotonic()

    def _prepare_and_pass(self, pair: Tuple[int, T]) -> None:
        generation, item = pair
        start = time.monotonic()
        try:
            prepared = self._prepare(item)
        except Exception as error:  # reported by stage 2, in order
            prepared = _Failure(error)
        with self._lock:
            self._prepare_times.append(time.monotonic() - start)
            if generation == self._generation:
                self._handed_over = True
                self._finisher.submit((item, prepared))

    def _finish_or_raise(self, pair: Tuple[T, P]) -> None:
        item, prepared = pair
        start = time.monotonic()
        with self._lock:
            self._handed_over, self._finish_started = False, start
        self._preparer.wake()
        try:
            if isinstance(prepared, _Failure):
                raise prepared.error
            self._finish(item, prepared)
            with self._lock:
                self._finish_times.append(time.monotonic() - start)
        finally:
            with self._lock:
                self._finish_started = None
            self._preparer.wake()


class _Failure:
    """Stage 1's exception on its way to stage 2."""

    def __init__(self, error: Exception) -> None:
        self.error = error
