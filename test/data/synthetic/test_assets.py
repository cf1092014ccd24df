"""Scene assets: the procedural hand by default, its wrist cap."""

import numpy as np

from hfl_ros.data.synthetic import default_assets
from hfl_ros.geometry.mesh import boundary_loops


def test_default_assets_use_the_procedural_hand() -> None:
    assets = default_assets()
    assert assets is default_assets() and assets.faces.shape == (1538, 3)
    np.testing.assert_allclose(np.linalg.norm(assets.rig.palm_normal), 1.0)


def test_wrist_cap_closes_the_hand(assets) -> None:
    assert [len(loop) for loop in assets.wrist_loops] == [16]
    assert boundary_loops(assets.hand_render_faces) == []
    vertices = assets.hand_render_vertices(assets.hand(np.zeros(48), np.zeros(10))[0])
    corners = vertices[assets.hand_render_faces]
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    assert volume > 1e-4  # outward-oriented closed surface: positive enclosed volume (m^3)
