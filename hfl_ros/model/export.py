"""HFL-Net as an ONNX model, and that model run by ONNX Runtime behind the network's forward contract.

The exported graph is the BatchNorm-folded float32 network (`optimize_for_inference`, fp32) including
MANO: inputs `images` (B, 3, 256, 256), `hand_boxes`, `object_boxes` (B, 4) float32 with a dynamic
batch B; outputs are the `HFLNetOutput` fields, in field order and by name. Needs the `onnx` extra
(`pip install .[onnx]`: onnx, onnxscript, onnxruntime).

`cached_export` exports a network once and keeps the file in a cache keyed by the network's weights (a
SHA-256 of its state dict, MANO buffers included: MANO is baked into the graph) and the export settings,
as TensorRT-based ROS nodes keep their engines; a file is kept only after ONNX Runtime reproduced torch's
outputs on it.
"""

import copy
import dataclasses
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from hfl_ros.constants import CROP_SIZE
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput
from hfl_ros.model.optimize import optimize_for_inference, output_differences

LOG = logging.getLogger(__name__)

INPUT_NAMES = ("images", "hand_boxes", "object_boxes")
OUTPUT_NAMES = tuple(field.name for field in dataclasses.fields(HFLNetOutput))
#: ONNX opset of the export (ONNX Runtime >= 1.14 runs it; RoiAlign with half-pixel modes needs >= 16).
OPSET = 18
MAX_BATCH = 256
#: Bumped whenever the exported graph changes for the same weights (part of the cache key).
EXPORT_VERSION = 1
#: Largest |ONNX Runtime - torch| of any output accepted at export (float rounding of a reordered graph).
EXPORT_TOLERANCE = 1e-4
#: Batches on which an export is checked against torch.
CHECK_BATCHES = (1, 3)
#: Environment variable naming the cache directory (default: $XDG_CACHE_HOME/hfl_ros, else ~/.cache/hfl_ros).
CACHE_ENV = "HFL_ROS_CACHE"
TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class _OutputTuple(nn.Module):
    """The network with its `HFLNetOutput` flattened to a tuple in OUTPUT_NAMES order (what ONNX exports)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.eval()

    def forward(self, images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> Tuple:
        out = self.network(images, hand_boxes, object_boxes)
        return tuple(getattr(out, name) for name in OUTPUT_NAMES)


def example_inputs(batch: int = 1) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded inputs of batch `batch`: random images and plausible, overlapping hand and object boxes (crop px)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, CROP_SIZE, CROP_SIZE, generator=generator)
    corners = torch.rand(batch, 2, generator=generator) * 0.3 * CROP_SIZE
    sizes = (0.4 + 0.3 * torch.rand(batch, 2, generator=generator)) * CROP_SIZE
    hand = torch.cat((corners, corners + sizes), dim=1)
    obj = hand + torch.tensor([0.2, 0.15, 0.2, 0.15]) * CROP_SIZE
    return images, hand, obj.clamp(max=CROP_SIZE - 1)


def export_onnx(model: HFLNet, path: Union[str, Path], batch: int = 2) -> Path:
    """Write `model` (float32, BatchNorms folded, on the CPU) to the ONNX file `path`, batch dynamic.

    batch: the batch of the example inputs traced (>= 2 keeps the batch symbolic). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = _OutputTuple(optimize_for_inference(model, "cpu", "fp32", channels_last=False))
    dynamic = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            network, example_inputs(batch), str(path), input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), dynamic_shapes=tuple({0: dynamic} for _ in INPUT_NAMES),
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
        )
    return path


def onnx_differences(model: nn.Module, path: Union[str, Path], batches: Sequence[int] = CHECK_BATCHES
                     ) -> Dict[int, Dict[str, float]]:
    """Max |ONNX Runtime - torch| per output field of the export at `path` of `model`, per batch, on
    seeded inputs (ONNX Runtime on the CPU; torch `model` on the CPU)."""
    network = OnnxNetwork(path)
    differences = {}
    for batch in batches:
        inputs = example_inputs(batch)
        with torch.inference_mode():
            expected = model(*inputs)
        differences[batch] = output_differences(network(*inputs), expected)
    return differences


def network_digest(model: nn.Module) -> str:
    """SHA-256 (hex) of `model`'s state dict: every name, dtype, shape and value."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """$HFL_ROS_CACHE, else $XDG_CACHE_HOME/hfl_ros, else ~/.cache/hfl_ros."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hfl_ros"


def export_key(model: nn.Module) -> str:
    """The cache key of `model`'s export: its weights' digest and the export settings (opset, exporter
    version, torch version)."""
    settings = f"opset{OPSET}-v{EXPORT_VERSION}-torch{torch.__version__}"
    return f"{network_digest(model)[:24]}-{hashlib.sha256(settings.encode()).hexdigest()[:8]}"


def cached_export(model: HFLNet, cache_dir: Optional[Union[str, Path]] = None,
                  tolerance: float = EXPORT_TOLERANCE) -> Path:
    """The ONNX export of `model` from the cache (`default_cache_dir()` / "onnx" when None), exported and
    checked first when missing. Raises RuntimeError when ONNX Runtime differs from torch by more than
    `tolerance` (nothing is then cached)."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "onnx"
    path = directory / f"hflnet-{export_key(model)}.onnx"
    if path.is_file():
        LOG.info("ONNX export from the cache: %s", path)
        return path
    directory.mkdir(parents=True, exist_ok=True)
    LOG.warning("exporting the network to ONNX once for these weights (about a minute): %s", path)
    with tempfile.TemporaryDirectory(dir=directory) as workdir:
        candidate = export_onnx(model, Path(workdir) / path.name)
        on_cpu = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).to("cpu")
        worst = max(max(fields.values()) for fields in onnx_differences(on_cpu.eval(), candidate).values())
        if worst > tolerance:
            raise RuntimeError(f"ONNX Runtime differs from torch by {worst:.2e} > {tolerance:.0e} on the export of "
                               f"this network; not cached")
        os.replace(candidate, path)
    LOG.info("ONNX export checked (max |ONNX Runtime - torch| %.1e) and cached: %s", worst, path)
    return path


def onnx_providers(device: torch.device, available: Sequence[str], tensorrt: bool = False,
                   engine_cache: Optional[Union[str, Path]] = None) -> List[Tuple[str, Dict[str, str]]]:
    """The execution providers (name, options) to ask for on `device` among `available`.

    CPU: the CPU provider. CUDA (`device.index`, default 0): TensorRT only when `tensorrt` (its engines kept
    in `engine_cache`), then CUDA, both on that device, then CPU for the operators they lack. Raises
    RuntimeError when CUDA is asked for and this onnxruntime has no CUDA provider (a CPU-only build would
    run silently on the CPU: install onnxruntime-gpu, or run on the CPU).
    """
    if device.type != "cuda":
        return [(CPU, {})]
    if CUDA not in available:
        raise RuntimeError(f"ONNX Runtime on {device} needs the CUDA execution provider, but this onnxruntime "
                           f"has only {list(available)}: install onnxruntime-gpu, or run on the CPU")
    device_id = str(device.index or 0)
    providers: List[Tuple[str, Dict[str, str]]] = []
    if tensorrt:
        if TENSORRT not in available:
            raise RuntimeError(f"TensorRT was asked for, but this onnxruntime has only {list(available)}")
        options = {"device_id": device_id, "trt_fp16_enable": "False"}
        if engine_cache is not None:
            options.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(engine_cache))
        providers.append((TENSORRT, options))
    return providers + [(CUDA, {"device_id": device_id}), (CPU, {})]


class OnnxNetwork:
    """An exported HFL-Net run by ONNX Runtime: called like HFLNet, returns an `HFLNetOutput` on `device`.

    path: the .onnx file; device: "cpu" or "cuda[:N]" (the CUDA provider on that GPU; TensorRT only when
    `tensorrt`, with its engines cached beside the file). Inputs and outputs are bound to torch tensors on
    `device` (I/O binding: no copies through numpy, none between host and GPU on CUDA).
    Raises FileNotFoundError for a missing file, ImportError naming the extra when onnxruntime is missing,
    RuntimeError when the device's provider is missing or was not granted.
    """

    def __init__(self, path: Union[str, Path], device: Union[str, torch.device] = "cpu", tensorrt: bool = False,
                 threads: Optional[int] = None):
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError("running an ONNX model needs onnxruntime: pip install '.[onnx]'") from error
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
        providers = onnx_providers(self.device, onnxruntime.get_available_providers(), tensorrt,
                                   path.parent / "tensorrt")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=[name for name, _ in providers],
                                                    provider_options=[opts for _, opts in providers])
        self.providers = self.session.get_providers()
        if providers[0][0] not in self.providers:
            raise RuntimeError(f"ONNX Runtime did not grant {providers[0][0]} for {path} (running on "
                               f"{self.providers}); see its log above")
        names = tuple(output.name for output in self.session.get_outputs())
        if names != OUTPUT_NAMES:
            raise ValueError(f"{path} is not an HFL-Net export: outputs {names}, expected {OUTPUT_NAMES}")
        self._output_shapes = tuple(tuple(output.shape[1:]) for output in self.session.get_outputs())
        LOG.info("ONNX Runtime runs %s on %s", path, self.providers)

    def __call__(self, images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> HFLNetOutput:
        """images: (B, 3, 256, 256) in [0, 1]; hand_boxes, object_boxes: (B, 4) crop px."""
        device_type, device_id = self.device.type, self.device.index or 0
        binding = self.session.io_binding()
        inputs = [tensor.detach().to(self.device, torch.float32).contiguous()
                  for tensor in (images, hand_boxes, object_boxes)]
        for name, tensor in zip(INPUT_NAMES, inputs):
            binding.bind_input(name, device_type, device_id, np.float32, tuple(tensor.shape), tensor.data_ptr())
        batch = inputs[0].shape[0]
        outputs = [torch.empty((batch, *shape), dtype=torch.float32, device=self.device)
                   for shape in self._output_shapes]
        for name, tensor in zip(OUTPUT_NAMES, outputs):
            binding.bind_output(name, device_type, device_id, np.float32, tuple(tensor.shape), tensor.data_ptr())
        if device_type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()  # inputs written by torch's stream
        self.session.run_with_iobinding(binding)
        return HFLNetOutput(**dict(zip(OUTPUT_NAMES, outputs)))
