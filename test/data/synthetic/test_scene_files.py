"""One synthetic frame on disk: write and read back."""

import numpy as np

from hfl_ros.data.synthetic import read_scene, read_scene_object, render_frame, write_scene


def test_write_and_read_scene_round_trip(assets, tmp_path, small_scene) -> None:
    image, annotation, masks = render_frame(np.random.default_rng(2), small_scene, assets)
    paths = write_scene(tmp_path / "scene", image, annotation, masks, assets.object_model(annotation.object_name))
    assert all(path.is_file() for path in paths.values())
    read_image, read_annotation, read_masks = read_scene(tmp_path / "scene")
    np.testing.assert_array_equal(read_image, image)
    np.testing.assert_array_equal(read_masks["object"], masks["object"])
    for name in ("K", "joints_3d", "mano_pose", "vertices_3d", "object_rotation", "object_translation", "object_control_points"):
        np.testing.assert_allclose(getattr(read_annotation, name), getattr(annotation, name), atol=1e-12)
    model = read_scene_object(tmp_path / "scene")
    np.testing.assert_allclose(model.control_points, annotation.object_control_points, atol=1e-6)
    assert model.name == annotation.object_name
