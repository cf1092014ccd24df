"""HFL-Net as an ONNX model, and that model run by ONNX Runtime behind the network's forward contract.

The exported graph is the BatchNorm-folded float32 network (`optimize_for_inference`, fp32) including
MANO: inputs `images` (B, 3, 256, 256), `hand_boxes`, `object_boxes` (B, 4) float32 with a dynamic
batch B; outputs are the `HFLNetOutput` fields, in field order and by name. Needs the `onnx` extra
(`pip install .[onnx]`: onnx, onnxscript, onnxruntime).
"""

import dataclasses
import logging
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from hfl_ros.constants import CROP_SIZE
from hfl_ros.model.hflnet import HFLNet, HFLNetOutput
from hfl_ros.model.optimize import optimize_for_inference

LOG = logging.getLogger(__name__)

INPUT_NAMES = ("images", "hand_boxes", "object_boxes")
OUTPUT_NAMES = tuple(field.name for field in dataclasses.fields(HFLNetOutput))
#: ONNX opset of the export (ONNX Runtime >= 1.14 runs it; RoiAlign with half-pixel modes needs >= 16).
OPSET = 18
MAX_BATCH = 256
#: Execution providers tried on CUDA, best first; the CPU provider always ends the list.
CUDA_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


class _OutputTuple(nn.Module):
    """The network with its `HFLNetOutput` flattened to a tuple in OUTPUT_NAMES order (what ONNX exports)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

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


def onnx_providers(device: torch.device, available: Sequence[str]) -> List[str]:
    """The execution providers to ask for on `device` among `available` (CUDA ones first on CUDA, then CPU)."""
    wanted = CUDA_PROVIDERS if device.type == "cuda" else ()
    return [provider for provider in wanted if provider in available] + ["CPUExecutionProvider"]


class OnnxNetwork:
    """An exported HFL-Net run by ONNX Runtime: called like HFLNet, returns an `HFLNetOutput` of CPU tensors.

    path: the .onnx file; device: "cuda" asks for the TensorRT / CUDA providers where ONNX Runtime has them.
    Raises FileNotFoundError for a missing file, ImportError naming the extra when onnxruntime is missing.
    """

    def __init__(self, path: Union[str, Path], device: Union[str, torch.device] = "cpu"):
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError("running an ONNX model needs onnxruntime: pip install '.[onnx]'") from error
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        providers = onnx_providers(torch.device(device), onnxruntime.get_available_providers())
        self.session = onnxruntime.InferenceSession(str(path), providers=providers)
        self.providers = self.session.get_providers()
        names = tuple(output.name for output in self.session.get_outputs())
        if names != OUTPUT_NAMES:
            raise ValueError(f"{path} is not an HFL-Net export: outputs {names}, expected {OUTPUT_NAMES}")
        LOG.info("ONNX Runtime runs %s on %s", path, self.providers)

    def __call__(self, images: torch.Tensor, hand_boxes: torch.Tensor, object_boxes: torch.Tensor) -> HFLNetOutput:
        """images: (B, 3, 256, 256) in [0, 1]; hand_boxes, object_boxes: (B, 4) crop px."""
        feeds = {name: np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
                 for name, tensor in zip(INPUT_NAMES, (images, hand_boxes, object_boxes))}
        outputs = self.session.run(list(OUTPUT_NAMES), feeds)
        return HFLNetOutput(**{name: torch.from_numpy(value) for name, value in zip(OUTPUT_NAMES, outputs)})
