"""Typed configuration dataclasses and their YAML loading.

Every dataclass here is plain data; `load_config(path, cls)` fills one from a YAML mapping and rejects
unknown keys by name.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Type, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")

HAND_ENHANCEMENTS = ("concat_sa", "none", "sa", "ca", "add_sa")
OBJECT_ENHANCEMENTS = ("h_to_o", "none", "o_to_o")


@dataclass
class ModelConfig:
    """The network's architecture (the paper's Tables 5-8 are choices of these fields).

    backbone: "harmonious" (HFL-Net), "single" or "double" stream ResNet (the names of
      `hfl_ros.model.backbone.BACKBONES`, checked when the network is built).
    resnet: "resnet50" (HFL-Net, the published checkpoints) or "resnet18" / "resnet34" (the names of
      `hfl_ros.model.backbone.RESNETS`, checked when the network is built).
    resnet_width: the ResNet's base width (64 = standard); resnet_blocks: blocks per stage (None = standard);
    feature_channels: FPN, ROI feature, attention and decoder width (256 in HFL-Net). The defaults are the
      published model; smaller values keep every part of the architecture for CPU-sized experiments.
    hand_enhancement: object-to-hand module: "concat_sa" (HFL-Net: self-attention on concat(F^h, F^oh)),
      "none", "sa" (self-attention on F^h), "ca" (F^h queries F^o), "add_sa" (self-attention on F^h + F^oh).
    object_enhancement: hand-to-object module: "h_to_o" (HFL-Net: F^o queries F^ho), "none",
      "o_to_o" (F^o queries the intersection ROI of P^o).
    detach_cross_features: detach F^oh and F^ho in training, as the published model does.
    imagenet_weights: optional local torchvision ResNet-50 state_dict file for initialisation.
    """

    backbone: str = "harmonious"
    resnet: str = "resnet50"
    resnet_width: int = 64
    resnet_blocks: Optional[Tuple[int, int, int, int]] = None
    feature_channels: int = 256
    hand_enhancement: str = "concat_sa"
    object_enhancement: str = "h_to_o"
    attention_heads: int = 4
    attention_depth: int = 1
    detach_cross_features: bool = True
    imagenet_weights: Optional[str] = None

    def __post_init__(self) -> None:
        if self.hand_enhancement not in HAND_ENHANCEMENTS:
            raise ValueError(f"hand_enhancement {self.hand_enhancement!r} not in {HAND_ENHANCEMENTS}")
        if self.object_enhancement not in OBJECT_ENHANCEMENTS:
            raise ValueError(f"object_enhancement {self.object_enhancement!r} not in {OBJECT_ENHANCEMENTS}")
        if self.resnet_blocks is not None:
            self.resnet_blocks = tuple(int(b) for b in self.resnet_blocks)
            if len(self.resnet_blocks) != 4 or min(self.resnet_blocks) < 1:
                raise ValueError(f"resnet_blocks must be 4 positive counts, got {self.resnet_blocks}")
        if self.resnet_width < 1 or self.feature_channels < 8 or self.feature_channels % self.attention_heads:
            raise ValueError(f"resnet_width must be >= 1 and feature_channels a multiple of "
                             f"{self.attention_heads} (>= 8), got {self.resnet_width}, {self.feature_channels}")


def _build(cls: Type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(names)}")
    values: Dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        inner = [a for a in get_args(hint) if a is not type(None)] if get_origin(hint) is Union else [hint]
        target = inner[0] if inner else hint
        if dataclasses.is_dataclass(target) and value is not None:
            value = _build(target, value, f"{where}.{key}")
        values[key] = value
    return cls(**values)


def config_from_dict(cls: Type[T], data: Dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` (nested dataclasses too) from a mapping; unknown keys are an error naming them."""
    return _build(cls, data, where)


def load_config(path: Union[str, Path], cls: Type[T]) -> T:
    """Read YAML file `path` into dataclass `cls`; errors name the file and the bad key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    with path.open() as stream:
        data = yaml.safe_load(stream) or {}
    return _build(cls, data, str(path))


def config_to_dict(config: Any) -> Dict[str, Any]:
    """A dataclass config as a plain (YAML/JSON-serialisable) dict."""
    return dataclasses.asdict(config)


def _set(data: Dict[str, Any], key: str, value: Any) -> None:
    path = key.strip().split(".")
    node = data
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            raise ValueError(f"override {key!r}: {part!r} is not a section")
        node = node[part]
    if path[-1] not in node:
        raise ValueError(f"override {key!r}: unknown key {path[-1]!r}")
    node[path[-1]] = value


def apply_overrides(config: T, overrides: Sequence[str], values: Optional[Dict[str, Any]] = None) -> T:
    """A copy of dataclass `config` with dotted ``key=value`` overrides applied (values parsed as YAML),
    e.g. ``optim.lr=1e-3`` or ``data.options={n: 64}``, then `values` (dotted key -> Python value).
    Unknown keys raise ValueError naming them; the result is checked like a loaded file."""
    data: Dict[str, Any] = config_to_dict(config)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        _set(data, key, yaml.safe_load(text))
    for key, value in (values or {}).items():
        _set(data, key, value)
    return config_from_dict(type(config), data, "overrides")


__all__ = ["ModelConfig", "apply_overrides", "config_from_dict", "config_to_dict", "load_config"]
