"""Wall-clock timing shared by the benchmarks: repeats of a call, CUDA-synchronised, summarised."""

import statistics
import time
from typing import Callable, List, Tuple

import torch


def time_calls(call: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> List[float]:
    """Seconds of each of `repeats` calls (after `warmup` untimed ones), synchronising CUDA around each."""
    times = []
    for index in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return times


def median_p90(times: List[float]) -> Tuple[float, float]:
    """Median and 90th percentile of a list of durations."""
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
