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


def _train_tiny_model():
    import keras

    helpers.set_seed(3)
    x = np.random.rand(64, 5).astype("float32")
    y = (x.sum(axis=1) > 2.5).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model.get_weights()


def test_set_seed_makes_training_repeat_bit_for_bit():
    """What helpers.DETERMINISM promises on the backend in use: the same seed, the same trained weights."""
    for a, b in zip(_train_tiny_model(), _train_tiny_model()):
        np.testing.assert_array_equal(a, b)


def test_determinism_names_every_backend():
    assert set(helpers.DETERMINISM) == {"tensorflow", "jax", "torch"}
    assert helpers.backend() in helpers.DETERMINISM


def test_steps_per_execution_is_one_on_torch_only():
    expected = 1 if helpers.backend() == "torch" else 16
    assert helpers.steps_per_execution(16) == expected
    with pytest.raises(ValueError, match="steps"):
        helpers.steps_per_execution(0)


def test_one_cpu_thread_is_a_no_op_off_torch():
    if helpers.backend() == "torch":
        pytest.skip("the PyTorch behaviour is tested below")
    try:
        import torch
    except ImportError:
        torch = None
    before = None if torch is None else torch.get_num_threads()
    with helpers.one_cpu_thread():
        if torch is not None:
            assert torch.get_num_threads() == before, "TensorFlow and JAX: PyTorch's thread count is left alone"
    if torch is not None:
        assert torch.get_num_threads() == before


def test_one_cpu_thread_on_torch_sets_one_thread_and_restores_the_count():
    torch = pytest.importorskip("torch")
    if helpers.backend() != "torch":
        pytest.skip(f"the Keras backend is {helpers.backend()}, not torch")
    original = torch.get_num_threads()
    try:
        torch.set_num_threads(3)                      # not 1, so that a missing restore shows
        with helpers.one_cpu_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
        with pytest.raises(RuntimeError, match="inside"):
            with helpers.one_cpu_thread():
                assert torch.get_num_threads() == 1
                raise RuntimeError("inside")
        assert torch.get_num_threads() == 3, "restored after an error too"
    finally:
        torch.set_num_threads(original)
