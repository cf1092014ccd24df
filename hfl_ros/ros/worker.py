"""Latest-frame-only processing off the subscription callback.

`LatestFrameWorker` holds at most one waiting item: `submit` from the callback never blocks and a newer
item replaces a waiting one (the replaced one is reported as dropped), so however slow `process` is,
the worker is never more than one frame behind the camera.
"""

import logging
import threading
from typing import Callable, Generic, Optional, TypeVar

LOG = logging.getLogger(__name__)

T = TypeVar("T")


class LatestFrameWorker(Generic[T]):
    """A daemon thread that runs `process(item)` on the newest submitted item.

    process: called on the worker thread; exceptions are passed to `on_error(item, exception)` and never
    stop the thread. on_drop: called (on the submitting thread) with each item replaced before processing.
    """

    def __init__(self, process: Callable[[T], None], on_error: Callable[[T, BaseException], None],
                 on_drop: Callable[[T], None] = lambda item: None, name: str = "hfl_ros_worker") -> None:
        self._process = process
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
                while self._pending is None and not self._stopping:
                    self._condition.wait()
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
