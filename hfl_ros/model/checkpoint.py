"""Checkpoints: the published HFL-Net files (through an explicit key map) and our own.

Published files are ``{"epoch", "network", "state_dict"}`` dicts whose keys start with ``honet.module.``;
their ``mano_branch.mano_layer.*`` tensors are copies of the licensed MANO model and are ignored (our MANO
comes from the user's own file). Our files hold the model without MANO tensors, its config and, for
training, the optimizer, scheduler and epoch. Everything is read with ``torch.load(weights_only=True)``.
"""

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import nn

from hfl_ros.config import ModelConfig, config_from_dict, config_to_dict
from hfl_ros.model.hflnet import HFLNet

LOG = logging.getLogger(__name__)

PUBLISHED_PREFIX = "honet.module."
#: Published keys that are MANO model buffers: ignored on load, never required.
PUBLISHED_MANO_PREFIX = "mano_branch.mano_layer."
#: Our state_dict prefix of the MANO layer: never saved.
MANO_PREFIX = "mano_layer."
OUR_FORMAT = "hfl_ros"
OUR_FORMAT_VERSION = 1

_FPN_PARTS = (("toplayer", "top"), ("latlayer1", "lateral4"), ("latlayer2", "lateral3"),
              ("latlayer3", "lateral2"), ("smooth3", "smooth"))
_STREAMS = (("h", "hand"), ("o", "object"))

#: Published key (without PUBLISHED_PREFIX) -> our key, as ordered (pattern, replacement) rules; the first
#: full match wins. Written out so that every published tensor has exactly one documented destination.
PUBLISHED_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (r"base_net\.layer0_h\.(.+)", r"backbone.stem.\1"),
    (r"base_net\.layer1_h\.0\.(.+)", r"backbone.stage1.\1"),
    (r"base_net\.layer2_h\.0\.(.+)", r"backbone.hand_stage2.\1"),
    (r"base_net\.layer3_h\.0\.(.+)", r"backbone.hand_stage3.\1"),
    (r"base_net\.layer2_o\.0\.(.+)", r"backbone.object_stage2.\1"),
    (r"base_net\.layer3_o\.0\.(.+)", r"backbone.object_stage3.\1"),
    (r"base_net\.layer4_h\.0\.(.+)", r"backbone.stage4.\1"),
    *(
        (rf"base_net\.{theirs}_{s}\.(weight|bias)", rf"backbone.{stream}_fpn.{ours}.\1")
        for theirs, ours in _FPN_PARTS
        for s, stream in _STREAMS
    ),
    (r"transformer_hand\.layers\.(\d+)\.norm2\.(.+)", r"hand_attention.layers.\1.norm.\2"),
    (r"transformer_hand\.(layers\.\d+\.(?:encode_query|encode_key|encode_value|mlp\.fc1|mlp\.fc2)\..+)", r"hand_attention.\1"),
    (r"transformer_obj\.layers\.(\d+)\.norm2\.(.+)", r"object_attention.layers.\1.norm.\2"),
    (r"transformer_obj\.(layers\.\d+\.(?:encode_query|encode_key|encode_value|mlp\.fc1|mlp\.fc2)\..+)", r"object_attention.\1"),
    (r"hand_head\.betas", r"hand_head.beta"),
    (r"hand_head\.uu", r"hand_head.grid_x"),
    (r"hand_head\.vv", r"hand_head.grid_y"),
    (r"hand_head\.hg\.0\.hg\.(\d+)\.(\d+)\.0\.bn([123])\.(.+)", r"hand_head.hourglass.levels.\1.\2.norm\3.\4"),
    (r"hand_head\.hg\.0\.hg\.(\d+)\.(\d+)\.0\.(conv[123])\.(.+)", r"hand_head.hourglass.levels.\1.\2.\3.\4"),
    (r"hand_head\.res\.0\.0\.bn([123])\.(.+)", r"hand_head.residual.norm\1.\2"),
    (r"hand_head\.res\.0\.0\.(conv[123])\.(.+)", r"hand_head.residual.\1.\2"),
    (r"hand_head\.fc\.0\.block\.([01])\.(.+)", r"hand_head.fc.\1.\2"),
    (r"hand_head\.score\.0\.(weight|bias)", r"hand_head.score.\1"),
    (r"hand_encoder\.heatmap_conv\.(weight|bias)", r"hand_encoder.heatmap_conv.\1"),
    (r"hand_encoder\.encoding_conv\.(weight|bias)", r"hand_encoder.feature_conv.\1"),
    (r"hand_encoder\.reg\.(\d+)\.bn\.(.+)", r"hand_encoder.blocks.\1.norm1.\2"),
    (r"hand_encoder\.reg\.(\d+)\.bn1\.(.+)", r"hand_encoder.blocks.\1.norm2.\2"),
    (r"hand_encoder\.reg\.(\d+)\.bn2\.(.+)", r"hand_encoder.blocks.\1.norm3.\2"),
    (r"hand_encoder\.reg\.(\d+)\.(conv[123])\.(.+)", r"hand_encoder.blocks.\1.\2.\3"),
    (r"mano_branch\.mano_base_layer\.([02])\.(weight|bias)", r"mano_head.mlp.\1.\2"),
    (r"mano_branch\.pose_reg\.(weight|bias)", r"mano_head.pose_head.\1"),
    (r"mano_branch\.shape_reg\.(weight|bias)", r"mano_head.shape_head.\1"),
    (r"mano_branch\.coord_change_mat", r"mano_head.coord_change_mat"),
    (r"obj_head\.out_conv\.(weight|bias)", r"object_head.out_conv.\1"),
)

#: Position inside each ObjectHead block of the published conv{k}_1, bn{k}_1, conv{k}_2, bn{k}_2.
_OBJECT_BLOCK_SLOTS = {("conv", "1"): 0, ("bn", "1"): 1, ("conv", "2"): 3, ("bn", "2"): 4}
_OBJECT_BLOCK_PATTERN = re.compile(r"obj_head\.(conv|bn)([123])_([12])\.(.+)")


class CheckpointError(ValueError):
    """A checkpoint file does not match the model; the message names the file and the key."""


def map_published_key(key: str) -> Optional[str]:
    """Our state_dict key for a published key (without PUBLISHED_PREFIX); None when no rule matches."""
    match = _OBJECT_BLOCK_PATTERN.fullmatch(key)
    if match:
        kind, block, slot, rest = match.groups()
        return f"object_head.blocks.{int(block) - 1}.{_OBJECT_BLOCK_SLOTS[(kind, slot)]}.{rest}"
    for pattern, replacement in PUBLISHED_KEY_RULES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, replacement, key)
    return None


def _load_file(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({error})") from error
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(data).__name__}")
    return data


def model_state_without_mano(model: nn.Module) -> Dict[str, torch.Tensor]:
    """model.state_dict() without the MANO layer's tensors (those are the user's licensed data)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(MANO_PREFIX)}


def published_to_ours(state: Dict[str, torch.Tensor], expected: Dict[str, torch.Tensor], source: str) -> Dict[str, torch.Tensor]:
    """Translate a published state_dict to our keys, strictly.

    state: the published ``state_dict``; expected: our model's state (without MANO) giving keys and shapes.
    Raises CheckpointError naming the key for an unmapped, missing or mis-shaped tensor.
    """
    mapped: Dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        short = key[len(PUBLISHED_PREFIX):] if key.startswith(PUBLISHED_PREFIX) else key
        if short.startswith(PUBLISHED_MANO_PREFIX):
            continue
        ours = map_published_key(short)
        if ours is None or ours not in expected:
            raise CheckpointError(f"{source}: unexpected key {key!r} (no counterpart in the model)")
        if tuple(tensor.shape) != tuple(expected[ours].shape):
            raise CheckpointError(
                f"{source}: key {key!r} has shape {tuple(tensor.shape)}, the model expects {tuple(expected[ours].shape)}"
            )
        mapped[ours] = tensor
    missing = sorted(set(expected) - set(mapped))
    if missing:
        raise CheckpointError(f"{source}: missing key(s) for {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return mapped


def _mano_layer(mano: Union[nn.Module, str, Path]) -> nn.Module:
    if isinstance(mano, nn.Module):
        return mano
    from hfl_ros.mano import load_mano

    return load_mano(mano, side="right")


def load_published_checkpoint(
    path: Union[str, Path], mano: Union[nn.Module, str, Path], device: Union[str, torch.device] = "cpu"
) -> HFLNet:
    """HFL-Net with every non-MANO tensor of a published checkpoint loaded, in eval mode on `device`.

    path: a published ``.pth.tar`` file; mano: a ManoLayer or the path of the user's MANO file or directory.
    """
    path = Path(path)
    data = _load_file(path)
    state = data.get("state_dict", data)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: 'state_dict' is not a dict")
    model = HFLNet(ModelConfig(), _mano_layer(mano))
    expected = model_state_without_mano(model)
    model.load_state_dict(published_to_ours(state, expected, str(path)), strict=False)
    return model.to(device).eval()


def save_checkpoint(path: Union[str, Path], model: HFLNet, **training_state: Any) -> Path:
    """Write our checkpoint: model tensors (no MANO), config and optional training state
    (e.g. optimizer=..., scheduler=..., epoch=..., train_config=...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": OUR_FORMAT,
        "version": OUR_FORMAT_VERSION,
        "config": config_to_dict(model.config),
        "model": model_state_without_mano(model),
        **training_state,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def read_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    """The raw contents of one of our checkpoints (model state, config, training state)."""
    path = Path(path)
    data = _load_file(path)
    if data.get("format") != OUR_FORMAT:
        raise CheckpointError(f"{path}: not an hfl_ros checkpoint (format {data.get('format')!r})")
    return data


def load_checkpoint(
    path: Union[str, Path], mano: Union[nn.Module, str, Path], device: Union[str, torch.device] = "cpu"
) -> HFLNet:
    """HFL-Net from either kind of checkpoint (ours or published), in eval mode on `device`."""
    path = Path(path)
    data = _load_file(path)
    if data.get("format") != OUR_FORMAT:
        return load_published_checkpoint(path, mano, device)
    config = config_from_dict(ModelConfig, data["config"], f"{path}:config")
    # The checkpoint holds every weight: ImageNet initialisation is neither needed nor wanted.
    model = HFLNet(dataclasses.replace(config, imagenet_weights=None), _mano_layer(mano))
    expected = model_state_without_mano(model)
    state = data["model"]
    for key in sorted(set(state) | set(expected)):
        if key not in expected:
            raise CheckpointError(f"{path}: unexpected key {key!r}")
        if key not in state:
            raise CheckpointError(f"{path}: missing key {key!r}")
        if tuple(state[key].shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{path}: key {key!r} has shape {tuple(state[key].shape)}, expected {tuple(expected[key].shape)}")
    model.load_state_dict(state, strict=False)
    LOG.info("loaded %s (epoch %s)", path, data.get("epoch"))
    return model.to(device).eval()
