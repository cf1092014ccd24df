"""Offline filtering of a trajectory (one JSON record per frame) and its export as NumPy arrays.

A record is `hfl_ros.results.estimate_to_dict`'s dict plus the frame's stamp (seconds, under
`stamp_key`); "hand" or "object" may be null for a frame without them. The raw keys stay as they are;
filtering adds (values rounded like the raw ones, metres):

    record["hand"]["filtered"]   = {"joints": 21x3 camera frame, "joints_wrist": 21x3 wrist frame,
                                    "wrist_pose": 4x4 camera-from-wrist, "gated": bool, "reset": str|null}
    record["object"]["filtered"] = {"pose": 4x4 camera-from-object, "gated": bool, "reset": str|null}
                                   (null when the object has no pose this frame)
    record["gated"]              = hand or object held back by the gate this frame

With filtering off every "filtered" and "gated" is null. A gated frame carries the held pose.

API for a writer such as `hfl-video`:
- `with_filtered(record, frame)`: the record with the fields above (frame None = filtering off).
- `observations_from_record(record, where)`: a record's hand and object as filter observations.
- `filter_records(records, settings, stamp_key)`: filter a whole trajectory, in order.
- `read_trajectory(path)`: the records of a `trajectory.jsonl`, errors naming the file and line.
- `trajectory_arrays(records, stamp_key)` / `save_trajectory_npz(path, records, stamp_key)`: arrays.
"""

import copy
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from hfl_ros.constants import JOINT_NAMES, NUM_JOINTS, SIDES
from hfl_ros.filtering.hand_object import FilteredFrame, HandObjectFilter, HandObservation, ObjectObservation
from hfl_ros.filtering.track import FilterSettings
from hfl_ros.retargeting import joints_in_wrist_frame

Record = Dict[str, Any]
PathLike = Union[str, Path]
#: Decimals kept in the JSON values (as `estimate_to_dict`: micrometres).
DECIMALS = 6


def _listed(array: np.ndarray) -> list:
    return np.round(np.asarray(array, dtype=np.float64), DECIMALS).tolist()


def _array(value: Any, where: str, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {name} is not numeric ({error})") from error
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {name} must be finite with shape {shape}, got {value!r:.80}")
    return array


def _part(record: Record, where: str, *keys: str) -> Optional[Dict[str, Any]]:
    """record[keys[0]][keys[1]]...: a mapping, or None where the record has null (or nothing) there."""
    value: Any = record
    for depth, key in enumerate(keys):
        value = value.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError(f"{where}: {'.'.join(keys[:depth + 1])} must be a JSON object or null, "
                             f"got {type(value).__name__}")
    return value


def _stamp(record: Record, where: str, stamp_key: str) -> float:
    stamp = record.get(stamp_key) if isinstance(record, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not np.isfinite(stamp):
        raise ValueError(f"{where}: {stamp_key!r} must be a finite number of seconds, got {stamp!r}")
    return float(stamp)


def observations_from_record(record: Record, where: str = "record") -> Tuple[
        Optional[HandObservation], Optional[ObjectObservation]]:
    """The raw hand and object pose of a record; None for a null hand or an object without a pose.
    Raises ValueError naming `where` and the bad key."""
    hand_part, object_part = _part(record, where, "hand"), _part(record, where, "object")
    hand = None
    if hand_part is not None:
        hand = HandObservation(str(hand_part.get("side", "right")),
                               _array(hand_part.get("joints"), where, "hand.joints", (NUM_JOINTS, 3)),
                               _array(hand_part.get("wrist_pose"), where, "hand.wrist_pose", (4, 4)))
    obj = None
    if object_part is not None and object_part.get("has_pose"):
        pose = np.eye(4)
        pose[:3, :3] = _array(object_part.get("rotation"), where, "object.rotation", (3, 3))
        pose[:3, 3] = _array(object_part.get("translation"), where, "object.translation", (3,))
        obj = ObjectObservation(str(object_part.get("name", "")), pose)
    return hand, obj


def with_filtered(record: Record, frame: Optional[FilteredFrame]) -> Record:
    """A copy of `record` with the filtered fields of `frame` (None = filtering off: all null)."""
    out = copy.deepcopy(record)
    if out.get("hand") is not None:
        hand = None if frame is None else frame.hand
        out["hand"]["filtered"] = None if hand is None else {
            "joints": _listed(hand.joints), "joints_wrist": _listed(hand.joints_wrist),
            "wrist_pose": _listed(hand.wrist_pose), "gated": hand.gated, "reset": hand.reset,
        }
    if out.get("object") is not None:
        obj = None if frame is None else frame.object
        out["object"]["filtered"] = None if obj is None else {
            "pose": _listed(obj.pose), "gated": obj.gated, "reset": obj.reset,
        }
    out["gated"] = None if frame is None else frame.gated
    return out


def filter_records(records: Iterable[Record], settings: FilterSettings = FilterSettings(),
                   stamp_key: str = "stamp") -> Iterator[Record]:
    """Each record with its filtered fields, filtered in order by one HandObjectFilter (stamps in seconds)."""
    hand_object_filter = HandObjectFilter(settings)
    for index, record in enumerate(records):
        where = f"record {index}"
        stamp = _stamp(record, where, stamp_key)
        yield with_filtered(record, hand_object_filter.update(stamp, *observations_from_record(record, where)))


def read_trajectory(path: PathLike) -> List[Record]:
    """The records of a JSON-lines file (blank lines skipped). Raises ValueError naming the file and line."""
    records = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error})") from error
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a record must be a JSON object, got {type(record).__name__}")
            records.append(record)
    return records


def _side_record(record: Record, side: str) -> Record:
    """The hand of `side` in a record's `hands` list (and its object) as a one-hand record ({} without it)."""
    for entry in record.get("hands") or ():
        if isinstance(entry, dict) and entry.get("side") == side:
            return {"hand": {key: value for key, value in entry.items() if key != "object"},
                    "object": entry.get("object")}
    return {}


def _empty_arrays(count: int, prefix: str) -> Dict[str, np.ndarray]:
    arrays = {prefix + "hand_side": np.full(count, "", dtype="<U8"),
              prefix + "object_name": np.full(count, "", dtype="<U64"),
              prefix + "hand_gated": np.zeros(count, dtype=bool), prefix + "object_gated": np.zeros(count, dtype=bool)}
    for filtered in ("", "filtered_"):
        arrays[prefix + filtered + "hand_valid"] = np.zeros(count, dtype=bool)
        arrays[prefix + filtered + "object_valid"] = np.zeros(count, dtype=bool)
        for key, shape in (("joints", (NUM_JOINTS, 3)), ("joints_wrist", (NUM_JOINTS, 3)), ("wrist_pose", (4, 4)),
                           ("object_pose", (4, 4))):
            arrays[prefix + filtered + key] = np.full((count,) + shape, np.nan)
    return arrays


def _fill(arrays: Dict[str, np.ndarray], i: int, record: Record, where: str, prefix: str) -> None:
    """Frame i of the arrays named `prefix`... from a one-hand record."""
    hand, obj = observations_from_record(record, where)
    if hand is not None:
        arrays[prefix + "hand_valid"][i], arrays[prefix + "hand_side"][i] = True, hand.side
        arrays[prefix + "joints"][i], arrays[prefix + "wrist_pose"][i] = hand.joints, hand.wrist_pose
        arrays[prefix + "joints_wrist"][i] = joints_in_wrist_frame(hand.joints, hand.wrist_pose)
        filtered = _part(record, where, "hand", "filtered")
        if filtered is not None:
            arrays[prefix + "filtered_hand_valid"][i] = True
            arrays[prefix + "hand_gated"][i] = bool(filtered.get("gated"))
            for key, shape in (("joints", (NUM_JOINTS, 3)), ("joints_wrist", (NUM_JOINTS, 3)), ("wrist_pose", (4, 4))):
                arrays[prefix + "filtered_" + key][i] = _array(filtered.get(key), where, "hand.filtered." + key, shape)
    if obj is not None:
        arrays[prefix + "object_valid"][i], arrays[prefix + "object_name"][i] = True, obj.name
        arrays[prefix + "object_pose"][i] = obj.pose
    filtered = _part(record, where, "object", "filtered")
    if filtered is not None:
        arrays[prefix + "filtered_object_valid"][i] = True
        arrays[prefix + "object_gated"][i] = bool(filtered.get("gated"))
        arrays[prefix + "filtered_object_pose"][i] = _array(filtered.get("pose"), where, "object.filtered.pose", (4, 4))


def trajectory_arrays(records: List[Record], stamp_key: str = "stamp") -> Dict[str, np.ndarray]:
    """The trajectory as arrays over its T frames; NaN where the matching *_valid mask is False.

    stamps (T,) s; joint_names (21,) (JOINT_NAMES; MediaPipe order: hfl_ros.retargeting).
    The first hand of each frame (`hand` / `object`): raw: hand_valid (T,) bool, hand_side (T,) str, joints
    (T, 21, 3) m camera frame, joints_wrist (T, 21, 3) m wrist frame, wrist_pose (T, 4, 4) camera-from-wrist;
    object_valid (T,) bool (a pose exists), object_name (T,) str, object_pose (T, 4, 4) camera-from-object.
    Filtered (valid only where the records carry filtered fields): filtered_hand_valid, filtered_joints,
    filtered_joints_wrist, filtered_wrist_pose, hand_gated (T,) bool; filtered_object_valid,
    filtered_object_pose, object_gated.
    Per side (from the records' `hands` lists, hfl-video --max-hands 2): the same arrays prefixed `right_` and
    `left_` (right_joints, left_filtered_wrist_pose, left_object_pose, ...), each hand's own object.
    """
    count = len(records)
    arrays: Dict[str, np.ndarray] = {
        "stamps": np.array([_stamp(record, f"record {i}", stamp_key) for i, record in enumerate(records)]),
        "joint_names": np.array(JOINT_NAMES),
    }
    for prefix in ("",) + tuple(f"{side}_" for side in SIDES):
        arrays.update(_empty_arrays(count, prefix))
    for i, record in enumerate(records):
        where = f"record {i}"
        _fill(arrays, i, record, where, "")
        for side in SIDES:
            _fill(arrays, i, _side_record(record, side), f"{where} ({side} hand)", f"{side}_")
    return arrays


def save_trajectory_npz(path: PathLike, records: List[Record], stamp_key: str = "stamp") -> Path:
    """Write `trajectory_arrays(records)` to an uncompressed .npz at `path` (no pickled objects); returns it."""
    path = Path(path)
    arrays = trajectory_arrays(records, stamp_key)
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    return path
