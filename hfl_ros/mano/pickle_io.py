"""The official MANO model pickles (``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``): a restricted reader and a writer.

The released files are Python-2 pickles of a dict. Some values are chumpy expressions
(``chumpy.ch.Ch`` holding an array in its state key ``x``; ``chumpy.reordering.Select`` picking
``a.ravel()[idxs]`` reshaped to ``preferred_shape``) and ``J_regressor`` is a scipy sparse matrix.
This module reads them without chumpy installed and without executing anything the pickle names:
:class:`_MANOUnpickler` (a `hfl_ros.restricted_pickle.RestrictedUnpickler`) resolves only an allow-list
of globals, every chumpy and scipy class is replaced by an inert stand-in that records its state, and the
stand-ins are evaluated to plain numpy arrays afterwards. Any other global raises :class:`pickle.UnpicklingError`.

`write_mano_pickle` stores model arrays in the same layout (chumpy values included, without chumpy).
"""

import copyreg
import io
import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import scipy.sparse

from hfl_ros.constants import MANO_PARENTS, NUM_BETAS, NUM_HAND_POSE, NUM_MANO_FACES, NUM_MANO_JOINTS, NUM_MANO_VERTICES
from hfl_ros.restricted_pickle import NUMPY_GLOBALS, RestrictedUnpickler

LOGGER = logging.getLogger(__name__)

#: Pose-blend feature size: 15 non-root rotation matrices minus identity, flattened.
NUM_POSE_FEATURES = (NUM_MANO_JOINTS - 1) * 9

#: Expected shape of every array the layer needs.
EXPECTED_SHAPES: Dict[str, Tuple[int, ...]] = {
    "v_template": (NUM_MANO_VERTICES, 3),
    "shapedirs": (NUM_MANO_VERTICES, 3, NUM_BETAS),
    "posedirs": (NUM_MANO_VERTICES, 3, NUM_POSE_FEATURES),
    "J_regressor": (NUM_MANO_JOINTS, NUM_MANO_VERTICES),
    "weights": (NUM_MANO_VERTICES, NUM_MANO_JOINTS),
    "f": (NUM_MANO_FACES, 3),
    "kintree_table": (2, NUM_MANO_JOINTS),
    "hands_components": (NUM_HAND_POSE, NUM_HAND_POSE),
    "hands_mean": (NUM_HAND_POSE,),
}
#: Arrays read when present, with their shape (None = any length).
OPTIONAL_SHAPES: Dict[str, Tuple[Optional[int], ...]] = {
    "J": (NUM_MANO_JOINTS, 3),
    "hands_coeffs": (None, NUM_HAND_POSE),
}
#: The only blend-shape conventions the torch layer implements.
SUPPORTED_BS_TYPE = "lrotmin"
SUPPORTED_BS_STYLE = "lbs"


@dataclass(frozen=True)
class ManoModelData:
    """Plain-array content of a MANO model file (arrays are read-only).

    v_template: (778, 3) m, MANO canonical frame; shapedirs: (778, 3, 10) m per unit beta;
    posedirs: (778, 3, 135) m per unit of the (R - I) pose feature; J_regressor: (16, 778) dense;
    weights: (778, 16) skinning weights; faces: (1538, 3) int64 vertex indices;
    kintree_table: (2, 16) int64, row 0 parents (root entry unused), row 1 joint ids;
    hands_components: (45, 45) PCA basis, one component per row; hands_mean: (45,) rad axis-angle;
    hands_coeffs: (N, 45) or None; joints: (16, 3) m template joints ("J") or None.
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    kintree_table: np.ndarray
    hands_components: np.ndarray
    hands_mean: np.ndarray
    hands_coeffs: Optional[np.ndarray]
    joints: Optional[np.ndarray]
    bs_type: Optional[str]
    bs_style: Optional[str]
    source: str


# ----------------------------------------------------------------------------------------------
# Inert stand-ins for the classes a MANO pickle names.


class _StandIn:
    """Base of every stand-in: created empty, keeps the pickled state for later evaluation."""

    kind = ""
    state: Any = None  # set by __setstate__; NEWOBJ creates instances without __init__

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.kind}: expected a dict state, got {type(state).__name__}")
        self.state = state


class _ChumpyCh(_StandIn):
    """chumpy.ch.Ch: a leaf holding an array under state key ``x``."""

    kind = "chumpy.ch.Ch"


class _ChumpySelect(_StandIn):
    """chumpy.reordering.Select: ``a.ravel()[idxs]``, reshaped to ``preferred_shape`` if given."""

    kind = "chumpy.reordering.Select"


class _SparseCsc(_StandIn):
    kind = "scipy.sparse.csc_matrix"


class _SparseCsr(_StandIn):
    kind = "scipy.sparse.csr_matrix"


_STAND_INS = (_ChumpyCh, _ChumpySelect, _SparseCsc, _SparseCsr)
_SPARSE_CLASSES = {"csc_matrix": _SparseCsc, "csr_matrix": _SparseCsr}


def _safe_reconstructor(cls: type, base: type, state: Any) -> _StandIn:
    """copy_reg._reconstructor restricted to the stand-ins (protocol 0/1 object creation)."""
    if cls not in _STAND_INS or base is not object or state is not None:
        raise pickle.UnpicklingError(f"refusing _reconstructor({cls!r}, {base!r}, {state!r})")
    return cls()


def _mano_globals() -> Dict[Tuple[str, str], Any]:
    """NUMPY_GLOBALS plus the chumpy stand-ins and the builtins their protocol-0/2 creation names."""
    allowed: Dict[Tuple[str, str], Any] = dict(NUMPY_GLOBALS)
    allowed[("chumpy.ch", "Ch")] = _ChumpyCh
    allowed[("chumpy.reordering", "Select")] = _ChumpySelect
    for module in ("copy_reg", "copyreg"):
        allowed[(module, "_reconstructor")] = _safe_reconstructor
    for module in ("__builtin__", "builtins"):
        allowed[(module, "object")] = object
        allowed[(module, "set")] = set
    return allowed


_MANO_GLOBALS = _mano_globals()


class _MANOUnpickler(RestrictedUnpickler):
    """The restricted unpickler with the MANO allow-list, plus the sparse stand-ins under any
    scipy.sparse module path (scipy has moved its matrix classes between private modules)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name in _SPARSE_CLASSES:
            return _SPARSE_CLASSES[name]
        return super().find_class(module, name)


# ----------------------------------------------------------------------------------------------
# Evaluation of the stand-ins.


def _state_item(node: _StandIn, key: str) -> Any:
    if node.state is None or key not in node.state:
        raise pickle.UnpicklingError(f"{node.kind} state lacks {key!r}")
    return node.state[key]


def _evaluate_select(node: _StandIn) -> np.ndarray:
    source = np.asarray(_evaluate(_state_item(node, "a")))
    selected = source.ravel()[np.asarray(_evaluate(_state_item(node, "idxs")), dtype=np.int64)]
    if "preferred_shape" in node.state:
        return selected.reshape(tuple(node.state["preferred_shape"]))
    return selected


def _evaluate_sparse(node: _StandIn) -> scipy.sparse.spmatrix:
    state = node.state if node.state is not None else {}
    shape = state.get("_shape", state.get("shape"))
    if shape is None:
        raise pickle.UnpicklingError(f"{node.kind} state lacks its shape")
    parts = tuple(np.asarray(_state_item(node, key)) for key in ("data", "indices", "indptr"))
    matrix_class = scipy.sparse.csc_matrix if isinstance(node, _SparseCsc) else scipy.sparse.csr_matrix
    return matrix_class(parts, shape=tuple(int(n) for n in shape))


_EVALUATORS: Dict[type, Callable[[Any], Any]] = {
    _ChumpyCh: lambda node: _evaluate(_state_item(node, "x")),
    _ChumpySelect: _evaluate_select,
    _SparseCsc: _evaluate_sparse,
    _SparseCsr: _evaluate_sparse,
}


def _evaluate(value: Any) -> Any:
    """A stand-in as the value its class computes (chumpy -> ndarray, sparse -> scipy); others unchanged."""
    evaluator = _EVALUATORS.get(type(value))
    return value if evaluator is None else evaluator(value)


def load_mano_dict(path: Union[str, Path]) -> Dict[str, Any]:
    """Unpickle a MANO model file with the restricted loader; chumpy values become ndarrays.

    Raises FileNotFoundError if ``path`` is not a file, pickle.UnpicklingError for any global
    outside the allow-list, ValueError if the pickle does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MANO model file not found: {path}")
    with path.open("rb") as handle:
        raw = _MANOUnpickler(handle, _MANO_GLOBALS, str(path)).load()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a dict of MANO arrays, got {type(raw).__name__}")
    content = {}
    for key, value in raw.items():
        try:
            content[str(key)] = _evaluate(value)
        except (pickle.UnpicklingError, ValueError, IndexError, TypeError) as error:
            raise pickle.UnpicklingError(f"{path}: cannot evaluate key {key!r}: {error}") from error
    return content


# ----------------------------------------------------------------------------------------------
# Validation into ManoModelData.


def _as_array(content: Dict[str, Any], key: str, source: Path) -> np.ndarray:
    value = content[key]
    if scipy.sparse.issparse(value):
        value = value.toarray()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{source}: key {key!r} is not numeric (dtype {array.dtype}, type {type(value).__name__})")
    return array


def _check_shape(array: np.ndarray, key: str, expected: Tuple[Optional[int], ...], source: Path) -> None:
    matches = array.ndim == len(expected) and all(e is None or e == n for e, n in zip(expected, array.shape))
    if not matches:
        shown = tuple("N" if e is None else e for e in expected)
        raise ValueError(f"{source}: key {key!r} has shape {array.shape}, expected {shown}")


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)  # own copy, so freezing it cannot affect the caller
    array.setflags(write=False)
    return array


def _float_array(content: Dict[str, Any], key: str, expected: Tuple[Optional[int], ...], source: Path) -> np.ndarray:
    array = _as_array(content, key, source)
    _check_shape(array, key, expected, source)
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{source}: key {key!r} holds non-finite values")
    return _read_only(array)


def _optional_text(content: Dict[str, Any], key: str) -> Optional[str]:
    value = content.get(key)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def _check_topology(faces: np.ndarray, kintree: np.ndarray, source: Path) -> None:
    if faces.min() < 0 or faces.max() >= NUM_MANO_VERTICES:
        raise ValueError(
            f"{source}: key 'f' has vertex indices in [{faces.min()}, {faces.max()}], expected [0, {NUM_MANO_VERTICES - 1}]"
        )
    parents = tuple(int(p) for p in kintree[0, 1:])
    ids = tuple(int(i) for i in kintree[1])
    if parents != MANO_PARENTS[1:] or ids != tuple(range(NUM_MANO_JOINTS)):
        raise ValueError(
            f"{source}: key 'kintree_table' is {kintree.tolist()}, expected parents {list(MANO_PARENTS[1:])} "
            f"for joints 1-15 and joint ids 0-15"
        )


def read_mano_pickle(path: Union[str, Path]) -> ManoModelData:
    """Read and validate an official-layout MANO pickle without chumpy.

    path: ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (or a file in the same layout).
    Returns float64 arrays (faces and kintree_table int64), J_regressor dense.
    Raises FileNotFoundError, pickle.UnpicklingError (a global outside the allow-list, naming
    module.class and the file) or ValueError (missing key or wrong shape, naming the key, the
    expected and the actual shape and the file).
    """
    source = Path(path)
    content = load_mano_dict(source)
    missing = [key for key in EXPECTED_SHAPES if key not in content]
    if missing:
        raise ValueError(f"{source}: missing keys {missing} (found {sorted(content)})")
    arrays = {key: _float_array(content, key, shape, source) for key, shape in EXPECTED_SHAPES.items()
              if key not in ("f", "kintree_table")}
    faces = _as_array(content, "f", source)
    _check_shape(faces, "f", EXPECTED_SHAPES["f"], source)
    kintree = _as_array(content, "kintree_table", source)
    _check_shape(kintree, "kintree_table", EXPECTED_SHAPES["kintree_table"], source)
    faces, kintree = faces.astype(np.int64), kintree.astype(np.int64)
    _check_topology(faces, kintree, source)
    optional = {key: _float_array(content, key, shape, source) if key in content else None
                for key, shape in OPTIONAL_SHAPES.items()}
    bs_type, bs_style = _optional_text(content, "bs_type"), _optional_text(content, "bs_style")
    if bs_type not in (None, SUPPORTED_BS_TYPE) or bs_style not in (None, SUPPORTED_BS_STYLE):
        raise ValueError(
            f"{source}: bs_type={bs_type!r}, bs_style={bs_style!r}; only "
            f"{SUPPORTED_BS_TYPE!r} / {SUPPORTED_BS_STYLE!r} are supported"
        )
    LOGGER.debug("read MANO model %s (%d keys)", source, len(content))
    return ManoModelData(
        v_template=arrays["v_template"],
        shapedirs=arrays["shapedirs"],
        posedirs=arrays["posedirs"],
        J_regressor=arrays["J_regressor"],
        weights=arrays["weights"],
        faces=_read_only(faces),
        kintree_table=_read_only(kintree),
        hands_components=arrays["hands_components"],
        hands_mean=arrays["hands_mean"],
        hands_coeffs=optional["hands_coeffs"],
        joints=optional["J"],
        bs_type=bs_type,
        bs_style=bs_style,
        source=str(source),
    )


# ----------------------------------------------------------------------------------------------
# Writing the official layout.

#: Protocol of the written files (the official files are Python-2 era pickles).
PICKLE_PROTOCOL = 2
#: The state chumpy's Ch.__getstate__ leaves besides the array (weak references removed).
_CH_BOOKKEEPING = (("_dirty_vars", set), ("_itr", lambda: None), ("_depends_on_deps", dict),
                   ("_make_dense", lambda: False), ("_make_sparse", lambda: False))


class _ChNode:
    """Written as chumpy.ch.Ch through copy_reg._reconstructor, holding ``x`` in its state."""

    def __init__(self, array: np.ndarray) -> None:
        self.state = {"x": np.asarray(array, dtype=np.float64)}
        self.state.update((key, factory()) for key, factory in _CH_BOOKKEEPING)

    def __reduce__(self) -> tuple:
        return copyreg._reconstructor, (type(self), object, None), self.state


class _SelectNode:
    """Written as chumpy.reordering.Select (protocol-2 NEWOBJ): ``a.ravel()[idxs]`` reshaped."""

    def __init__(self, source: _ChNode, indices: np.ndarray, shape: Tuple[int, ...]) -> None:
        self.state = {"a": source, "idxs": np.asarray(indices, dtype=np.int64), "preferred_shape": tuple(shape)}
        self.state.update((key, factory()) for key, factory in _CH_BOOKKEEPING)

    def __reduce__(self) -> tuple:
        return copyreg.__newobj__, (type(self),), self.state


#: (module, name) each writer class is stored under.
_CHUMPY_NAMES = {_ChNode: ("chumpy.ch", "Ch"), _SelectNode: ("chumpy.reordering", "Select")}


class _ChumpyNamingPickler(pickle._Pickler):
    """The pure-Python pickler, storing the writer classes under chumpy's names: no chumpy module needs
    to exist, and nothing in sys.modules changes."""

    def save_global(self, obj: Any, name: Optional[str] = None) -> None:
        names = _CHUMPY_NAMES.get(obj)
        if names is None:
            super().save_global(obj, name)
            return
        self.write(pickle.GLOBAL + "{}\n{}\n".format(*names).encode("ascii"))
        self.memoize(obj)


def _select_of(shapedirs: np.ndarray) -> _SelectNode:
    """shapedirs (778, 3, 10) as a Select over a wider (778, 3, 20) Ch, as the official files store it."""
    wide = np.concatenate((shapedirs, np.zeros_like(shapedirs)), axis=2)
    indices = np.arange(wide.size).reshape(wide.shape)[:, :, : shapedirs.shape[2]].reshape(-1)
    return _SelectNode(_ChNode(wide), indices, shapedirs.shape)


def mano_pickle_bytes(arrays: Mapping[str, Any]) -> bytes:
    """A MANO model in the official pickle layout: protocol-2 dict with the official keys, J_regressor a
    scipy.sparse.csc_matrix, v_template and posedirs as ``chumpy.ch.Ch`` and shapedirs as a
    ``chumpy.reordering.Select`` over a Ch, so that readers exercise their chumpy handling.

    arrays: keyed like the official file (v_template, shapedirs, posedirs, J_regressor (dense), weights,
    f, J, kintree_table, hands_components, hands_mean, hands_coeffs, bs_type, bs_style). Same bytes for
    the same arrays.
    """
    content = {
        "hands_components": arrays["hands_components"],
        "f": arrays["f"],
        "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"]),
        "kintree_table": arrays["kintree_table"],
        "J": arrays["J"],
        "bs_style": arrays["bs_style"],
        "hands_coeffs": arrays["hands_coeffs"],
        "weights": arrays["weights"],
        "posedirs": _ChNode(arrays["posedirs"]),
        "hands_mean": arrays["hands_mean"],
        "v_template": _ChNode(arrays["v_template"]),
        "shapedirs": _select_of(arrays["shapedirs"]),
        "bs_type": arrays["bs_type"],
    }
    stream = io.BytesIO()
    _ChumpyNamingPickler(stream, protocol=PICKLE_PROTOCOL).dump(content)
    return stream.getvalue()


def write_mano_pickle(path: Union[str, Path], arrays: Mapping[str, Any]) -> Path:
    """Write `mano_pickle_bytes(arrays)` to `path` (atomically; left untouched when it already holds
    those bytes) and return the path."""
    path = Path(path)
    data = mano_pickle_bytes(arrays)
    if path.is_file() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    LOGGER.debug("wrote MANO model file %s", path)
    return path
