"""HFL-Net's inference path: the same network, forward contract and `HFLNetOutput`, run faster.

`optimize_for_inference(model, device, precision)` returns a frozen copy of an HFLNet with
- every BatchNorm that directly follows a convolution folded into that convolution (exact up to float
  rounding; the pre-activation norms of the hand decoder's residual blocks stay, they see the skip path);
- the backbone's weights cast once to `precision` ("bf16" on CPUs with AVX512-BF16 / AMX, "fp16" on CUDA;
  "fp32" leaves them); its feature maps come back as float32, so the ROI heads, attention, decoders and
  MANO always run in float32;
- the backbone and the convolutional decoders in channels_last memory order;
- optionally `torch.compile` (falling back to eager, with a warning, where no compiler works);
- on CUDA, `CudaGraphRunner` replays one captured CUDA graph per input shape (batch 1, and 2 for two hands,
  in the estimator).

The forward has no host synchronisation (no `.item()`, `.cpu()` or numpy), so it can be captured.
Calls must run without autograd (`torch.inference_mode()`), as `HandObjectEstimator` does.
"""

import copy
import dataclasses
import logging
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import BasicBlock, Bottleneck

from hfl_ros.model.hand_decoder import PreActBottleneck
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput

LOG = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
#: How float32 convolutions and matrix products run on CUDA: IEEE (equal to the CPU within float rounding;
#: torch's default for cuDNN convolutions is TF32, whose 10-bit mantissa breaks that) for every precision
#: but "tf32", which asks for TF32 (faster on Ampere and later; not exact).
#: What a reduced-precision backbone costs: the largest move of the root-relative joints (mm) from the
#: float32 network, measured on trained-like weights (`hfl_ros.model.trained_like`: the published shapes,
#: a trained ResNet's per-layer statistics; seeds 0-3: bf16 34-120 mm, fp16 13-32 mm) and asserted on them
#: in test/model/test_optimize.py. Every single backbone stage in bf16 alone already moved them >= 5.9 mm,
#: so no mixed-precision split keeps 1 mm on these weights.
REDUCED_PRECISION_JOINT_ERROR_MM = {"bf16": 150.0, "fp16": 40.0}
#: Said wherever bf16 / fp16 is offered (--help, node parameter, README).
BF16_ERROR_NOTE = ("Reduced precision is NOT exact: on weights with a trained network's statistics a bf16 "
                   "backbone moved the root-relative joints by up to 120 mm (fp16: 32 mm) and the object pose "
                   "after PnP by up to metres; use it only after `hfl-bench --checkpoint YOURS` shows the "
                   "error on your checkpoint")
#: HFLNet's convolutional decoders, run in channels_last order with the backbone.
CONV_DECODERS = ("hand_head", "hand_encoder", "object_head")
#: (convolution, the BatchNorm that directly follows it) attribute pairs inside blocks that are not Sequentials.
CONV_NORM_PAIRS = {
    Bottleneck: (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
    BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
    PreActBottleneck: (("conv1", "norm2"), ("conv2", "norm3")),
}


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    return isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)


def fold_batch_norms(module: nn.Module) -> int:
    """Fold, in place, every eval-mode BatchNorm2d that directly follows a Conv2d into it (the norm becomes
    an Identity). Pairs are adjacent members of an nn.Sequential or the CONV_NORM_PAIRS of a block.
    Returns the number of norms folded. module must be in eval mode (running statistics are used)."""
    if module.training:
        raise ValueError("fold_batch_norms needs a module in eval mode (it folds the running statistics)")
    folded = 0
    for block in list(module.modules()):
        if isinstance(block, nn.Sequential):
            for index in range(len(block) - 1):
                if _foldable(block[index], block[index + 1]):
                    block[index] = fuse_conv_bn_eval(block[index], block[index + 1])
                    block[index + 1] = nn.Identity()
                    folded += 1
        for conv_name, norm_name in CONV_NORM_PAIRS.get(type(block), ()):
            conv, norm = getattr(block, conv_name), getattr(block, norm_name)
            if _foldable(conv, norm):
                setattr(block, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(block, norm_name, nn.Identity())
                folded += 1
    return folded


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN with AVX512-BF16 or AMX)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


class _InPrecision(nn.Module):
    """Runs `module` with its weights in `dtype`: tensor inputs are cast to `dtype`, outputs back to float32
    (a cast between two low-precision stages is exact: bfloat16 and float16 are subsets of float32)."""

    def __init__(self, module: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.module = module.to(dtype=dtype)
        self.dtype = dtype

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(*(tensor.to(self.dtype) for tensor in inputs)).to(torch.float32)


class BackboneInPrecision(nn.Module):
    """A backbone whose stages named in `low_stages` (its direct children; None: all of them) run with
    weights cast once to `dtype`, the others in float32; run in channels_last order when asked. It takes
    float images (B, 3, H, W) and returns its two feature maps (B, C, H/4, W/4) as contiguous float32."""

    def __init__(self, backbone: nn.Module, dtype: torch.dtype, channels_last: bool,
                 low_stages: Optional[Sequence[str]] = None):
        super().__init__()
        self.dtype = dtype
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        children = [name for name, _ in backbone.named_children()]
        unknown = sorted(set(low_stages or ()) - set(children))
        if unknown:
            raise ValueError(f"unknown backbone stages {unknown}; this backbone's stages are {children}")
        if dtype != torch.float32:
            for name in children if low_stages is None else low_stages:
                setattr(backbone, name, _InPrecision(getattr(backbone, name), dtype))
        self.backbone = backbone.to(memory_format=self.memory_format)
        self.out_channels = backbone.out_channels
        self.stride = backbone.stride

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        p_hand, p_object = self.backbone(images.to(torch.float32).contiguous(memory_format=self.memory_format))
        return (p_hand.to(torch.float32, memory_format=torch.contiguous_format),
                p_object.to(torch.float32, memory_format=torch.contiguous_format))


class CudaFloat32Math(nn.Module):
    """Runs `module` with CUDA float32 convolutions and matrix products in `math` ("ieee" or "tf32"),
    restoring torch's global setting after each call (CUDA graphs capture the kernels chosen inside)."""

    def __init__(self, module: nn.Module, math: str):
        super().__init__()
        self.module = module
        self.math = math

    def forward(self, *inputs: torch.Tensor) -> HFLNetOutput:
        conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
        saved = conv.fp32_precision, matmul.fp32_precision
        conv.fp32_precision = matmul.fp32_precision = self.math
        try:
            return self.module(*inputs)
        finally:
            conv.fp32_precision, matmul.fp32_precision = saved


class EagerFallback(nn.Module):
    """Runs `compiled` (a torch.compile of `module`); if a call fails to compile (the first one, or a
    recompilation for a new input shape later), logs why and runs `module` eagerly from then on. The result
    is the module's `HFLNetOutput` either way; an error that eager execution raises too is raised."""

    def __init__(self, module: nn.Module, compiled: Callable[..., HFLNetOutput]):
        super().__init__()
        self.module = module
        self._compiled = compiled

    @property
    def eager(self) -> bool:
        """Whether compilation failed and the module now runs eagerly."""
        return self._compiled is self.module

    def forward(self, *inputs: torch.Tensor) -> HFLNetOutput:
        if self.eager:
            return self.module(*inputs)
        try:
            return self._compiled(*inputs)
        except Exception as error:  # noqa: BLE001 - any compiler failure means: run eagerly
            LOG.warning("torch.compile failed (%s: %s); running eagerly", type(error).__name__, error)
            self._compiled = self.module
            return self.module(*inputs)


def compile_with_fallback(module: nn.Module, **compile_options) -> nn.Module:
    """torch.compile(module, **compile_options) that falls back to eager when compiling fails."""
    return EagerFallback(module, torch.compile(module, **compile_options))


def optimize_for_inference(model: HFLNet, device="cpu", precision: str = "fp32", channels_last: bool = True,
                           compile: bool = False, low_precision_stages: Optional[Sequence[str]] = None) -> nn.Module:
    """A frozen, faster copy of `model` on `device` with the same forward contract and `HFLNetOutput`.

    precision: "fp32" (equal to the plain model within float rounding; IEEE float32 math on CUDA too),
    "tf32" (CUDA: float32 weights, TF32 convolutions and matrix products), "bf16" or "fp16" (the backbone,
    or its `low_precision_stages` only: names of its direct children; the error this costs is
    REDUCED_PRECISION_JOINT_ERROR_MM, reported by `hfl-bench`). channels_last: memory order of the
    backbone and the convolutional decoders. compile: wrap the result in torch.compile (eager fallback).
    The input `model` is left untouched.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision == "tf32" and device.type != "cuda":
        raise ValueError(f"precision 'tf32' is a CUDA precision (TF32 tensor cores), not for {device}")
    if precision == "bf16" and device.type == "cpu" and not bf16_supported():
        LOG.warning("this CPU has no native bfloat16 (AVX512-BF16 / AMX): bf16 will be slow")
    if precision in ("bf16", "fp16"):
        LOG.warning("%s backbone: %s", precision, BF16_ERROR_NOTE)
    optimized = copy.deepcopy(model).to(device).eval().requires_grad_(False)
    fold_batch_norms(optimized)
    optimized.backbone = BackboneInPrecision(optimized.backbone, PRECISIONS[precision], channels_last,
                                             low_precision_stages)
    if channels_last:
        for name in CONV_DECODERS:
            getattr(optimized, name).to(memory_format=torch.channels_last)
    if device.type == "cuda":
        optimized = CudaFloat32Math(optimized, "tf32" if precision == "tf32" else "ieee")
    if compile:
        return compile_with_fallback(optimized)
    return optimized


class CudaGraphRunner(nn.Module):
    """Runs `module` (an HFLNet forward) by replaying CUDA graphs, one captured per input shape (batch size).

    The first call with a new shape captures a graph for it (static input buffers, `module` run under
    capture); later calls of that shape copy their inputs into the buffers and replay it. The returned
    `HFLNetOutput` holds the graph's static outputs: they stay valid until the next call (copy them out
    first, as `HandObjectEstimator` does). If a capture fails, the reason is logged and `module` runs
    eagerly from then on. At most MAX_GRAPHS shapes are captured; further shapes run eagerly.
    """

    WARMUP_CALLS = 3
    #: Shapes captured at most (each graph holds its own memory pool).
    MAX_GRAPHS = 8

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self._graphs: Dict[Tuple[torch.Size, ...], Tuple[torch.cuda.CUDAGraph, Tuple[torch.Tensor, ...],
                                                           HFLNetOutput]] = {}
        self._failed = False

    @property
    def captured_shapes(self) -> Tuple[Tuple[torch.Size, ...], ...]:
        """The input shapes (images, hand_boxes, object_boxes) a graph has been captured for."""
        return tuple(self._graphs)

    def _capture(self, inputs: Tuple[torch.Tensor, ...]) -> None:
        """Capture a graph for the shapes of `inputs` (under their device, whatever the current one is) and
        check that replaying it writes every output (an empty capture would return stale outputs)."""
        device = inputs[0].device
        with torch.cuda.device(device):
            static_inputs = tuple(tensor.clone() for tensor in inputs)
            side = torch.cuda.Stream(device=device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(self.WARMUP_CALLS):  # kernels selected and memory pooled before capture
                    self.module(*static_inputs)
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                static_output = self.module(*static_inputs)
            outputs = [getattr(static_output, field.name) for field in dataclasses.fields(static_output)]
            for tensor in outputs:
                tensor.fill_(float("nan"))
            graph.replay()
            if any(bool(tensor.isnan().any()) for tensor in outputs):
                raise RuntimeError("the captured graph left outputs unwritten (nothing was captured on "
                                   f"{device}'s stream)")
        self._graphs[tuple(tensor.shape for tensor in inputs)] = (graph, static_inputs, static_output)

    def forward(self, images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> HFLNetOutput:
        inputs = (images, hand_boxes, object_boxes)
        shapes = tuple(tensor.shape for tensor in inputs)
        if self._failed or images.device.type != "cuda":
            return self.module(*inputs)
        if shapes not in self._graphs:
            if len(self._graphs) >= self.MAX_GRAPHS:
                return self.module(*inputs)
            try:
                self._capture(inputs)
            except RuntimeError as error:
                LOG.warning("CUDA graph capture failed (%s); running eagerly", error)
                self._failed = True
                self._graphs.clear()
                return self.module(*inputs)
        graph, static_inputs, static_output = self._graphs[shapes]
        with torch.cuda.device(images.device):
            for static, tensor in zip(static_inputs, inputs):
                static.copy_(tensor)
            graph.replay()
        return static_output


def output_differences(out: HFLNetOutput, reference: HFLNetOutput) -> Dict[str, float]:
    """Max |out - reference| of every `HFLNetOutput` field (its own unit: m, normalised, probability...)."""
    return {field.name: float((getattr(out, field.name).float().cpu() - getattr(reference, field.name).float().cpu())
                              .abs().max()) for field in dataclasses.fields(HFLNetOutput)}
