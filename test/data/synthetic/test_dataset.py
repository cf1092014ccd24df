"""SyntheticDataset: deterministic, consistent Samples."""

import numpy as np
import pytest

from hfl_ros.data.augment import ho3d_augmentation
from hfl_ros.data.synthetic import SyntheticDataset
from hfl_ros.geometry import camera


def test_dataset_samples_are_deterministic_and_consistent(assets, small_scene) -> None:
    dataset = SyntheticDataset(4, seed=3, scene=small_scene, augment=ho3d_augmentation(), assets=assets)
    first, again, other = dataset[2], dataset[2], dataset[3]
    np.testing.assert_array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)
    assert first.joints_valid and first.mano_valid and first.vertices_valid and first.object_valid and first.mask_valid
    joints = camera.project_points(first.joints_3d.astype(np.float64) + first.root_3d, first.K_crop)
    np.testing.assert_allclose(camera.normalise_in_box(joints, first.hand_box), first.joints_2d, atol=1e-4)
    vertices, _ = assets.hand(first.mano_pose.astype(np.float64), first.mano_shape.astype(np.float64))
    np.testing.assert_allclose(vertices, first.vertices_3d, atol=2e-5)
    assert first.object_mask.sum() > 0 and first.image.shape == (3, 256, 256)
    assert not np.array_equal(SyntheticDataset(4, seed=4, scene=small_scene, assets=assets)[2].image, first.image)
    with pytest.raises(IndexError):
        dataset.frame(4)
