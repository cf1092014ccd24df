"""A procedural hand in the MANO file format, for tests and demos without the licensed model.

Geometry (right hand, MANO canonical frame, metres), oriented like the real MANO template:
fingers point along -x, the thumb side is +z, the palm faces -y (back of the hand +y). Unlike the
real template (wrist joint near x = +9.6 cm, mesh centred near the middle knuckle) the wrist joint
sits at the origin. The left hand is the mirror image (x negated, faces flipped), like real MANO's.

Mesh: a generalised-cylinder palm (rings from the wrist to the knuckles) whose knuckle ring splits
into the four finger tubes (with two-triangle webs between neighbours), a thumb tube grown from a
hole in the palm's thumb side, and a rounded cap with one apex vertex per finger: that apex is the
fingertip vertex, placed at ``FINGERTIP_VERTICES_RIGHT`` / ``_LEFT``. 778 vertices and 1538 faces,
one connected, consistently oriented manifold surface. Euler's formula fixes what a mesh with these
counts can be: a closed surface would need 2 * 778 - 4 = 1552 faces, so, like the real MANO mesh,
it is open at the wrist, with a boundary loop of 2 * 778 - 2 - 1538 = 16 vertices.

Every joint is the mean of one ring of vertices centred on it (the wrist ring, each finger's
knuckle / PIP / DIP ring, the thumb-hole loop and the thumb's rings), so ``J_regressor @
v_template`` is exactly the kinematic skeleton.

Modules, one concept each: `dimensions` (proportions and layout), `builder` (the mesh builder and face
orientation), `palm`, `chains` (fingers and thumb), `mesh` (the assembled right hand with its metadata),
`rig` (regressor, skinning, pose and shape directions), `pose_space` (kinematic tree, pose PCA), `sides`
(left by mirroring, fingertip vertex ids); this module: the arrays and files.
"""

from pathlib import Path
from typing import Dict, Union

import numpy as np

from hfl_ros.constants import SIDES
from hfl_ros.mano.layer import MANO_FILE_NAMES
from hfl_ros.mano.pickle_io import write_mano_pickle
from hfl_ros.mano.procedural.dimensions import FINGERS, THUMB_BONES, ChainSpec
from hfl_ros.mano.procedural.sides import side_arrays

__all__ = ["FINGERS", "PROCEDURAL_MANO", "THUMB_BONES", "ChainSpec", "procedural_mano_arrays", "procedural_mano_dir",
           "resolve_mano_dir"]


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def procedural_mano_arrays(side: str = "right") -> Dict[str, object]:
    """The procedural model as plain arrays, keyed like the official pickle.

    Keys: v_template (778, 3) m; shapedirs (778, 3, 10); posedirs (778, 3, 135); J_regressor
    (16, 778) dense; weights (778, 16); f (1538, 3) uint32; J (16, 3) m; kintree_table (2, 16);
    hands_components (45, 45); hands_mean (45,) rad; hands_coeffs (8, 45); bs_type; bs_style.
    Arrays are fresh writable copies.
    """
    _check_side(side)
    return {key: np.array(value) if isinstance(value, np.ndarray) else value
            for key, value in side_arrays(side).items()}


def procedural_mano_dir(cache_dir: Union[str, Path]) -> Path:
    """Directory holding procedural MANO_RIGHT.pkl and MANO_LEFT.pkl (written when absent or stale).

    Returns ``cache_dir``, usable as ``load_mano(cache_dir, side)``.
    """
    directory = Path(cache_dir)
    for side in SIDES:
        write_mano_pickle(directory / MANO_FILE_NAMES[side], procedural_mano_arrays(side))
    return directory


#: `mano_dir` value of a run configuration that selects the procedural hand.
PROCEDURAL_MANO = "procedural"


def resolve_mano_dir(mano_dir: Union[str, Path], output_dir: Union[str, Path]) -> Path:
    """The MANO folder a run loads: `mano_dir`, or for PROCEDURAL_MANO the procedural hand written under
    `<output_dir>/procedural_mano` (atomically and with the same bytes, so concurrent processes agree)."""
    if str(mano_dir) != PROCEDURAL_MANO:
        return Path(mano_dir)
    return procedural_mano_dir(Path(output_dir) / "procedural_mano")
