"""File readers shared by the dataset modules: images, masks and YAML (pickles: `hfl_ros.restricted_pickle`)."""

from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np
import yaml

PathLike = Union[str, Path]


def read_yaml(path: PathLike) -> Any:
    """Parse a YAML file with the safe loader."""
    with open(path, "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def read_rgb(path: PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB. Raises FileNotFoundError when unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_rgb(path: PathLike, image: np.ndarray) -> None:
    """Write (H, W, 3) uint8 RGB to a PNG/JPEG file (format from the suffix)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write image {path}")


def read_unchanged(path: PathLike) -> np.ndarray:
    """Read an image file without conversion: (H, W) or (H, W, C) in the file's BGR channel order."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return image
