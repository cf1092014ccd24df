"""Restricted unpickling: numpy arrays, scalars and builtins load; any other global is refused by name."""

import os
import pickle

import numpy as np
import pytest

from hfl_ros.restricted_pickle import NUMPY_GLOBALS, load_restricted


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_load_restricted_round_trips_numpy_and_builtins(tmp_path, protocol) -> None:
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
    loaded = load_restricted(path)
    np.testing.assert_array_equal(loaded["camMat"], content["camMat"])
    assert loaded["objName"] == "006_mustard_bottle" and loaded["raw"] == b"\x00\xffbytes"
    assert loaded["scalar"] == np.float32(2.5) and loaded["handPose"] is None
    assert loaded["nested"] == [1, 2.0, (3, "x")]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_restricted_refuses_other_globals(tmp_path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_restricted(path)


def test_an_extended_allow_list_admits_exactly_its_globals(tmp_path) -> None:
    path = tmp_path / "set.pkl"
    path.write_bytes(pickle.dumps({"ids": {1, 2}}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"set\.pkl: refusing to load global __builtin__\.set"):
        load_restricted(path)
    assert load_restricted(path, {**NUMPY_GLOBALS, ("__builtin__", "set"): set}) == {"ids": {1, 2}}
    with pytest.raises(FileNotFoundError, match="nowhere.pkl"):
        load_restricted(tmp_path / "nowhere.pkl")
