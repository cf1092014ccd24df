"""How the package's node executables run and stop (perception_node, synthetic_camera).

SIGINT (Ctrl-C; `ros2 launch` forwards another one) and SIGTERM end the spin. Then the node is destroyed
(the perception node's worker finishes the frame in progress and publishes it), and only then is rclpy
shut down: nothing is published on a shut-down context. rclpy's own signal handler would shut the
context down at the signal, before the node, so it is not installed (`rclpy.init(signal_handler_options=
SignalHandlerOptions.NO)`). While the interpreter exits, further signals are ignored: Python restores the
default handlers then, and a late second SIGINT would kill the process (exit code -2).
"""

import signal
import threading
from typing import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: s between checks for a stop signal while spinning.
SPIN_PERIOD = 0.1


def stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set (call from the main thread, right after rclpy.init)."""
    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    return stop


def spin_until_stopped(node: Node, stop: threading.Event, finished: Callable[[], bool] = lambda: False) -> None:
    """Spin `node` until `stop` is set or finished() is true; then destroy the node, shut rclpy down and
    ignore further stop signals."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set() and not finished():
            executor.spin_once(timeout_sec=SPIN_PERIOD)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
