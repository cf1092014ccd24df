"""YAML and image round trips."""

import numpy as np
import pytest

from hfl_ros.data.io import read_rgb, read_yaml, write_rgb


def test_yaml_and_rgb_round_trip(tmp_path) -> None:
    (tmp_path / "a.yml").write_text("color:\n  fx: 600.5\n  ppx: 320\n")
    assert read_yaml(tmp_path / "a.yml") == {"color": {"fx": 600.5, "ppx": 320}}
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    image[1, 2] = (255, 10, 0)
    write_rgb(tmp_path / "x.png", image)
    np.testing.assert_array_equal(read_rgb(tmp_path / "x.png"), image)
    with pytest.raises(FileNotFoundError):
        read_rgb(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="uint8"):
        write_rgb(tmp_path / "y.png", image.astype(np.float32))
