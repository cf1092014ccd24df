"""The geometry argument checks: shapes are matched as written and a mismatch names the value and both shapes."""

import numpy as np
import pytest
import torch

from hfl_ros.geometry.checks import as_numpy, as_tensor, as_type_of, check_array, check_finite, check_shape


@pytest.mark.parametrize(
    "shape, spec, sizes",
    [
        ((21, 3), "N,3", {"N": 21}),
        ((21, 3), "*,N,3", {"N": 21}),
        ((2, 5, 21, 3), "*,N,3", {"N": 21}),
        ((3, 3), "3,3", {}),
        ((4,), (4,), {}),
        ((7, 7), "N,N", {"N": 7}),
        ((2, 21, 2), (2, "J", 2), {"J": 21}),
        ((0, 3), "N,3", {"N": 0}),
    ],
)
def test_matching_shapes_pass_and_bind_their_names(shape, spec, sizes) -> None:
    for value in (np.zeros(shape), torch.zeros(shape)):
        assert check_shape(value, spec, "value") == sizes


@pytest.mark.parametrize(
    "shape, spec, written",
    [
        ((21, 2), "N,3", "(N, 3)"),
        ((5, 21, 3), "N,3", "(N, 3)"),
        ((3,), "*,N,3", "(..., N, 3)"),
        ((3, 4), "3,3", "(3, 3)"),
        ((7, 6), "N,N", "(N, N)"),
        ((), "4", "(4)"),
    ],
)
def test_wrong_shapes_raise_naming_the_value_the_expected_and_the_actual_shape(shape, spec, written) -> None:
    with pytest.raises(ValueError) as error:
        check_shape(np.zeros(shape), spec, "joints_2d")
    message = str(error.value)
    assert message.startswith("joints_2d must have shape ")
    assert written in message and f"got {shape}" in message


def test_a_batch_wildcard_after_the_first_dimension_is_a_bad_spec() -> None:
    with pytest.raises(ValueError, match="may only come first"):
        check_shape(np.zeros((2, 3)), "N,*", "value")


def test_non_arrays_raise_type_error_naming_the_value() -> None:
    with pytest.raises(TypeError, match="^points must be a numpy array"):
        check_shape([[0.0, 0.0, 1.0]], "N,3", "points")
    with pytest.raises(TypeError, match="^points must be a numpy array"):
        check_array([[0.0, 0.0, 1.0]], "points")
    with pytest.raises(TypeError, match="^points must be a floating-point tensor"):
        check_array(torch.zeros(2, 3, dtype=torch.int64), "points")
    with pytest.raises(TypeError, match="^K must be a numpy array"):
        as_tensor([[1.0]], "K")
    with pytest.raises(TypeError, match="^box must be array-like"):
        as_numpy(object(), "box")


def test_check_array_checks_the_shape_too() -> None:
    check_array(torch.zeros(2, 5, 2), "points", "*,N,2")
    with pytest.raises(ValueError, match=r"^points must have shape \(\.\.\., N, 2\), got \(2, 5, 3\)"):
        check_array(np.zeros((2, 5, 3)), "points", "*,N,2")


def test_non_finite_values_raise_naming_the_value() -> None:
    check_finite(np.ones(3), "box")
    for value in (np.array([0.0, np.nan]), torch.tensor([np.inf, 0.0])):
        with pytest.raises(ValueError, match="^box must be finite"):
            check_finite(value, "box")
    with pytest.raises(ValueError, match="^affine must be finite"):
        as_numpy([[1.0, 0.0, np.nan], [0.0, 1.0, 0.0]], "affine", shape="2,3", finite=True)


def test_as_numpy_converts_tensors_and_sequences_to_float64_and_checks_shape() -> None:
    tensor = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    array = as_numpy(tensor, "points", shape="N,3")
    assert array.dtype == np.float64 and array.shape == (2, 3)
    np.testing.assert_array_equal(array, tensor.numpy())
    assert as_numpy([1, 2, 3, 4], "box", shape="4").dtype == np.float64
    assert as_numpy(torch.arange(3), "ids", dtype=None).dtype == np.int64
    with pytest.raises(ValueError, match=r"^box must have shape \(4\), got \(3,\)"):
        as_numpy([1, 2, 3], "box", shape="4")


def test_as_type_of_follows_the_reference_type_dtype_and_device() -> None:
    reference = torch.zeros(3, dtype=torch.float32)
    converted = as_type_of(np.array([1.0, 2.0], dtype=np.float64), reference)
    assert isinstance(converted, torch.Tensor) and converted.dtype == torch.float32
    back = as_type_of(torch.tensor([1.0, 2.0]), np.zeros(3, dtype=np.float64))
    assert isinstance(back, np.ndarray) and back.dtype == np.float64
    assert as_type_of([1, 2], np.zeros(2, dtype=np.float16)).dtype == np.float32


def test_as_tensor_keeps_floating_tensors_and_widens_the_rest() -> None:
    tensor = torch.zeros(2, dtype=torch.float32)
    assert as_tensor(tensor, "joints") is tensor
    assert as_tensor(np.zeros(2, dtype=np.float32), "joints").dtype == torch.float64
    assert as_tensor(torch.zeros(2, dtype=torch.int32), "joints").dtype == torch.float64
