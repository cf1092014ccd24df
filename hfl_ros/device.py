"""The torch device a process runs on, from a configuration string."""

import ctypes
import ctypes.util
import gc
import re

import torch

#: Device names a configuration may give (besides "cuda:N").
DEVICE_CHOICES = ("auto", "cpu", "cuda")
_DEVICE_NAME = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)")


def check_device_name(device: str) -> str:
    """`device` when it is "auto", "cpu", "cuda" or "cuda:N" (whether or not that GPU exists here: see
    resolve_device); else ValueError naming it."""
    if not isinstance(device, str) or _DEVICE_NAME.fullmatch(device) is None:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return device


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """The device named by `device`.

    "auto": this process's GPU when CUDA exists, else the CPU; "cpu"; "cuda": this process's GPU (must
    exist); "cuda:N": that GPU (must exist). This process's GPU is `local_rank` modulo the GPU count
    (torchrun's LOCAL_RANK; 0 for one process). Raises ValueError naming a bad or unavailable device.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from error
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if resolved.type == "cpu":
        return resolved
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    count = torch.cuda.device_count()
    if resolved.index is None:
        return torch.device("cuda", local_rank % count)
    if resolved.index >= count:
        raise ValueError(f"device {device!r} requested but only {count} CUDA device(s) exist")
    return resolved


def release_host_memory() -> bool:
    """Collect garbage, then hand the C heap's free pages back to the system (glibc's `malloc_trim`).

    After a model, a detector and an ONNX Runtime session are released, glibc keeps their freed pages in its
    arenas (about 0.57 GB after a node's cleanup, benchmarks/lifecycle_memory.py). Returns True when the
    heap was trimmed, False where the C library has no `malloc_trim` (musl, macOS).
    """
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
