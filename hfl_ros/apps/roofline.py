"""The machine's own limit for HFL-Net's arithmetic, and how close a network path comes to it.

`reference_kernels` are the two kernels the network spends its arithmetic in, in each precision: a 3x3
256->256 convolution on a 64 x 64 map (the size of the backbone's stage-1 / FPN maps; channels_last) and a
square GEMM; timed beside the network (`hfl-bench` interleaves them with its paths), `limits_from_times`
turns their times into rates (GFLOP/s). `count_flops` counts a network's convolution and
matrix-product FLOPs by the precision they run in (torch.utils.flop_counter's formulas, one forward).
`floor_seconds` is the time those FLOPs take at the measured rates: no path can be faster, and
floor / measured time is the path's share of the limit.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

#: Names of the precisions the limits are measured in.
DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
#: The reference convolution: channels, kernel, map side (batch 1 on CPU; CUDA_BATCH on CUDA).
CONV_CHANNELS, CONV_KERNEL, CONV_SIDE = 256, 3, 64
CUDA_BATCH = 16
#: The reference GEMM side on CPU and on CUDA.
GEMM_SIDE = {"cpu": 1024, "cuda": 4096}
KINDS = ("conv", "matmul")


@dataclass(frozen=True)
class MachineLimits:
    """Best measured rates, GFLOP/s, by kind ("conv", "matmul") and precision name ("fp32", "bf16", "fp16")."""

    rates: Dict[str, Dict[str, float]]


@dataclass(frozen=True)
class NetworkFlops:
    """FLOPs of one forward, by kind ("conv", "matmul": every product of matrices, attention included) and
    precision name."""

    counts: Dict[str, Dict[str, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(sum(by_dtype.values()) for by_dtype in self.counts.values())

    def of_kind(self, kind: str) -> float:
        return sum(self.counts.get(kind, {}).values())


@dataclass(frozen=True)
class ReferenceKernel:
    """One kernel whose rate is a limit: `call()` does `flops` FLOPs of `kind` in precision `dtype_name`."""

    kind: str
    dtype_name: str
    call: Callable[[], object]
    flops: float


def reference_kernels(device: torch.device, dtypes: Tuple[torch.dtype, ...]) -> Dict[str, ReferenceKernel]:
    """The reference convolution and GEMM on `device` in each of `dtypes`, by name ("conv fp32", ...)."""
    generator = torch.Generator().manual_seed(0)
    batch = CUDA_BATCH if device.type == "cuda" else 1
    side = GEMM_SIDE["cuda" if device.type == "cuda" else "cpu"]
    kernels = {}
    for dtype in dtypes:
        name = DTYPE_NAMES[dtype]
        maps = torch.randn(batch, CONV_CHANNELS, CONV_SIDE, CONV_SIDE, generator=generator)
        maps = maps.to(device, dtype).contiguous(memory_format=torch.channels_last)
        conv = torch.nn.Conv2d(CONV_CHANNELS, CONV_CHANNELS, CONV_KERNEL, padding=CONV_KERNEL // 2, bias=False)
        conv = conv.to(device, dtype, memory_format=torch.channels_last).requires_grad_(False)
        kernels[f"conv {name}"] = ReferenceKernel(
            "conv", name, lambda conv=conv, maps=maps: conv(maps),
            2.0 * batch * CONV_CHANNELS ** 2 * CONV_KERNEL ** 2 * CONV_SIDE ** 2)
        left, right = (torch.randn(side, side, generator=generator).to(device, dtype) for _ in range(2))
        kernels[f"matmul {name}"] = ReferenceKernel("matmul", name, lambda left=left, right=right: left @ right,
                                                    2.0 * side ** 3)
    return kernels


def limits_from_times(kernels: Dict[str, ReferenceKernel], seconds: Dict[str, float]) -> MachineLimits:
    """The rates (GFLOP/s) of `kernels` that took `seconds` (by kernel name) per call."""
    rates: Dict[str, Dict[str, float]] = {kind: {} for kind in KINDS}
    for name, kernel in kernels.items():
        rates[kernel.kind][kernel.dtype_name] = kernel.flops / seconds[name] / 1e9
    return MachineLimits(rates)


class _FlopsByDtype(TorchDispatchMode):
    """Counts the FLOPs of every operator torch's flop counter knows, by kind and by its first input's dtype."""

    def __init__(self):
        super().__init__()
        self.counts: Dict[str, Dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in flop_registry:  # a composite (conv2d, linear, matmul): count what it decomposes into
            with self:
                decomposed = func.decompose(*args, **kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = func(*args, **kwargs)
        if packet in flop_registry:
            dtype = next(arg.dtype for arg in args if isinstance(arg, torch.Tensor))
            kind = "conv" if "convolution" in packet.__name__ else "matmul"
            self.counts[kind][DTYPE_NAMES.get(dtype, str(dtype))] += flop_registry[packet](*args, **kwargs, out_val=out)
        return out


def count_flops(network: Callable, inputs: Tuple[torch.Tensor, ...]) -> NetworkFlops:
    """The FLOPs of `network(*inputs)` (a torch module run eagerly), by kind and precision."""
    mode = _FlopsByDtype()
    with torch.inference_mode(), mode:
        network(*inputs)
    return NetworkFlops({kind: dict(by_dtype) for kind, by_dtype in mode.counts.items()})


def floor_seconds(flops: NetworkFlops, limits: MachineLimits) -> float:
    """The time `flops` take at the measured rates (convolutions at the convolution rate, matrix products at
    the GEMM rate, each in its own precision): the fastest any path doing this arithmetic can be here."""
    return sum(count / (limits.rates[kind][name] * 1e9)
               for kind, by_dtype in flops.counts.items() for name, count in by_dtype.items())
