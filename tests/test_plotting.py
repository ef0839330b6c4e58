import subprocess
import sys

import matplotlib.pyplot as plt
import pytest

from helpers import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_import_changes_no_global_style():
    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); import helpers.plotting, helpers;"
            "assert dict(mpl.rcParams) == before")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_use_style_applies_the_course_style():
    with plt.rc_context():
        plotting.use_style()
        assert plt.rcParams["figure.dpi"] == plotting.STYLE["figure.dpi"]


def test_attention_bars_returns_given_axes_with_labels():
    _, ax = plt.subplots()
    out = plotting.plot_attention_bars([0.1, 0.7, 0.2], labels=["a", "b", "c"], highlight=1, ax=ax,
                                       title="T")
    assert out is ax and ax.get_title() == "T"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    colours = [patch.get_facecolor() for patch in ax.patches]
    assert colours[1] != colours[0] == colours[2]


def test_attention_bars_makes_its_own_axes():
    ax = plotting.plot_attention_bars([0.5, 0.5])
    assert ax.get_xlabel() == "position" and ax.get_ylabel() == "attention weight"


@pytest.mark.parametrize("kwargs,message", [
    ({"weights": [[0.5, 0.5]]}, "weights must be 1-D"),
    ({"weights": [0.5, 0.5], "labels": ["a"]}, "labels must have 2 entries"),
    ({"weights": [0.5, 0.5], "highlight": 2}, r"highlight must be positions in \[0, 1\]"),
])
def test_attention_bars_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_attention_bars(**kwargs)


def test_heatmap_has_tokens_on_both_axes():
    ax = plotting.plot_attention_heatmap([[0.2, 0.8], [0.6, 0.4], [1, 0]], ["x", "y"],
                                         ["p", "q", "r"], title="map")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["p", "q", "r"]
    assert ax.get_title() == "map"
    assert ax.figure.axes[-1].get_ylabel() == "attention weight"          # the colour bar says what it shows


def test_heatmap_colour_bar_label_can_be_named():
    ax = plotting.plot_attention_heatmap([[0.5, 0.5]], ["x", "y"], ["p"], colorbar_label="mean weight")
    assert ax.figure.axes[-1].get_ylabel() == "mean weight"


def test_heatmap_rejects_mismatched_tokens():
    with pytest.raises(ValueError, match=r"weights must have shape .* = \(2, 2\), got \(2, 3\)"):
        plotting.plot_attention_heatmap([[0, 0, 1], [1, 0, 0]], ["a", "b"], ["c", "d"])


def test_heatmaps_share_one_colour_scale_with_vmax():
    ax = plotting.plot_attention_heatmap([[0.2, 0.3], [0.1, 0.4]], ["x", "y"], ["p", "q"], vmax=0.9)
    assert ax.images[0].get_clim() == (0.0, 0.9)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="vmax must be a positive number or None"):
            plotting.plot_attention_heatmap([[1.0]], ["x"], ["p"], vmax=bad)


def test_training_curves_from_history_mapping():
    history = {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.4], "accuracy": [0.5, 0.8, 0.9]}
    ax = plotting.plot_training_curves(history, ["loss"])
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel() == "epoch"


def test_training_curves_accepts_a_keras_history():
    class FakeHistory:
        history = {"loss": [1.0, 0.5]}

    assert len(plotting.plot_training_curves(FakeHistory()).get_lines()) == 1


def test_training_curves_bad_input():
    with pytest.raises(ValueError, match=r"metrics \['accuracy'\] not in history"):
        plotting.plot_training_curves({"loss": [1]}, ["accuracy"])
    with pytest.raises(ValueError, match="history must be a keras History or a mapping"):
        plotting.plot_training_curves([1, 2])
