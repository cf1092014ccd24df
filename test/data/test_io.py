"""Allow-listed dataset pickles, YAML and image round trips."""

import os
import pickle

import numpy as np
import pytest

from hfl_ros.data.io import load_pickle, read_rgb, read_yaml, write_rgb


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_load_pickle_round_trips_numpy_and_builtins(tmp_path, protocol) -> None:
    content = {
        "camMat": np.arange(9, dtype=np.float64).reshape(3, 3),
        "objName": "006_mustard_bottle",
        "raw": b"\x00\xffbytes",
        "scalar": np.float32(2.5),
        "handPose": None,
        "nested": [1, 2.0, (3, "x")],
    }
    path = tmp_path / "meta.pkl"
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded["camMat"], content["camMat"])
    assert loaded["objName"] == "006_mustard_bottle" and loaded["raw"] == b"\x00\xffbytes"
    assert loaded["scalar"] == np.float32(2.5) and loaded["handPose"] is None
    assert loaded["nested"] == [1, 2.0, (3, "x")]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_pickle_refuses_other_globals(tmp_path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_pickle(path)


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
