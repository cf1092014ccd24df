"""File readers shared by the dataset modules: images, masks, YAML and allow-listed pickles."""

import io
import pickle
from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Union

import cv2
import numpy as np
import yaml

PathLike = Union[str, Path]


def _numpy_reconstruct() -> Callable:
    from numpy._core import multiarray

    return multiarray._reconstruct


def _numpy_scalar() -> Callable:
    from numpy._core import multiarray

    return multiarray.scalar


def _numpy_frombuffer() -> Callable:
    from numpy._core import numeric

    return numeric._frombuffer


def _codecs_encode() -> Callable:
    import codecs

    return codecs.encode


#: (module, name) pairs a dataset pickle may reference: numpy arrays, dtypes, scalars and bytes.
#: Any other global (functions, arbitrary classes) is refused before it is imported.
_PICKLE_ALLOWED: Dict[Tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("_codecs", "encode"): _codecs_encode,
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        factory = _PICKLE_ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a dataset pickle")
        return factory()


def load_pickle(path: PathLike) -> Any:
    """Load a dataset pickle admitting only builtins and numpy arrays/scalars.

    Python 2 pickles (HO3D v2) are read with latin1 decoding of 8-bit strings.
    Raises pickle.UnpicklingError when the file references any other global.
    """
    data = Path(path).read_bytes()
    return _AllowListUnpickler(io.BytesIO(data), encoding="latin1").load()


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
