"""Rendering a given hand and object pose."""

import numpy as np

from hfl_ros.data.synthetic import render_frame, render_scene


def test_render_scene_reproduces_a_given_pose(assets, small_scene) -> None:
    _, annotation, masks = render_frame(np.random.default_rng(11), small_scene, assets)
    image, again, again_masks = render_scene(
        assets, annotation.mano_pose, annotation.mano_shape, annotation.root_3d, annotation.object_name,
        annotation.object_rotation, annotation.object_translation, annotation.K, (160, 120),
    )
    np.testing.assert_array_equal(again_masks["hand"], masks["hand"])
    np.testing.assert_array_equal(again_masks["object"], masks["object"])
    np.testing.assert_allclose(again.vertices_3d, annotation.vertices_3d, atol=1e-9)
    background = ~(again_masks["hand"] | again_masks["object"])
    assert (image[background] == 128).all()
