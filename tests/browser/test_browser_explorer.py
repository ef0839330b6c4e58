"""The attention explorer (helpers.explore) in Chromium, offline: a standalone page with two explorers; choose a
head, hover a weight and read it back, lock a query and unlock it, and the other explorer stays as it was."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

pytestmark = pytest.mark.browser


def test_explorer_page_offline(browser, tmp_path, shots, steps):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 5, 6))                         # layers, heads, queries, keys
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    first = helpers.explore(weights, list("abcde"), list("uvwxyz"), title="first",
                            marks=[[0, 1], [], [2], [], [5]], marks_label="a test key")
    second = helpers.explore(weights[0], list("abcde"), list("uvwxyz"), title="second")
    page_file = tmp_path / "explorers.html"
    page_file.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{first.to_html()}"
                         f"{second.to_html()}</body></html>", encoding="utf-8")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    errors, outside = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith(("file:", "data:", "about:"))
            else outside.append(request.url))
    steps.page = page
    try:
        with steps("open the page"):
            page.goto(page_file.as_uri())
            one, two = page.locator(f"#{first.id}"), page.locator(f"#{second.id}")
            one.locator("table.explorer-grid").wait_for()
            assert one.locator(".explorer-static").is_hidden(), "the script replaced the picture"
        with steps("the marked cells are outlined"):
            marked = [(int(td.evaluate("c => c.parentElement.dataset.query")), int(td.get_attribute("data-key")))
                      for td in one.locator("td.explorer-mark").all()]
            assert sorted(marked) == [(0, 0), (0, 1), (2, 2), (4, 5)], marked
        with steps("choose layer 2, head 3 and read a weight under the pointer"):
            one.locator("select[aria-label=layer]").select_option("1")
            one.locator("select[aria-label=head]").select_option("2")
            one.locator("tr.explorer-row[data-query='3'] td[data-key='4']").hover()
            info = one.locator(".explorer-info").inner_text()
            assert f"{weights[1, 2, 3, 4]:.3f}" in info and "layer 2" in info and "head 3" in info, info
        with steps("lock a query, hover another, unlock"):
            one.locator("tr.explorer-row[data-query='1'] th").click()
            assert "locked" in one.locator(".explorer-info").inner_text()
            one.locator("tr.explorer-row[data-query='4'] td[data-key='0']").hover()
            assert '"b"' in one.locator(".explorer-info").inner_text(), "the locked query keeps the panel"
            dimmed = one.locator("tr.explorer-dim").count()
            assert dimmed == 4, f"{dimmed} rows dimmed, expected every row but the locked one"
            one.locator("tr.explorer-row[data-query='1'] th").click()
            assert "locked" not in one.locator(".explorer-info").inner_text()
        with steps("the mean of the heads, and the other explorer unchanged"):
            one.locator("select[aria-label=head]").select_option("mean")
            one.locator("tr.explorer-row[data-query='0'] td[data-key='0']").hover()
            assert f"{weights[1, :, 0, 0].mean():.3f}" in one.locator(".explorer-info").inner_text()
            assert two.locator("select[aria-label=head]").input_value() == "0"
            assert two.locator("select[aria-label=layer]").count() == 0, "one layer: no layer selector"
        with steps("keyboard: focus a row and lock it with Enter"):
            two.locator("tr.explorer-row[data-query='2']").focus()
            page.keyboard.press("Enter")
            assert "locked" in two.locator(".explorer-info").inner_text()
        page.screenshot(path=str(shots / "explorer.png"), full_page=True)
        assert not errors, errors
        assert not outside, f"requests outside the page: {outside}"
    finally:
        context.close()


def test_sampling_explorer_sliders_match_python(browser, tmp_path, shots, steps):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 20)) * 2.5
    labels = [chr(ord("a") + i) for i in range(20)]
    explorer = helpers.explore_sampling(logits, labels, ["first", "second"], temperature=1.0, shown=20)
    page_file = explorer.save_html(tmp_path / "sampling.html")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    steps.page = page
    try:
        page.goto(page_file.as_uri())
        root = page.locator(f"#{explorer.id}")
        root.locator("table.explorer-bars tr").first.wait_for()

        def set_slider(label, value):
            root.locator(f"input[aria-label='{label}']").evaluate(
                "(input, value) => { input.value = value; input.dispatchEvent(new Event('input')); }", str(value))

        for row, temperature, top_k, top_p in ((0, 1.0, 20, 1.0), (1, 0.5, 5, 1.0), (1, 2.0, 20, 0.6),
                                               (0, 1.5, 8, 0.8), (0, 0.0, 20, 1.0)):
            with steps(f"row {row}, temperature {temperature}, top-k {top_k}, top-p {top_p}"):
                root.locator("select").select_option(str(row))
                set_slider("temperature", temperature)
                set_slider("top-k", top_k)
                set_slider("top-p", top_p)
                shown = {int(tr.get_attribute("data-token")): float(tr.locator(".explorer-probability").inner_text())
                         for tr in root.locator("table.explorer-bars tr").all()}
                expected = explorer.probabilities(row, temperature, None if top_k == 20 else top_k,
                                                  None if top_p == 1.0 else top_p)
                assert len(shown) == 20
                for token, value in shown.items():
                    assert abs(value - expected[token]) <= 0.5e-4 + 1e-9, (token, value, expected[token])
        page.screenshot(path=str(shots / "sampling_explorer.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
