"""resolve_device: configuration strings -> torch devices, and the errors that name a bad one."""

import pytest
import torch

from hfl_ros.device import resolve_device


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
