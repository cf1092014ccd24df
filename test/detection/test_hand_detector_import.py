"""hfl_ros.detection.hand_detector imports MediaPipe without pinning its first caller's frames.

Importing MediaPipe keeps an exception with its traceback where PortAudio is missing (its audio module holds
sounddevice's OSError); imported from the caller's stack, that traceback kept the first caller's frame and
its locals alive for good (the node's first configure kept its network and detector through every cleanup).
It runs in a fresh interpreter: MediaPipe is imported once per process.
"""

import subprocess
import sys

import pytest

FIRST_CALLER = """
import gc, weakref
from hfl_ros.detection.hand_detector import DetectorSettings, HandDetector

class Network:
    pass

def configure():
    network = Network()  # what a configure holds beside the detector it creates
    detector = HandDetector(DetectorSettings())
    detector.close()
    return weakref.ref(network)

network = configure()
gc.collect()
print("released" if network() is None else "kept")
"""


def test_the_first_detector_s_caller_is_released_after_it_returns():
    pytest.importorskip("mediapipe", reason="the detector extra is not installed")
    completed = subprocess.run([sys.executable, "-c", FIRST_CALLER], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split()[-1] == "released"
