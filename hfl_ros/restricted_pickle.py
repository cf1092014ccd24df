"""Loading pickles without executing what they name: an unpickler that resolves only allow-listed globals.

`NUMPY_GLOBALS` admits numpy arrays, dtypes and scalars (under numpy's old and new module paths) and
bytes stored by protocol-2 pickles (`_codecs.encode`, latin-1 only); builtins need no globals. Readers of
richer files (the MANO models) extend the allow-list. Any other global raises `pickle.UnpicklingError`
naming the file and `module.name`, before anything is imported.
"""

import io
import pickle
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple, Union

import numpy as np

PathLike = Union[str, Path]
AllowList = Mapping[Tuple[str, str], Any]


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """_codecs.encode as protocol-2 pickles use it to store bytes (latin-1 only)."""
    if encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_globals() -> Dict[Tuple[str, str], Any]:
    """The numpy helpers are taken from numpy's own reductions, whatever module they live in."""
    reconstruct = np.empty(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    allowed: Dict[Tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return allowed


#: (module, name) -> object for numpy arrays, dtypes, scalars and protocol-2 bytes.
NUMPY_GLOBALS: Mapping[Tuple[str, str], Any] = _numpy_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler resolving only the globals of `allowed` ((module, name) -> object); Python-2 strings are
    decoded as latin-1. `source` names the file in errors."""

    def __init__(self, file: Any, allowed: AllowList, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self._allowed = allowed
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{self._source}: refusing to load global {module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"{self._source}: refusing persistent id {pid!r}")


def load_restricted(path: PathLike, allowed: AllowList = NUMPY_GLOBALS) -> Any:
    """Unpickle file `path` admitting only the globals of `allowed` (default: numpy arrays and scalars).

    Raises FileNotFoundError naming a missing file, pickle.UnpicklingError naming any other global.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pickle file not found: {path}")
    return RestrictedUnpickler(io.BytesIO(path.read_bytes()), allowed, str(path)).load()
