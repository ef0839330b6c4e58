"""Tests of helpers.explore (the attention explorer): the payload equals the arrays given, bad input is refused,
several explorers stay independent, the standalone page is self-contained."""

import json
import re

import numpy as np
import pytest

import helpers
from helpers.explorer import AttentionExplorer

RNG = np.random.default_rng(0)


def softmax_rows(shape):
    scores = RNG.standard_normal(shape)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


def test_payload_equals_the_arrays_given():
    weights = softmax_rows((2, 3, 4, 5))                    # layers, heads, queries, keys
    explorer = helpers.explore(weights, list("abcd"), list("vwxyz"), title="t", precision=4)
    payload = explorer.payload()
    assert np.array(payload["weights"]).shape == (2, 3, 4, 5)
    assert np.abs(np.array(payload["weights"]) - weights).max() <= 0.5e-4 + 1e-12
    assert payload["query_labels"] == list("abcd") and payload["key_labels"] == list("vwxyz")
    assert payload["layer_names"] == ["layer 1", "layer 2"] and len(payload["head_names"]) == 3
    assert payload["vmin"] == 0.0 and payload["vmax"] == pytest.approx(weights.max(), abs=1e-4)
    one_layer = helpers.explore(weights[0], list("abcd"), list("vwxyz"))            # (heads, queries, keys)
    assert np.array(one_layer.payload()["weights"]).shape == (1, 3, 4, 5)


def test_html_embeds_the_payload_a_picture_and_no_network():
    explorer = helpers.explore(softmax_rows((2, 3, 3)), ["<q>", "b", "c"], ["x", "y", "</script>"])
    page = explorer.to_html()
    data = re.search(r"<script type='application/json' class='explorer-data'>(.*?)</script>", page, re.S).group(1)
    assert json.loads(data.replace("<\\/", "</")) == json.loads(json.dumps(explorer.payload()))
    assert "data:image/png;base64," in page                  # the picture shown where scripts do not run
    assert "http://" not in page and "https://" not in page and "src='http" not in page
    assert page.count("</script>") == 2                      # a label cannot close the script early
    assert explorer._repr_html_() == page


def test_several_explorers_are_independent(tmp_path):
    first = helpers.explore(softmax_rows((1, 2, 2)), "ab", "cd")
    second = helpers.explore(softmax_rows((1, 2, 2)), "ab", "cd")
    assert first.id != second.id
    assert f"getElementById(\"{first.id}\")" in first.to_html() and second.id not in first.to_html()
    path = first.save_html(tmp_path / "explorer.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and first.id in text
    with pytest.raises(ValueError, match="html"):
        first.save_html(tmp_path / "explorer.png")


@pytest.mark.parametrize("weights, query_labels, key_labels, options, message", [
    (np.ones((2, 2)), "ab", "ab", {}, "shape"),
    (np.full((1, 2, 2), 0.5), "abc", "ab", {}, "query_labels must have 2"),
    (np.full((1, 2, 2), 0.5), "ab", "a", {}, "key_labels must have 2"),
    (np.full((1, 2, 2), np.nan), "ab", "ab", {}, "finite"),
    (np.full((1, 2, 2), 0.4), "ab", "ab", {}, "sum to 1"),
    (np.array([[[1.5, -0.5], [0.5, 0.5]]]), "ab", "ab", {}, ">= 0"),
    (np.full((1, 2, 2), 0.5), "ab", "ab", {"kind": "scores"}, "kind"),
    (np.full((1, 2, 2), 0.5), "ab", "ab", {"precision": 9}, "precision"),
    (np.full((1, 2, 2), 0.5), "ab", "ab", {"head_names": ["h1", "h2"]}, "head_names must have 1"),
])
def test_bad_input_is_refused(weights, query_labels, key_labels, options, message):
    with pytest.raises(ValueError, match=message):
        helpers.explore(weights, query_labels, key_labels, **options)


def test_other_numbers_and_masked_rows():
    assert isinstance(helpers.explore(np.full((1, 2, 3), 7.0), "ab", "xyz", kind="any"), AttentionExplorer)
    masked = np.array([[[1.0, 0.0], [0.0, 0.0]]])          # a query that may see no key: all-zero row
    helpers.explore(masked, "ab", "xy")


def test_sampling_explorer_payload_and_python_reference():
    logits = RNG.standard_normal((3, 7)) * 3
    explorer = helpers.explore_sampling(logits, list("abcdefg"), ["p1", "p2", "p3"], temperature=0.7, top_k=3)
    payload = explorer.payload()
    assert np.abs(np.array(payload["logits"]) - logits).max() <= 0.5e-4 + 1e-12
    assert payload["top_k"] == 3 and payload["top_p"] == 1.0 and payload["temperature"] == 0.7
    probs = explorer.probabilities(1, 0.7, 3, None)
    assert (probs > 0).sum() == 3 and abs(probs.sum() - 1) < 1e-12
    greedy = explorer.probabilities(0, 0.0)
    assert greedy.max() == 1.0 and greedy.argmax() == np.round(logits[0], 4).argmax()
    page = explorer.to_html()
    assert "data:image/png;base64," in page and "https://" not in page
    for options, message in (({"temperature": 5.0}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_p": 0.0}, "top_p")):
        with pytest.raises(ValueError, match=message):
            helpers.explore_sampling(logits, list("abcdefg"), ["p1", "p2", "p3"], **options)
    with pytest.raises(ValueError, match="token_labels"):
        helpers.explore_sampling(logits, list("abc"), ["p1", "p2", "p3"])
    with pytest.raises(ValueError, match="finite"):
        helpers.explore_sampling(np.full((1, 2), np.inf), "ab", ["p"])


def test_marks_are_embedded_and_checked():
    explorer = helpers.explore(softmax_rows((1, 2, 3)), "ab", "xyz", marks=[[0, 1], []], marks_label="true field")
    assert explorer.payload()["marks"] == [[0, 1], []] and explorer.payload()["marks_label"] == "true field"
    with pytest.raises(ValueError, match="marks must have one list"):
        helpers.explore(softmax_rows((1, 2, 3)), "ab", "xyz", marks=[[0]])
    with pytest.raises(ValueError, match=r"marks\[1\]"):
        helpers.explore(softmax_rows((1, 2, 3)), "ab", "xyz", marks=[[0], [3]])
