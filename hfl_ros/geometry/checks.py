"""Argument checks and numpy/torch conversions of the geometry functions, in one place.

Shapes are written as in kornia's ``KORNIA_CHECK_SHAPE``: comma-separated dimensions, where an integer is
an exact size, a name (``N``, ``B``) any size (the same name twice must be the same size) and a leading
``*`` any number of leading batch dimensions::

    check_shape(points, "*,N,3", "points")    # (..., N, 3)
    check_shape(K, "3,3", "K")                # exactly (3, 3)
    check_shape(uv, (len(ids), 2), "uv_px")   # a tuple of sizes and names works too

A mismatch is a ValueError naming the argument, the expected and the actual shape.

Conversions happen once, at the edge of a public function:

* ``as_numpy``: anything numpy can read (array, tensor, nested sequence) -> float64 ndarray, with optional
  shape and finiteness checks, for the functions that compute in numpy;
* ``check_array`` + ``as_type_of``: for the functions that accept numpy or torch and answer in the type of
  their first argument; that argument must be an array (its type decides the result's), the others
  follow it;
* ``as_tensor``: numpy or torch -> tensor, for the functions that compute in torch.
"""

from functools import lru_cache
from typing import Dict, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]
Shape = Union[str, Sequence[Union[int, str]]]

_ANY_BATCH = "*"


@lru_cache(maxsize=256)
def _parse(shape: Union[str, Tuple[Union[int, str], ...]]) -> Tuple[bool, Tuple[Union[int, str], ...]]:
    """(leading batch allowed, the fixed trailing dimensions) of a shape written as a string or a tuple."""
    items = [item.strip() for item in shape.split(",")] if isinstance(shape, str) else list(shape)
    dims = tuple(int(item) if isinstance(item, str) and item.isdigit() else item for item in items)
    batched = bool(dims) and dims[0] == _ANY_BATCH
    fixed = dims[1:] if batched else dims
    if _ANY_BATCH in fixed:
        raise ValueError(f"shape {shape!r}: {_ANY_BATCH!r} may only come first")
    return batched, fixed


def _written(batched: bool, fixed: Tuple[Union[int, str], ...]) -> str:
    return "(" + ", ".join((["..."] if batched else []) + [str(dim) for dim in fixed]) + ")"


def check_shape(value: Union[np.ndarray, torch.Tensor], shape: Shape, name: str) -> Dict[str, int]:
    """Raise ValueError unless ``value.shape`` matches ``shape`` (see the module docstring).

    value: numpy array or torch tensor. name: the argument's name, for the message.
    Returns the size bound to each named dimension, e.g. ``{"N": 21}`` for ``"*,N,3"``.
    """
    if not hasattr(value, "shape"):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
    batched, fixed = _parse(shape if isinstance(shape, str) else tuple(shape))
    actual = tuple(value.shape)
    if len(actual) < len(fixed) or (not batched and len(actual) != len(fixed)):
        raise ValueError(f"{name} must have shape {_written(batched, fixed)}, got {actual}")
    sizes: Dict[str, int] = {}
    for want, got in zip(fixed, actual[len(actual) - len(fixed):]):
        expected = want if isinstance(want, int) else sizes.setdefault(want, got)
        if got != expected:
            raise ValueError(f"{name} must have shape {_written(batched, fixed)}, got {actual}")
    return sizes


def check_finite(value: Union[np.ndarray, torch.Tensor], name: str) -> None:
    """Raise ValueError naming ``name`` unless every entry of ``value`` is finite."""
    finite = bool(torch.isfinite(value).all()) if isinstance(value, torch.Tensor) else bool(np.isfinite(value).all())
    if not finite:
        raise ValueError(f"{name} must be finite, got {value}")


def check_array(value: object, name: str, shape: Optional[Shape] = None) -> None:
    """Raise TypeError unless ``value`` is a numpy array or a floating-point torch tensor; then check its shape."""
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
    if isinstance(value, torch.Tensor) and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if shape is not None:
        check_shape(value, shape, name)


def as_numpy(
    value: ArrayLike, name: str, shape: Optional[Shape] = None, finite: bool = False, dtype=np.float64,
) -> np.ndarray:
    """``value`` (array, tensor or nested sequence) as a numpy array of ``dtype`` (None: keep its own).

    shape: check it (``check_shape``); finite: require finite entries. Errors name ``name``.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be array-like, got {type(value).__name__}: {error}") from None
    if shape is not None:
        check_shape(array, shape, name)
    if finite:
        check_finite(array, name)
    return array


def as_box(box: ArrayLike, name: str) -> np.ndarray:
    """A box ``[x1, y1, x2, y2]`` px as float64 (4,), checked: finite, x1 <= x2 and y1 <= y2."""
    array = as_numpy(box, name, shape="4", finite=True)
    if array[2] < array[0] or array[3] < array[1]:
        raise ValueError(f"{name} must satisfy x1 <= x2 and y1 <= y2, got {array}")
    return array


def as_type_of(value: ArrayLike, reference: ArrayT) -> ArrayT:
    """``value`` as the array type of ``reference``: for torch its dtype and device; for numpy at least float32."""
    if isinstance(reference, torch.Tensor):
        if not isinstance(value, torch.Tensor):
            value = np.asarray(value)
        return torch.as_tensor(value, dtype=reference.dtype, device=reference.device)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.result_type(reference.dtype, np.float32))


def as_tensor(value: Union[np.ndarray, torch.Tensor], name: str) -> torch.Tensor:
    """A numpy array (as float64) or a tensor (a non-floating one as float64) as a floating-point tensor.

    Raises TypeError naming ``name`` for anything else.
    """
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.asarray(value, dtype=np.float64))
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.double()
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(value).__name__}")
