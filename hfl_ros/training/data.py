"""Datasets and the MANO layer of a run, built from its `DataConfig` / `TrainConfig.mano_dir`.

Real datasets are read by `hfl_ros.data.ho3d.HO3DReader` / `hfl_ros.data.dexycb.DexYCBReader` and turned
into Samples by `hfl_ros.data.transforms.AnnotationDataset` (augmented for training, the plain evaluation
crop otherwise); synthetic frames come from `hfl_ros.data.synthetic.SyntheticDataset`.
"""

from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch.utils.data import Dataset

from hfl_ros.data.augment import AugmentConfig, dexycb_augmentation, ho3d_augmentation
from hfl_ros.training.config import DataConfig
from hfl_ros.training.distributed import DistributedContext, barrier


#: `TrainConfig.mano_dir` value that selects the procedural MANO-format hand.
PROCEDURAL_MANO = "procedural"
#: Default synthetic dataset sizes per split when `data.options` gives no "n".
SYNTHETIC_SIZES = {"train": 4096, "test": 256}
#: Seed offset of the synthetic evaluation split (its frames never coincide with the training frames).
SYNTHETIC_EVAL_SEED_OFFSET = 1_000_003


def augmentation(name: str) -> Optional[AugmentConfig]:
    """The published augmentation ranges by name: "ho3d", "dexycb"; "none" -> None."""
    if name == "ho3d":
        return ho3d_augmentation()
    if name == "dexycb":
        return dexycb_augmentation()
    if name == "none":
        return None
    raise ValueError(f"augmentation must be 'ho3d', 'dexycb' or 'none', got {name!r}")


def resolve_mano_dir(mano_dir: str, output_dir: Union[str, Path], context: Optional[DistributedContext] = None) -> Path:
    """The MANO folder to load: `mano_dir`, or for "procedural" a procedural hand written once (by rank 0)
    under `<output_dir>/procedural_mano`."""
    if mano_dir != PROCEDURAL_MANO:
        return Path(mano_dir)
    from hfl_ros.mano.procedural import procedural_mano_dir

    target = Path(output_dir) / "procedural_mano"
    if context is None or context.is_main:
        procedural_mano_dir(target)
    if context is not None:
        barrier(context)
    return target


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
    """A Dataset of Samples for one split.

    train: apply data.augment (per-epoch draws, `set_epoch`); else the evaluation crop.
    mano_layer: right-hand MANO layer used to add vertex targets where a reader has only MANO parameters.
    seed: augmentation / synthetic seed.
    """
    augment = augmentation(data.augment) if train else None
    if data.dataset == "synthetic":
        from hfl_ros.data.synthetic import SyntheticDataset

        from hfl_ros.data.synthetic import SceneAssets, SyntheticScene

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
    return AnnotationDataset(reader, augment=augment, seed=seed, mano_layer=mano_layer)


__all__ = [
    "PROCEDURAL_MANO",
    "augmentation",
    "build_dataset",
    "build_reader",
    "resolve_mano_dir",
]
