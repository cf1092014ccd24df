"""DexYCB reader (the official dex-ycb-toolkit layout) -> FrameAnnotations, left hands mirrored to right.

Layout (facts of the published dataset and toolkit)::

    <root>/<subject>/<sequence>/meta.yml            num_frames, ycb_ids, ycb_grasp_ind, mano_sides, mano_calib
    <root>/<subject>/<sequence>/<serial>/color_XXXXXX.jpg
    <root>/<subject>/<sequence>/<serial>/labels_XXXXXX.npz
        seg (H, W) uint8: 0 background, 1-21 YCB class id, 255 hand
        pose_y (num_objects, 3, 4) camera-from-object [R | t], m; pose_m (1, 51): 3 global axis-angle,
        45 MANO PCA coefficients (mean pose not subtracted: flat_hand_mean=False), 3 translation;
        joint_3d (1, 21, 3) m camera frame, joint_2d (1, 21, 2) px (all -1 without a hand)
    <root>/calibration/intrinsics/<serial>_640x480.yml   color: {fx, fy, ppx, ppy}
    <root>/calibration/mano_<calib>/mano.yml           betas: [10]
    <root>/models/<ycb name>/textured_simple.obj | points.xyz

Joints are stored in JOINT_NAMES order. The s0 split (seen subjects, views and objects) takes, per
subject, the sorted sequences by index: train = i % 5 != 4 of all subjects; val = i % 5 == 4 of
subjects 0-1; test = i % 5 == 4 of subjects 2-9.

A left hand is mirrored to a right hand (x -> -x in the camera frame, u -> W - 1 - u in the image):
K's principal point becomes W - 1 - cx, 3D points and object poses are reflected (R -> M R M with
M = diag(-1, 1, 1), so the object model is reflected too: its control points are M @ points), and
every MANO axis-angle (x, y, z) becomes (x, -y, -z) (the left MANO model mirrors the right one).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from hfl_ros.constants import NUM_JOINTS
from hfl_ros.geometry.mirror import mirror_axis_angles, mirror_intrinsics, mirror_pixels, mirror_points, mirror_rotation
from hfl_ros.data.io import read_yaml
from hfl_ros.data.sample import FrameAnnotation, MaskRef
from hfl_ros.objects import ObjectRegistry

LOGGER = logging.getLogger(__name__)

PathLike = Union[str, Path]

SUBJECTS: Tuple[str, ...] = (
    "20200709-subject-01",
    "20200813-subject-02",
    "20200820-subject-03",
    "20200903-subject-04",
    "20200908-subject-05",
    "20200918-subject-06",
    "20200928-subject-07",
    "20201002-subject-08",
    "20201015-subject-09",
    "20201022-subject-10",
)
SERIALS: Tuple[str, ...] = (
    "836212060125",
    "839512060362",
    "840412060917",
    "841412060263",
    "932122060857",
    "932122060861",
    "932122061900",
    "932122062010",
)
YCB_CLASSES: Dict[int, str] = {
    1: "002_master_chef_can",
    2: "003_cracker_box",
    3: "004_sugar_box",
    4: "005_tomato_soup_can",
    5: "006_mustard_bottle",
    6: "007_tuna_fish_can",
    7: "008_pudding_box",
    8: "009_gelatin_box",
    9: "010_potted_meat_can",
    10: "011_banana",
    11: "019_pitcher_base",
    12: "021_bleach_cleanser",
    13: "024_bowl",
    14: "025_mug",
    15: "035_power_drill",
    16: "036_wood_block",
    17: "037_scissors",
    18: "040_large_marker",
    19: "051_large_clamp",
    20: "052_extra_large_clamp",
    21: "061_foam_brick",
}
SPLITS = ("train", "val", "test")
SEG_HAND = 255
IMAGE_SIZE = (640, 480)
#: Sequences per subject in the full dataset; the s0 split is defined on their sorted index.
SEQUENCE_PERIOD = 5
HELD_OUT_RESIDUE = 4
#: Mirror of the camera frame about its y-z plane.




def s0_selection(split: str) -> Tuple[Tuple[int, ...], Callable[[int], bool]]:
    """The s0 split: (subject indices into SUBJECTS, predicate on a sequence's sorted index)."""
    if split == "train":
        return tuple(range(len(SUBJECTS))), lambda i: i % SEQUENCE_PERIOD != HELD_OUT_RESIDUE
    if split == "val":
        return (0, 1), lambda i: i % SEQUENCE_PERIOD == HELD_OUT_RESIDUE
    if split == "test":
        return tuple(range(2, len(SUBJECTS))), lambda i: i % SEQUENCE_PERIOD == HELD_OUT_RESIDUE
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


@dataclass(frozen=True)
class ManoPCA:
    """MANO articulation PCA of one side: full articulation (45,) rad = coefficients @ components + mean.

    components: (45, 45), one component per row; mean: (45,) rad axis-angle (the model's hands_mean).
    """

    components: np.ndarray
    mean: np.ndarray

    def __post_init__(self) -> None:
        if np.shape(self.components) != (45, 45) or np.shape(self.mean) != (45,):
            raise ValueError(
                f"ManoPCA needs components (45, 45) and mean (45,), got {np.shape(self.components)} and {np.shape(self.mean)}"
            )

    def articulation(self, coefficients: np.ndarray) -> np.ndarray:
        """(45,) PCA coefficients -> (45,) rad axis-angle articulation in the flat-hand-mean convention."""
        return np.asarray(coefficients, dtype=np.float64) @ self.components + self.mean


def load_mano_pca(mano_dir: PathLike) -> Dict[str, ManoPCA]:
    """The "right" and "left" PCA of the MANO pickles (MANO_RIGHT.pkl / MANO_LEFT.pkl in `mano_dir` or
    its models/ subfolder), read with the restricted MANO loader. A missing side is left out."""
    from hfl_ros.mano.layer import resolve_mano_path
    from hfl_ros.mano.pickle_io import read_mano_pickle

    pca = {}
    for side in ("right", "left"):
        try:
            path = resolve_mano_path(mano_dir, side)
        except FileNotFoundError:
            continue
        data = read_mano_pickle(path)
        pca[side] = ManoPCA(np.array(data.hands_components), np.array(data.hands_mean))
    if not pca:
        raise FileNotFoundError(f"no MANO_RIGHT.pkl or MANO_LEFT.pkl in {mano_dir} (or its models/ folder)")
    return pca


def intrinsics_matrix(intrinsics: Dict[str, float]) -> np.ndarray:
    """(3, 3) K from a DexYCB intrinsics record {fx, fy, ppx, ppy}."""
    try:
        fx, fy, cx, cy = (float(intrinsics[key]) for key in ("fx", "fy", "ppx", "ppy"))
    except KeyError as error:
        raise ValueError(f"intrinsics record lacks {error}: {intrinsics}") from error
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class _SequenceRecord:
    folder: Path
    side: str
    betas: np.ndarray
    object_id: int
    object_index: int


class DexYCBReader(Sequence):
    """FrameAnnotations of one DexYCB s0 split, in the toolkit's order (sequence, camera, frame).

    root: the dataset folder (DEX_YCB_DIR). split: "train", "val" or "test".
    mano_dir: folder with MANO_RIGHT.pkl / MANO_LEFT.pkl, needed to turn the stored PCA coefficients
        into axis-angle poses (without it frames carry no MANO pose; joints are still read).
    models_dir: YCB-Video models folder; default `<root>/models` when it exists.
    sides: hands to keep ("right", "left" or both). mirror_left: flip left hands to right.
    Subjects or cameras missing on disk are skipped (with a log line).
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        mano_dir: Optional[PathLike] = None,
        models_dir: Optional[PathLike] = None,
        sides: Tuple[str, ...] = ("right", "left"),
        mirror_left: bool = True,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"DexYCB folder not found: {self.root}")
        self.split = split
        bad_sides = [side for side in sides if side not in ("right", "left")]
        if bad_sides or not sides:
            raise ValueError(f"sides must be a non-empty subset of ('right', 'left'), got {sides}")
        self.sides = tuple(sides)
        self.mirror_left = mirror_left
        self.pca = load_mano_pca(mano_dir) if mano_dir is not None else {}
        if models_dir is None and (self.root / "models").is_dir():
            models_dir = self.root / "models"
        self.objects = ObjectRegistry.from_models_dir(models_dir)
        self._intrinsics: Dict[str, np.ndarray] = {}
        self._betas: Dict[str, np.ndarray] = {}
        self.sequences: List[_SequenceRecord] = []
        self._index = self._build_index(split)

    def _mano_betas(self, calibration: str) -> np.ndarray:
        if calibration not in self._betas:
            path = self.root / "calibration" / f"mano_{calibration}" / "mano.yml"
            betas = np.asarray(read_yaml(path)["betas"], dtype=np.float64)
            if betas.shape != (10,):
                raise ValueError(f"{path}: betas must have 10 values, got shape {betas.shape}")
            self._betas[calibration] = betas
        return self._betas[calibration]

    def intrinsics(self, serial: str) -> np.ndarray:
        """(3, 3) K of camera `serial` (colour stream, 640 x 480), unmirrored."""
        if serial not in self._intrinsics:
            width, height = IMAGE_SIZE
            path = self.root / "calibration" / "intrinsics" / f"{serial}_{width}x{height}.yml"
            self._intrinsics[serial] = intrinsics_matrix(read_yaml(path)["color"])
        return self._intrinsics[serial]

    def _build_index(self, split: str) -> np.ndarray:
        subject_indices, keep = s0_selection(split)
        rows = []
        for subject_index in subject_indices:
            subject = self.root / SUBJECTS[subject_index]
            if not subject.is_dir():
                LOGGER.info("DexYCB %s: subject folder %s missing, skipped", split, subject)
                continue
            folders = sorted(p for p in subject.iterdir() if p.is_dir())
            for position, folder in enumerate(folders):
                if not keep(position):
                    continue
                meta = read_yaml(folder / "meta.yml")
                side = str(meta["mano_sides"][0])
                if side not in self.sides:
                    continue
                grasp = int(meta["ycb_grasp_ind"])
                record = _SequenceRecord(
                    folder=folder,
                    side=side,
                    betas=self._mano_betas(str(meta["mano_calib"][0])),
                    object_id=int(meta["ycb_ids"][grasp]),
                    object_index=grasp,
                )
                sequence_index = len(self.sequences)
                self.sequences.append(record)
                for camera_index, serial in enumerate(SERIALS):
                    if (folder / serial).is_dir():
                        frames = np.arange(int(meta["num_frames"]))
                        rows.append(np.stack((np.full_like(frames, sequence_index), np.full_like(frames, camera_index), frames), 1))
        if not rows:
            raise FileNotFoundError(f"DexYCB {split}: no frames found under {self.root}")
        return np.concatenate(rows).astype(np.int64)

    def __len__(self) -> int:
        return len(self._index)

    def frame_paths(self, index: int) -> Dict[str, Path]:
        """Paths of frame `index`: "color" and "labels"."""
        sequence_index, camera_index, frame = (int(v) for v in self._index[index])
        folder = self.sequences[sequence_index].folder / SERIALS[camera_index]
        return {"color": folder / f"color_{frame:06d}.jpg", "labels": folder / f"labels_{frame:06d}.npz"}

    def __getitem__(self, index: int) -> FrameAnnotation:
        if isinstance(index, slice):
            raise TypeError("DexYCBReader does not support slicing; index frames one at a time")
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame index {index} out of range for {len(self)} frames")
        index %= len(self)
        sequence_index, camera_index, frame = (int(v) for v in self._index[index])
        record = self.sequences[sequence_index]
        serial = SERIALS[camera_index]
        paths = self.frame_paths(index)
        with np.load(paths["labels"]) as labels:
            joints_3d = np.asarray(labels["joint_3d"], dtype=np.float64).reshape(NUM_JOINTS, 3)
            joints_2d = np.asarray(labels["joint_2d"], dtype=np.float64).reshape(NUM_JOINTS, 2)
            pose_m = np.asarray(labels["pose_m"], dtype=np.float64).reshape(-1)
            object_pose = np.asarray(labels["pose_y"], dtype=np.float64)[record.object_index]

        has_hand = not np.all(joints_3d == -1)
        pca = self.pca.get(record.side)
        mano_pose = None
        if has_hand and pca is not None:
            mano_pose = np.concatenate((pose_m[:3], pca.articulation(pose_m[3:48])))

        name = YCB_CLASSES[record.object_id]
        model = self.objects.find(name)
        rotation, translation = object_pose[:, :3], object_pose[:, 3]
        has_object = model is not None and not np.allclose(rotation, 0)
        control_points = model.control_points if has_object else None

        K = self.intrinsics(serial)
        mirrored = record.side == "left" and self.mirror_left
        if mirrored:
            width = IMAGE_SIZE[0]
            K = mirror_intrinsics(K, width)
            joints_3d = mirror_points(joints_3d)
            joints_2d = mirror_pixels(joints_2d, width)
            mano_pose = None if mano_pose is None else mirror_axis_angles(mano_pose)
            rotation, translation = mirror_rotation(rotation), mirror_points(translation)
            control_points = None if control_points is None else mirror_points(control_points)

        return FrameAnnotation(
            frame_id=f"{record.folder.parent.name}/{record.folder.name}/{serial}/{frame:06d}",
            image=str(paths["color"]),
            K=K,
            image_size=IMAGE_SIZE,
            side=record.side,
            mirrored=mirrored,
            joints_3d=joints_3d if has_hand else None,
            joints_2d=joints_2d if has_hand else None,
            mano_pose=mano_pose,
            mano_shape=record.betas if mano_pose is not None else None,
            object_name=name,
            object_rotation=rotation if has_object else None,
            object_translation=translation if has_object else None,
            object_control_points=control_points,
            object_diameter=None if model is None else model.diameter,
            hand_mask=MaskRef(str(paths["labels"]), "npz_label", SEG_HAND),
            object_mask=MaskRef(str(paths["labels"]), "npz_label", record.object_id),
        )
