"""Object control points (HFL-Net's 21-point box layout) and object diameter."""

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from hfl_ros.constants import CONTROL_POINT_LAYOUT
from hfl_ros.geometry.checks import ArrayLike, as_numpy

#: Diameter conventions accepted by ``object_diameter``.
DIAMETER_BOX_DIAGONAL = "box_diagonal"
DIAMETER_MAX_DISTANCE = "max_distance"

#: Upper bound on the number of squared distances held at once by the brute-force fallback.
_PAIRWISE_BUDGET = 4_000_000


def _points(points: ArrayLike) -> np.ndarray:
    """(N, 3) float64, N >= 1, finite."""
    array = as_numpy(points, "points", shape="N,3", finite=True)
    if len(array) == 0:
        raise ValueError(f"points must hold at least one point, got shape {array.shape}")
    return array


def control_points_from_points(points: ArrayLike) -> np.ndarray:
    """The 21 control points of an object: corners, edge midpoints and centre of its axis-aligned 3D box.

    points: (N, 3) m, object frame (model vertices or a point cloud).
    Returns (21, 3) m, object frame, in CONTROL_POINT_LAYOUT order (centre last).
    """
    array = _points(points)
    low, high = array.min(axis=0), array.max(axis=0)
    layout = np.asarray(CONTROL_POINT_LAYOUT, dtype=np.float64)
    return low + layout * (high - low)


def object_diameter(points: ArrayLike, method: str = DIAMETER_BOX_DIAGONAL) -> float:
    """Diameter of an object model, m.

    points: (N, 3) m, object frame.
    method: ``"box_diagonal"`` (default) = diagonal of the axis-aligned box of the points, the diameter
        HFL-Net's published evaluation uses for ADD-0.1D; ``"max_distance"`` = the largest distance between
        two points (the usual BOP/LineMOD definition; exact, via the convex hull).
    """
    array = _points(points)
    if method == DIAMETER_BOX_DIAGONAL:
        return float(np.linalg.norm(array.max(axis=0) - array.min(axis=0)))
    if method == DIAMETER_MAX_DISTANCE:
        return _max_pairwise_distance(_hull_vertices(array))
    raise ValueError(f"method must be {DIAMETER_BOX_DIAGONAL!r} or {DIAMETER_MAX_DISTANCE!r}, got {method!r}")


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """Points on the convex hull (the farthest pair always lies there).

    Flat or collinear sets are hulled with Qhull's joggle option; sets too small to hull are returned whole.
    """
    unique = np.unique(points, axis=0)
    if len(unique) < 5:
        return unique
    try:
        return unique[ConvexHull(unique).vertices]
    except QhullError:
        try:
            return unique[ConvexHull(unique, qhull_options="QJ").vertices]
        except QhullError:
            return unique


def _max_pairwise_distance(points: np.ndarray) -> float:
    best = 0.0
    rows = max(1, _PAIRWISE_BUDGET // len(points))
    for start in range(0, len(points), rows):
        block = points[start:start + rows]
        squared = ((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
        best = max(best, float(squared.max()))
    return float(np.sqrt(best))
