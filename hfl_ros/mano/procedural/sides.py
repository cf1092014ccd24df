"""The model arrays of either side: the right hand's mesh, rig and pose space, mirrored (x -> -x) for the
left, with each chain's apex moved to the side's fingertip vertex id."""

from functools import lru_cache
from typing import Dict, Sequence

import numpy as np

from hfl_ros.constants import FINGERTIP_VERTICES_LEFT, FINGERTIP_VERTICES_RIGHT, NUM_MANO_JOINTS, NUM_MANO_VERTICES
from hfl_ros.mano.procedural.mesh import build_right_hand
from hfl_ros.mano.procedural.pose_space import hands_coeffs, hands_components, hands_mean, kintree_table
from hfl_ros.mano.procedural.rig import joint_regressor, pose_directions, shape_directions, skinning_weights

#: Fingertip vertex ids in chain order (index, middle, little, ring, thumb) from the constants'
#: (thumb, index, middle, ring, little) order.
_TIP_ORDER = (1, 2, 4, 3, 0)


def _pose_mirror_signs() -> np.ndarray:
    """(45,) sign flips of the articulation vector under x -> -x (axis-angle (x, y, z) -> (x, -y, -z))."""
    return np.tile(np.array([1.0, -1.0, -1.0]), NUM_MANO_JOINTS - 1)


def _posedir_mirror_signs() -> np.ndarray:
    """(3, 135) sign of each posedirs entry under x -> -x: output component c times (R - I)[a, b]."""
    mirror = np.array([-1.0, 1.0, 1.0])
    entry = np.outer(mirror, mirror).reshape(-1)
    return mirror[:, None] * np.tile(entry, NUM_MANO_JOINTS - 1)[None]


def _vertex_order(apexes: Sequence[int], side: str) -> np.ndarray:
    """New-to-old vertex map putting each chain's apex at the side's fingertip vertex id."""
    table = FINGERTIP_VERTICES_RIGHT if side == "right" else FINGERTIP_VERTICES_LEFT
    targets = {table[_TIP_ORDER[chain]]: apex for chain, apex in enumerate(apexes)}
    remaining = iter(v for v in range(NUM_MANO_VERTICES) if v not in set(apexes))
    return np.array([targets[new] if new in targets else next(remaining) for new in range(NUM_MANO_VERTICES)])


@lru_cache(maxsize=2)
def side_arrays(side: str) -> Dict[str, object]:
    rig = build_right_hand()
    weights = skinning_weights(rig)
    arrays = {
        "v_template": rig.points,
        "shapedirs": shape_directions(rig),
        "posedirs": pose_directions(rig, weights),
        "J_regressor": joint_regressor(rig),
        "weights": weights,
        "f": rig.faces,
    }
    components, mean = hands_components(), hands_mean()
    coeffs = hands_coeffs(components, mean)
    if side == "left":
        arrays["v_template"] = arrays["v_template"] * np.array([-1.0, 1.0, 1.0])
        arrays["shapedirs"] = arrays["shapedirs"] * np.array([-1.0, 1.0, 1.0])[None, :, None]
        arrays["posedirs"] = arrays["posedirs"] * _posedir_mirror_signs()[None]
        arrays["f"] = arrays["f"][:, ::-1]
        components, mean = components * _pose_mirror_signs()[None], mean * _pose_mirror_signs()
    order = _vertex_order(rig.apexes, side)
    inverse = np.argsort(order)
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        arrays[key] = arrays[key][order]
    arrays["J_regressor"] = arrays["J_regressor"][:, order]
    arrays["f"] = inverse[arrays["f"]].astype(np.uint32)
    arrays["J"] = arrays["J_regressor"] @ arrays["v_template"]
    arrays.update(
        kintree_table=kintree_table(), hands_components=components, hands_mean=mean,
        hands_coeffs=coeffs, bs_type="lrotmin", bs_style="lbs",
    )
    for value in arrays.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return arrays
