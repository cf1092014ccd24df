"""Dataset construction from a DataConfig: augmentation names, config errors, and datasets that answer for
the object models their poses refer to."""

import numpy as np
import pytest

from hfl_ros.data.datasets import DataConfig, augmentation, build_dataset
from hfl_ros.data.transforms import AnnotationDataset
from hfl_ros.objects import ObjectRegistry


def test_augmentation_names() -> None:
    assert augmentation("none") is None
    assert augmentation("ho3d").rotation_distribution == "uniform"
    assert augmentation("dexycb").rotation_probability == pytest.approx(0.6)
    with pytest.raises(ValueError, match="'flip'"):
        augmentation("flip")


def test_data_config_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="'mnist'"):
        DataConfig(dataset="mnist")
    with pytest.raises(ValueError, match="data.root is required"):
        DataConfig(dataset="ho3d")
    with pytest.raises(ValueError, match="data.options must be a mapping"):
        DataConfig(options=[1])


def test_synthetic_dataset_answers_with_the_model_its_frames_were_rendered_with(mano_dir) -> None:
    data = DataConfig(dataset="synthetic", eval_options={"n": 1, "scene": {"image_size": [96, 96]}})
    dataset = build_dataset(data, "test", train=False, seed=0, mano_dir=mano_dir)
    _, annotation, _ = dataset.frame(0)
    model = dataset.object_model(annotation.object_name)
    np.testing.assert_allclose(model.control_points, annotation.object_control_points)
    assert model.diameter == pytest.approx(annotation.object_diameter)


def test_annotation_dataset_answers_from_its_registry_and_none_without_one(tmp_path) -> None:
    (tmp_path / "cloud").mkdir()
    np.savetxt(tmp_path / "cloud" / "points.xyz", np.random.default_rng(0).normal(size=(20, 3)))
    registry = ObjectRegistry.from_models_dir(tmp_path)
    dataset = AnnotationDataset([], objects=registry)
    assert dataset.object_model("cloud") is registry.model("cloud")
    assert dataset.object_model("mug") is None
    assert AnnotationDataset([]).object_model("cloud") is None
