"""resolve_device: configuration strings -> torch devices, and the errors that name a bad one."""

import os
import sys

import pytest
import torch

from hfl_ros.device import release_host_memory, resolve_device


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


def _rss_mb() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc_trim")
def test_release_host_memory_returns_the_freed_heap_pages_that_glibc_keeps():
    baseline = _rss_mb()
    # 400 MB in 64 KB blocks (below glibc's mmap threshold), then small blocks above them on the heap, so the
    # freed space is not the heap's top and glibc keeps it
    blocks = [bytearray(64 * 1024) for _ in range(6400)]
    pins = [bytearray(1024) for _ in range(64)]
    del blocks
    kept = _rss_mb() - baseline
    assert kept > 50, f"glibc kept only {kept:.0f} MB of the freed blocks: nothing to judge"
    assert release_host_memory() is True
    left = _rss_mb() - baseline
    assert left < kept / 2, f"kept {kept:.0f} MB above the baseline before, {left:.0f} MB after"
    assert len(pins) == 64
