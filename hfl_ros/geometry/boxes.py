"""Axis-aligned image boxes ``[x1, y1, x2, y2]`` px: overlap, squares around a box, fractions of an image."""

from typing import Sequence, Tuple

import numpy as np

from hfl_ros.geometry.checks import as_box


def box_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two boxes (4,) px, in [0, 1] (0 when both are empty)."""
    a, b = as_box(box_a, "box_a"), as_box(box_b, "box_b")
    overlap = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0.0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - overlap
    return float(overlap / union) if union > 0 else 0.0


def box_area(box: Sequence[float]) -> float:
    """Area of a box (4,) px, px^2."""
    array = as_box(box, "box")
    return float((array[2:] - array[:2]).prod())


def box_centre(box: Sequence[float]) -> np.ndarray:
    """Centre (2,) px of a box (4,) px."""
    array = as_box(box, "box")
    return (array[:2] + array[2:]) / 2


def square_around(box: Sequence[float], scale: float) -> np.ndarray:
    """The square (4,) px centred on a box (4,) px, of side `scale` x its larger side."""
    array = as_box(box, "box")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    half = scale * max(array[2] - array[0], array[3] - array[1]) / 2
    centre = (array[:2] + array[2:]) / 2
    return np.concatenate((centre - half, centre + half))


def resize_box(box: Sequence[float], size: Tuple[float, float]) -> np.ndarray:
    """The box (4,) px of width and height `size` (px) centred on `box` (4,) px."""
    centre = box_centre(box)
    half = np.asarray(size, dtype=np.float64) / 2
    return np.concatenate((centre - half, centre + half))


def fraction_box(fractions: Sequence[float], width: int, height: int) -> np.ndarray:
    """A box (4,) given as fractions of the image size -> px of a width x height image."""
    array = as_box(fractions, "fractions")
    if np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"fractions must lie in [0, 1], got {list(fractions)}")
    return array * np.array([width, height, width, height], dtype=np.float64)


def clip_box(box: Sequence[float], width: int, height: int, min_size: float = 1.0):
    """`box` (4,) px grown to at least `min_size` px per side about its centre, then clipped to the image;
    None when less than 1 px of it remains inside."""
    array = np.asarray(box, dtype=np.float64)
    if array.shape != (4,) or not np.all(np.isfinite(array)):
        return None
    centre = (array[:2] + array[2:]) / 2
    half = np.maximum((array[2:] - array[:2]) / 2, min_size / 2)
    low = np.clip(centre - half, 0.0, (width, height))
    high = np.clip(centre + half, 0.0, (width, height))
    if np.any(high - low < 1.0):
        return None
    return np.concatenate((low, high))
