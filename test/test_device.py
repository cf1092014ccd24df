"""resolve_device: configuration strings -> torch devices, and the errors that name a bad one;
release_host_memory: freed heap pages back to the system."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hfl_ros.device import resolve_device

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_cpu_and_auto_without_cuda_give_the_cpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto", local_rank=3) == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda:1' requested but CUDA is not available"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("name", ["tpu", "", "gpu0"])
def test_unknown_devices_are_named(name) -> None:
    with pytest.raises(ValueError, match=repr(name)):
        resolve_device(name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_picks_the_process_gpu_and_checks_the_index() -> None:
    count = torch.cuda.device_count()
    assert resolve_device("cuda", local_rank=count + 1) == torch.device("cuda", (count + 1) % count)
    assert resolve_device("auto").type == "cuda"
    with pytest.raises(ValueError, match="only"):
        resolve_device(f"cuda:{count}")


#: Run in a fresh interpreter (a long-lived test process's heap already has holes that take the blocks):
#: frees 400 MB of 64 KB blocks (below glibc's mmap threshold) under small blocks allocated after them, so the
#: freed space is not the heap's top and glibc keeps it; prints RSS MB kept above the start, then after release.
HEAP_PROBE = """
import json
from hfl_ros.device import release_host_memory

def rss():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * 4096 / 2 ** 20

start = rss()
blocks = [bytearray(64 * 1024) for _ in range(6400)]
pins = [bytearray(1024) for _ in range(64)]
del blocks
kept = rss() - start
trimmed = release_host_memory()
print(json.dumps({"kept": kept, "left": rss() - start, "trimmed": trimmed, "pins": len(pins)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc_trim")
def test_release_host_memory_returns_the_freed_heap_pages_that_glibc_keeps():
    completed = subprocess.run([sys.executable, "-c", HEAP_PROBE], capture_output=True, text=True, timeout=120,
                               cwd=REPO_ROOT, check=True)
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["trimmed"] is True
    assert probe["kept"] > 50, f"glibc kept only {probe['kept']:.0f} MB of the freed blocks: nothing to judge"
    assert probe["left"] < probe["kept"] / 2, probe
