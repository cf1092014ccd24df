"""One synthetic frame on disk (the bundled demo scene is one): images, masks, annotation JSON, object mesh."""

import json
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import cv2
import numpy as np

from hfl_ros.data.io import read_rgb, write_rgb
from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.objects import ObjectModel, object_model_from_mesh, read_mesh

PathLike = Union[str, Path]

#: Files of a scene written by `write_scene`.
SCENE_FILES = {
    "image": "rgb.png",
    "hand_mask": "hand_mask.png",
    "object_mask": "object_mask.png",
    "annotation": "annotation.json",
    "object_mesh": "object.obj",
}


_JSON_ARRAYS = (
    "K", "joints_3d", "root_3d", "mano_pose", "mano_shape", "vertices_3d",
    "object_rotation", "object_translation", "object_control_points",
)


def write_scene(
    directory: PathLike,
    image: np.ndarray,
    annotation: FrameAnnotation,
    masks: Dict[str, np.ndarray],
    object_model: Optional[ObjectModel] = None,
) -> Dict[str, Path]:
    """Store one frame: rgb.png, hand_mask.png, object_mask.png (0/255), annotation.json (K, joints,
    MANO, object pose ... as lists, m / px / rad) and, given the model, object.obj (object frame, m).
    Returns the written paths by SCENE_FILES key."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {key: directory / name for key, name in SCENE_FILES.items()}
    write_rgb(paths["image"], image)
    for key in ("hand", "object"):
        cv2.imwrite(str(paths[f"{key}_mask"]), masks[key].astype(np.uint8) * 255)
    record = {"frame_id": annotation.frame_id, "image_size": list(annotation.image_size), "side": annotation.side,
              "object_name": annotation.object_name, "object_diameter": annotation.object_diameter}
    for name in _JSON_ARRAYS:
        value = getattr(annotation, name)
        record[name] = None if value is None else np.asarray(value).tolist()
    paths["annotation"].write_text(json.dumps(record, indent=1))
    if object_model is not None and len(object_model.faces):
        lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in object_model.vertices]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in object_model.faces]
        paths["object_mesh"].write_text("\n".join(lines) + "\n")
    else:
        paths.pop("object_mesh")
    return paths


def read_scene(directory: PathLike) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """Read a frame stored by `write_scene`: (image, FrameAnnotation (image and masks as arrays), masks)."""
    directory = Path(directory)
    record = json.loads((directory / SCENE_FILES["annotation"]).read_text())
    image = read_rgb(directory / SCENE_FILES["image"])
    masks = {}
    for key in ("hand", "object"):
        mask = cv2.imread(str(directory / SCENE_FILES[f"{key}_mask"]), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise FileNotFoundError(f"cannot read {directory / SCENE_FILES[key + '_mask']}")
        masks[key] = mask > 127
    arrays = {name: None if record.get(name) is None else np.asarray(record[name], dtype=np.float64) for name in _JSON_ARRAYS}
    annotation = FrameAnnotation(
        frame_id=record["frame_id"],
        image=image,
        image_size=tuple(record["image_size"]),
        side=record.get("side", "right"),
        object_name=record.get("object_name"),
        object_diameter=record.get("object_diameter"),
        hand_mask=masks["hand"],
        object_mask=masks["object"],
        **arrays,
    )
    return image, annotation, masks


def read_scene_object(directory: PathLike) -> Optional[ObjectModel]:
    """The ObjectModel stored beside a scene by `write_scene` (None when it has no object.obj)."""
    directory = Path(directory)
    path = directory / SCENE_FILES["object_mesh"]
    if not path.is_file():
        return None
    name = json.loads((directory / SCENE_FILES["annotation"]).read_text()).get("object_name") or "object"
    return object_model_from_mesh(name, *read_mesh(path))
