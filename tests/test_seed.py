import numpy as np
import pytest

import helpers


def _draw():
    import keras

    layer = keras.layers.Dense(4)
    layer.build((None, 3))
    return np.random.rand(3), layer.get_weights()[0], keras.ops.convert_to_numpy(keras.random.normal((2,)))


def test_set_seed_repeats_numpy_and_keras():
    helpers.set_seed(7)
    first = _draw()
    helpers.set_seed(7)
    second = _draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    helpers.set_seed(8)
    assert not np.array_equal(first[1], _draw()[1])


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", None])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        helpers.set_seed(seed)
