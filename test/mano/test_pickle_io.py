"""Restricted MANO pickle reader: accepts the official layout (chumpy values), refuses code."""

import importlib.util
import os
import pickle
import pickletools
import sys
from pathlib import Path

import numpy as np
import pytest

from hfl_ros.mano.pickle_io import load_mano_dict, mano_pickle_bytes, read_mano_pickle, write_mano_pickle
from hfl_ros.mano.procedural import procedural_mano_arrays


@pytest.fixture(scope="module")
def right_pickle(tmp_path_factory) -> Path:
    return write_mano_pickle(tmp_path_factory.mktemp("mano") / "MANO_RIGHT.pkl", procedural_mano_arrays("right"))


def test_written_file_is_deterministic_protocol_2_with_chumpy_names_and_leaves_no_chumpy_module(tmp_path):
    first = write_mano_pickle(tmp_path / "a" / "MANO_RIGHT.pkl", procedural_mano_arrays("right"))
    stamp = first.stat().st_mtime_ns
    assert write_mano_pickle(first, procedural_mano_arrays("right")).stat().st_mtime_ns == stamp  # unchanged
    data = first.read_bytes()
    assert data == mano_pickle_bytes(procedural_mano_arrays("right")) and data[:2] == b"\x80\x02"
    assert {"chumpy.ch Ch", "chumpy.reordering Select"} <= _globals(data)
    assert "chumpy" not in sys.modules


def _globals(data: bytes) -> set:
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def _dump(tmp_path: Path, content: object, name: str = "model.pkl", protocol: int = 2) -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


def test_procedural_pickle_goes_through_the_chumpy_path(right_pickle):
    names = _globals(right_pickle.read_bytes())
    assert {"chumpy.ch Ch", "chumpy.reordering Select", "copy_reg _reconstructor"} <= names
    assert any(name.startswith("scipy.sparse") and name.endswith("csc_matrix") for name in names)


def test_reads_procedural_model_without_chumpy(right_pickle):
    model = read_mano_pickle(right_pickle)
    expected = procedural_mano_arrays("right")
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "hands_components", "hands_mean"):
        np.testing.assert_array_equal(getattr(model, key), expected[key], err_msg=key)
        assert getattr(model, key).dtype == np.float64
    np.testing.assert_array_equal(model.faces, expected["f"].astype(np.int64))
    assert model.faces.dtype == np.int64
    np.testing.assert_array_equal(model.joints, expected["J"])
    assert model.hands_coeffs.shape == expected["hands_coeffs"].shape
    assert (model.bs_type, model.bs_style) == ("lrotmin", "lbs")
    assert model.source == str(right_pickle)
    assert not model.v_template.flags.writeable
    assert "chumpy" not in sys.modules
    if importlib.util.find_spec("chumpy") is None:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("chumpy")


def test_reads_python2_era_module_names(tmp_path):
    """numpy.core / scipy.sparse.csc / protocol-0-style names, as in files written by Python 2."""
    data = mano_pickle_bytes(procedural_mano_arrays("right"))
    legacy = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    legacy = legacy.replace(b"scipy.sparse._csc\n", b"scipy.sparse.csc\n")
    assert legacy != data
    path = tmp_path / "legacy.pkl"
    path.write_bytes(legacy)
    model = read_mano_pickle(path)
    np.testing.assert_array_equal(model.J_regressor, procedural_mano_arrays("right")["J_regressor"])


class _SystemCall:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Eval:
    def __reduce__(self):
        return eval, ("__import__('os').getcwd()",)


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_refuses_os_system(tmp_path, protocol):
    marker = tmp_path / "executed"
    path = _dump(tmp_path, {"v_template": _SystemCall(f"touch {marker}")}, protocol=protocol)
    with pytest.raises(pickle.UnpicklingError) as error:
        read_mano_pickle(path)
    message = str(error.value)
    assert f"{os.system.__module__}.system" in message and str(path) in message
    assert not marker.exists()


@pytest.mark.parametrize("protocol, module", [(2, "__builtin__"), (4, "builtins")])
def test_refuses_builtins_eval(tmp_path, protocol, module):
    path = _dump(tmp_path, {"f": _Eval()}, protocol=protocol)
    with pytest.raises(pickle.UnpicklingError, match=rf"{module}\.eval"):
        read_mano_pickle(path)


def test_refuses_non_latin1_codec(tmp_path):
    # GLOBAL _codecs.encode, then encode("x", "rot13") via REDUCE.
    data = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R."
    path = tmp_path / "codec.pkl"
    path.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match="rot13"):
        load_mano_dict(path)


def test_wrong_shape_names_key_shapes_and_file(tmp_path):
    content = procedural_mano_arrays("right")
    content["shapedirs"] = content["shapedirs"][:, :, :9]
    path = _dump(tmp_path, content)
    with pytest.raises(ValueError) as error:
        read_mano_pickle(path)
    message = str(error.value)
    for part in ("'shapedirs'", "(778, 3, 9)", "(778, 3, 10)", str(path)):
        assert part in message


def test_missing_key_is_named(tmp_path):
    content = procedural_mano_arrays("right")
    del content["posedirs"]
    with pytest.raises(ValueError, match="posedirs"):
        read_mano_pickle(_dump(tmp_path, content))


def test_wrong_kinematic_tree_is_refused(tmp_path):
    content = procedural_mano_arrays("right")
    content["kintree_table"][0, 5] = 0
    with pytest.raises(ValueError, match="kintree_table"):
        read_mano_pickle(_dump(tmp_path, content))


def test_unsupported_blend_convention_is_refused(tmp_path):
    content = procedural_mano_arrays("right")
    content["bs_style"] = "dqs"
    with pytest.raises(ValueError, match="dqs"):
        read_mano_pickle(_dump(tmp_path, content))


def test_not_a_dict_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="dict"):
        read_mano_pickle(_dump(tmp_path, [np.zeros(3)]))
    with pytest.raises(FileNotFoundError, match="nowhere.pkl"):
        read_mano_pickle(tmp_path / "nowhere.pkl")

