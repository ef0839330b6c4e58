import numpy as np
import pytest

from helpers._checks import check_float, check_int


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3)])
def test_check_int_accepts_integers(value):
    assert check_int("n", value, 1, 5) == 3


@pytest.mark.parametrize("value", [3.0, "3", True, None, 2.5])
def test_check_int_rejects_non_integers(value):
    with pytest.raises(ValueError, match=r"n must be an integer"):
        check_int("n", value, 1)


def test_check_int_range_message_names_argument_value_and_range():
    with pytest.raises(ValueError, match=r"time_steps must be an integer in \[1, 5\], got 9"):
        check_int("time_steps", 9, 1, 5)


def test_check_float():
    assert check_float("sigma", 2, 0, open_min=True) == 2.0
    with pytest.raises(ValueError, match=r"sigma must be > 0, got 0.0"):
        check_float("sigma", 0.0, 0, open_min=True)
    with pytest.raises(ValueError, match="sigma must be a real number"):
        check_float("sigma", "x")
    with pytest.raises(ValueError, match="sigma"):
        check_float("sigma", float("nan"), 0)


@pytest.mark.parametrize("bounds, allowed", [((), ""), ((0,), " >= 0"), ((0, 1), " >= 0 and <= 1")])
def test_check_float_nan_message_names_argument_range_and_value(bounds, allowed):
    """NaN fails every comparison; with no bounds the message used to read 'must be , got nan'."""
    with pytest.raises(ValueError, match=rf"^rate must be a real number{allowed}, not NaN, got nan$"):
        check_float("rate", float("nan"), *bounds)
    with pytest.raises(ValueError, match=r"^rate must be a real number, not NaN, got nan$"):
        check_float("rate", np.float32("nan"))
    with pytest.raises(ValueError, match=r"^rate must be > 0 and <= 1, got 0.0$"):
        check_float("rate", 0.0, 0, 1, open_min=True)
    assert check_float("rate", float("inf")) == float("inf"), "no bounds: any number, infinities included"
