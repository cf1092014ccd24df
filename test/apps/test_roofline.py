"""hfl-bench's limit: FLOPs counted by precision, reference-kernel rates, the floor time and hfl-bench's help."""

import pytest
import torch
from torch import nn

from hfl_ros.apps.bench import parse_args
from hfl_ros.apps.roofline import (
    MachineLimits,
    NetworkFlops,
    count_flops,
    floor_seconds,
    limits_from_times,
    reference_kernels,
)


class ConvThenLinear(nn.Module):
    """A 3x3 convolution 4 -> 8 on 6 x 6 (bf16 when asked) then a linear 8 -> 5 on the pooled map (fp32)."""

    def __init__(self, conv_dtype: torch.dtype):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, bias=False).to(conv_dtype)
        self.linear = nn.Linear(8, 5)
        self.conv_dtype = conv_dtype

    def forward(self, x):
        pooled = self.conv(x.to(self.conv_dtype)).float().mean(dim=(2, 3))
        return self.linear(pooled)


def test_flops_are_counted_by_kind_and_by_the_precision_they_run_in():
    flops = count_flops(ConvThenLinear(torch.bfloat16), (torch.randn(2, 4, 6, 6),))
    conv = 2 * 2 * 8 * 4 * 9 * 6 * 6  # 2 per multiply-add, batch 2, 8 outputs of 4 x 3 x 3 at 36 positions
    linear = 2 * 2 * 8 * 5
    assert flops.counts == {"conv": {"bf16": conv}, "matmul": {"fp32": linear}}
    assert flops.total == conv + linear and flops.of_kind("conv") == conv


def test_the_floor_is_each_precisions_flops_at_its_own_rate():
    limits = MachineLimits({"conv": {"fp32": 100.0, "bf16": 400.0}, "matmul": {"fp32": 50.0}})
    flops = NetworkFlops({"conv": {"fp32": 2e9, "bf16": 4e9}, "matmul": {"fp32": 1e9}})
    assert floor_seconds(flops, limits) == pytest.approx(2 / 100 + 4 / 400 + 1 / 50)


def test_reference_kernels_do_the_flops_they_claim():
    kernels = reference_kernels(torch.device("cpu"), (torch.float32,))
    assert set(kernels) == {"conv fp32", "matmul fp32"}
    for kernel in kernels.values():
        counted = count_flops(kernel.call, ())
        assert counted.of_kind(kernel.kind) == kernel.flops, kernel
    limits = limits_from_times(kernels, {"conv fp32": 0.5, "matmul fp32": 0.25})
    assert limits.rates["conv"]["fp32"] == pytest.approx(kernels["conv fp32"].flops / 0.5 / 1e9)


def test_bench_batches_option_is_documented(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    help_text = capsys.readouterr().out
    assert "--batches B [B ...]" in help_text and "batch sizes to time" in help_text
    assert parse_args(["--batches", "1", "4"]).batches == [1, 4]
