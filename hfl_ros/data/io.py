"""File readers shared by the dataset modules: images, masks, YAML and allow-listed pickles."""

import io
import pickle
from pathlib import Path
from typing import Any, Dict, Tuple, Union

import cv2
import numpy as np
import yaml

PathLike = Union[str, Path]


def _codecs_encode(text: str, encoding: str = "latin1") -> bytes:
    """_codecs.encode as protocol-2 pickles use it to store bytes (latin-1 only)."""
    if encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _allowed_globals() -> Dict[Tuple[str, str], Any]:
    """(module, name) -> object for every global a dataset pickle may reference: numpy arrays, dtypes,
    scalars and bytes. The numpy helpers are taken from numpy's own reductions, whatever their module."""
    reconstruct = np.empty(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    allowed: Dict[Tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _codecs_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


#: Any other global (functions, arbitrary classes) is refused before it is imported.
_PICKLE_ALLOWED = _allowed_globals()


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _PICKLE_ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a dataset pickle")
        return found


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
