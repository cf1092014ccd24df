"""Datasets of Samples built from a `DataConfig`: which frames, which split, which augmentation.

Real datasets are read by `hfl_ros.data.ho3d.HO3DReader` / `hfl_ros.data.dexycb.DexYCBReader` and turned
into Samples by `hfl_ros.data.transforms.AnnotationDataset` (augmented for training, the plain evaluation
crop otherwise); synthetic frames come from `hfl_ros.data.synthetic.SyntheticDataset`. Every dataset built
here answers `object_model(name)` with the models its object poses refer to.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch.utils.data import Dataset

from hfl_ros.data.augment import AugmentConfig, dexycb_augmentation, ho3d_augmentation

DATASETS = ("ho3d", "dexycb", "synthetic")
AUGMENTATIONS = ("ho3d", "dexycb", "none")
#: Default synthetic dataset sizes per split when `data.options` gives no "n".
SYNTHETIC_SIZES = {"train": 4096, "test": 256}
#: Seed offset of the synthetic evaluation split (its frames never coincide with the training frames).
SYNTHETIC_EVAL_SEED_OFFSET = 1_000_003


@dataclass
class DataConfig:
    """Where the frames come from.

    dataset: "ho3d", "dexycb" or "synthetic".
    root: dataset folder (HO3D: holds train/, evaluation/ and the split files; DexYCB: the toolkit's
      DEX_YCB_DIR). Unused for "synthetic".
    models_dir: YCB-Video object models folder (default: the reader's own default).
    train_split, eval_split: split names the reader understands (HO3D "train"/"evaluation";
      DexYCB s0 "train"/"test"; synthetic "train"/"test").
    augment: "ho3d" (rotation +-pi), "dexycb" (rotation N(0, 30 deg), p = 0.6) or "none".
    workers: DataLoader worker processes per training process.
    options: extra keyword arguments for the reader / synthetic dataset constructor (e.g. HO3D "version",
      synthetic "n" and "seed").
    eval_options: the same for the evaluation split (default: `options`).
    """

    dataset: str = "synthetic"
    root: Optional[str] = None
    models_dir: Optional[str] = None
    train_split: str = "train"
    eval_split: str = "evaluation"
    augment: str = "ho3d"
    workers: int = 4
    options: Dict[str, Any] = field(default_factory=dict)
    eval_options: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"data.dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"data.augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if self.dataset != "synthetic" and not self.root:
            raise ValueError(f"data.root is required for dataset {self.dataset!r}")
        if int(self.workers) < 0:
            raise ValueError(f"data.workers must be >= 0, got {self.workers}")
        for name in ("options", "eval_options"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"data.{name} must be a mapping, got {type(value).__name__}")


def augmentation(name: str) -> Optional[AugmentConfig]:
    """The published augmentation ranges by name: "ho3d", "dexycb"; "none" -> None."""
    if name == "ho3d":
        return ho3d_augmentation()
    if name == "dexycb":
        return dexycb_augmentation()
    if name == "none":
        return None
    raise ValueError(f"augmentation must be 'ho3d', 'dexycb' or 'none', got {name!r}")


def _options(data: DataConfig, train: bool) -> Dict[str, Any]:
    if not train and data.eval_options is not None:
        return dict(data.eval_options)
    return dict(data.options)


def build_reader(data: DataConfig, split: str, mano_dir: Optional[Union[str, Path]] = None, train: bool = False):
    """The FrameAnnotation reader of a real dataset split (HO3DReader or DexYCBReader).

    mano_dir: MANO folder (DexYCB needs it to expand its PCA poses). Extra constructor arguments come from
    data.options (training) / data.eval_options (evaluation).
    """
    options = _options(data, train)
    if data.dataset == "ho3d":
        from hfl_ros.data.ho3d import HO3DReader

        return HO3DReader(data.root, split=split, models_dir=data.models_dir, **options)
    if data.dataset == "dexycb":
        from hfl_ros.data.dexycb import DexYCBReader

        return DexYCBReader(data.root, split=split, mano_dir=mano_dir, models_dir=data.models_dir, **options)
    raise ValueError(f"dataset {data.dataset!r} has no frame reader")


def build_dataset(
    data: DataConfig,
    split: str,
    train: bool,
    mano_layer: Optional[torch.nn.Module] = None,
    seed: int = 0,
    mano_dir: Optional[Union[str, Path]] = None,
) -> Dataset:
    """A Dataset of Samples for one split, with `object_model(name)` for its objects.

    train: apply data.augment (per-epoch draws, `set_epoch`); else the evaluation crop.
    mano_layer: right-hand MANO layer used to add vertex targets where a reader has only MANO parameters.
    seed: augmentation / synthetic seed. mano_dir: the MANO folder (synthetic hands, DexYCB poses).
    """
    augment = augmentation(data.augment) if train else None
    if data.dataset == "synthetic":
        from hfl_ros.data.synthetic import SceneAssets, SyntheticDataset, SyntheticScene

        options = _options(data, train)
        options.setdefault("n", SYNTHETIC_SIZES.get(split, SYNTHETIC_SIZES["test"]))
        options.setdefault("seed", seed if train else seed + SYNTHETIC_EVAL_SEED_OFFSET)
        if isinstance(options.get("scene"), dict):
            scene = {k: tuple(v) if isinstance(v, list) else v for k, v in options["scene"].items()}
            options["scene"] = SyntheticScene(**scene)
        assets = None if mano_dir is None else SceneAssets.load(mano_dir)
        return SyntheticDataset(augment=augment, assets=assets, **options)
    from hfl_ros.data.transforms import AnnotationDataset

    reader = build_reader(data, split, mano_dir, train)
    return AnnotationDataset(reader, augment=augment, seed=seed, mano_layer=mano_layer, objects=reader.objects)


__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "DataConfig",
    "augmentation",
    "build_dataset",
    "build_reader",
]
