"""Explorers that work offline. An attention explorer: choose a layer and a head, hover a query to read its weights
over the keys, click to lock it (click again to unlock), one colour scale with a legend. A sampling explorer:
next-token probabilities under temperature, top-k and top-p sliders (``helpers.explore_sampling``).

``helpers.explore(weights, query_labels, key_labels)`` returns an :class:`AttentionExplorer`, which a notebook
displays (``_repr_html_``) and :meth:`AttentionExplorer.save_html` writes as a standalone page. Everything it needs
is in its own HTML: a picture of the first view (what JupyterLab shows before the notebook is trusted, since it does
not run the scripts of untrusted outputs) and the script, written in the course, with no network, no CDN and no
JavaScript library. Each explorer keeps its state inside its own element, so several work side by side on one page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from pathlib import Path

import numpy as np

from helpers._checks import check_float, check_int

KINDS = ("attention", "any")

# The start of every explorer's script: find its own element (once), read its data, hide the picture, show the
# view; el() builds an element with attributes and text.
_PREAMBLE = r"""
(function () {
  const root = document.getElementById("%(id)s");
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const data = JSON.parse(root.querySelector("script.explorer-data").textContent);
  const picture = root.querySelector(".explorer-static");
  if (picture) picture.style.display = "none";
  const view = root.querySelector(".explorer-view");
  view.style.display = "block";
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
"""

_SCRIPT = _PREAMBLE + r"""  const nLayers = data.weights.length, nHeads = data.weights[0].length;
  const nQ = data.query_labels.length, nK = data.key_labels.length;
  const colours = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];   // viridis
  function colour(value) {
    const t = Math.max(0, Math.min(1, (value - data.vmin) / ((data.vmax - data.vmin) || 1)));
    const x = t * (colours.length - 1), i = Math.min(Math.floor(x), colours.length - 2), f = x - i;
    const c = colours[i].map((v, j) => Math.round(v + f * (colours[i + 1][j] - v)));
    return "rgb(" + c.join(",") + ")";
  }
  function textColour(value) {
    const t = (value - data.vmin) / ((data.vmax - data.vmin) || 1);
    return t > 0.6 ? "#000" : "#fff";
  }
  const controls = el("div", {"class": "explorer-controls"});
  function selector(label, names, allLabel) {
    const wrap = el("label", {}, label + " ");
    const select = el("select", {"aria-label": label});
    names.forEach((name, i) => select.appendChild(el("option", {"value": String(i)}, name)));
    if (allLabel) select.appendChild(el("option", {"value": "mean"}, allLabel));
    wrap.appendChild(select);
    controls.appendChild(wrap);
    return select;
  }
  const layerSelect = nLayers > 1 ? selector("layer", data.layer_names) : null;
  const headSelect = selector("head", data.head_names, nHeads > 1 ? "mean of the heads" : null);
  view.appendChild(controls);
  const info = el("div", {"class": "explorer-info", "aria-live": "polite"},
                  "hover a query (row) to read its weights; click to lock it");
  view.appendChild(info);
  const table = el("table", {"class": "explorer-grid"});
  view.appendChild(table);
  const legend = el("div", {"class": "explorer-legend"});
  const bar = el("span", {"class": "explorer-bar"});
  bar.style.background = "linear-gradient(to right," + [0, 0.25, 0.5, 0.75, 1].map(
    t => colour(data.vmin + t * (data.vmax - data.vmin))).join(",") + ")";
  legend.appendChild(el("span", {}, data.vmin.toFixed(data.precision) + " "));
  legend.appendChild(bar);
  legend.appendChild(el("span", {}, " " + data.vmax.toFixed(data.precision) + "  (" + data.value_name + ")"));
  if (data.marks) legend.appendChild(el("span", {"class": "explorer-mark-key"}, "  outlined: " + data.marks_label));
  view.appendChild(legend);
  let locked = null;
  function current() {
    const layer = layerSelect ? Number(layerSelect.value) : 0;
    const heads = data.weights[layer];
    if (headSelect.value === "mean") {
      return heads[0].map((row, q) => row.map((_, k) => heads.reduce((s, h) => s + h[q][k], 0) / nHeads));
    }
    return heads[Number(headSelect.value)];
  }
  function describe(q, k, matrix) {
    const which = (layerSelect ? data.layer_names[Number(layerSelect.value)] + ", " : "") +
      (headSelect.value === "mean" ? "mean of the heads" : data.head_names[Number(headSelect.value)]);
    let text = which + " · query " + JSON.stringify(data.query_labels[q]);
    if (k !== null) {
      text += " → key " + JSON.stringify(data.key_labels[k]) + ": " + matrix[q][k].toFixed(data.precision);
    }
    if (locked === q) text += " (locked; click the row again to unlock)";
    info.textContent = text;
  }
  function draw() {
    const matrix = current();
    table.textContent = "";
    const head = el("tr");
    head.appendChild(el("th", {}, ""));
    data.key_labels.forEach(label => head.appendChild(el("th", {"class": "explorer-key", "scope": "col"}, label)));
    table.appendChild(head);
    matrix.forEach((row, q) => {
      const tr = el("tr", {"class": "explorer-row", "tabindex": "0", "data-query": String(q)});
      if (locked === q) tr.classList.add("explorer-locked");
      tr.appendChild(el("th", {"scope": "row"}, data.query_labels[q]));
      row.forEach((value, k) => {
        const td = el("td", {"data-key": String(k), "data-value": value.toFixed(data.precision)},
                      data.show_numbers ? value.toFixed(Math.min(2, data.precision)).replace(/^0\./, ".") : "");
        td.style.background = colour(value);
        td.style.color = textColour(value);
        if (data.marks && data.marks[q].includes(k)) td.classList.add("explorer-mark");
        td.addEventListener("mouseenter", () => { if (locked === null || locked === q) describe(q, k, matrix); });
        tr.appendChild(td);
      });
      tr.addEventListener("mouseenter", () => { if (locked === null) { highlight(q); describe(q, null, matrix); } });
      const toggle = () => {
        locked = locked === q ? null : q;
        draw();
        highlight(locked);
        describe(q, null, current());
      };
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", event => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
      });
      table.appendChild(tr);
    });
    table.addEventListener("mouseleave", () => { if (locked === null) highlight(null); });
  }
  function highlight(q) {
    table.querySelectorAll("tr.explorer-row").forEach(tr => {
      tr.classList.toggle("explorer-dim", q !== null && Number(tr.dataset.query) !== q);
    });
  }
  if (layerSelect) layerSelect.addEventListener("change", () => { draw(); highlight(locked); });
  headSelect.addEventListener("change", () => { draw(); highlight(locked); });
  draw();
})();
"""

_STYLE = """
#%(id)s .explorer-view { display: none; font: 12px sans-serif; }
#%(id)s .explorer-controls label { margin-right: 1em; }
#%(id)s .explorer-info { margin: 4px 0; min-height: 1.4em; }
#%(id)s table.explorer-grid { border-collapse: collapse; }
#%(id)s table.explorer-grid td { width: 22px; height: 18px; text-align: center; font-size: 9px; padding: 0;
  border: 1px solid #fff; cursor: pointer; }
#%(id)s table.explorer-grid th { font-weight: normal; padding: 0 3px; white-space: pre; }
#%(id)s th.explorer-key { writing-mode: vertical-rl; transform: rotate(180deg); height: auto; }
#%(id)s tr.explorer-dim td { opacity: 0.25; }
#%(id)s tr.explorer-locked th { font-weight: bold; text-decoration: underline; }
#%(id)s tr.explorer-row:focus { outline: 2px solid #e66; }
#%(id)s .explorer-bar { display: inline-block; width: 160px; height: 10px; vertical-align: middle; }
#%(id)s td.explorer-mark { box-shadow: inset 0 0 0 2px #e4002b; }
"""


class _Explorer:
    """What every explorer shares: its HTML (title, style, picture, data, script), its display in a notebook, and a
    standalone page. A subclass sets the class attributes and writes ``payload`` and ``_figure``."""
    _css_class = _style = _script = _alt = ""

    def payload(self) -> dict:
        raise NotImplementedError

    def _figure(self):
        """A matplotlib figure of the first view, shown where scripts do not run."""
        raise NotImplementedError

    def _picture(self) -> str:
        """``_figure`` as a base64 PNG."""
        import matplotlib.pyplot as plt

        fig = self._figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def to_html(self) -> str:
        """The explorer as an HTML fragment: its picture, its data, its style and its script."""
        data = json.dumps(self.payload(), separators=(",", ":")).replace("</", "<\\/")
        title = f"<div class='explorer-title'><b>{html.escape(self.title)}</b></div>" if self.title else ""
        return (f"<div id='{self.id}' class='{self._css_class}'>{title}"
                f"<style>{self._style % {'id': self.id}}</style>"
                f"<img class='explorer-static' alt='{html.escape(self.title or self._alt)}' "
                f"src='data:image/png;base64,{self._picture()}'/>"
                f"<div class='explorer-view'></div>"
                f"<script type='application/json' class='explorer-data'>{data}</script>"
                f"<script>{self._script % {'id': self.id}}</script></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path) -> Path:
        """Write the explorer as a standalone page (works offline) and return its path."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"path must end in .html, got {str(path)!r}")
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title or self._alt)}"
                f"</title></head><body>{self.to_html()}</body></html>")
        path.write_text(page, encoding="utf-8")
        return path


class AttentionExplorer(_Explorer):
    """Attention weights of one or more layers and heads, explorable in a notebook and on a web page, offline.

    Introduced in the course's notebooks as ``helpers.explore(...)``: see :func:`explore` for the arguments.
    ``payload()`` is exactly what the page receives (the weights rounded to ``precision`` decimals);
    ``_repr_html_()`` displays it in a notebook; :meth:`save_html` writes a standalone page.
    """
    _css_class, _style, _script, _alt = "attention-explorer", _STYLE, _SCRIPT, "attention weights"

    def __init__(self, weights, query_labels, key_labels, *, title: str = "", layer_names=None, head_names=None,
                 kind: str = "attention", precision: int = 3, show_numbers: bool = False, value_name: str = "weight",
                 marks=None, marks_label: str = "marked"):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim == 3:
            weights = weights[None]
        if weights.ndim != 4 or 0 in weights.shape:
            raise ValueError("weights must have shape (heads, queries, keys) or (layers, heads, queries, keys), got "
                             f"shape {np.shape(weights)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not np.isfinite(weights).all():
            raise ValueError(f"weights must be finite numbers, got {int((~np.isfinite(weights)).sum())} NaN or "
                             "infinite value(s)")
        layers, heads, n_queries, n_keys = weights.shape
        if kind == "attention":
            if (weights < 0).any():
                raise ValueError(f"weights of kind='attention' must be >= 0, got a minimum of {weights.min():.3g}; "
                                 "pass kind='any' for other numbers")
            sums = weights.sum(axis=-1)
            bad = ~(np.isclose(sums, 1.0, atol=1e-3) | (sums == 0.0))
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"weights of kind='attention' must sum to 1 over the keys (or to 0 for a query that "
                                 f"sees no key); (layer, head, query) {where} sums to {sums[where]:.4f}; pass "
                                 "kind='any' for other numbers")
        self.query_labels = self._labels("query_labels", query_labels, n_queries)
        self.key_labels = self._labels("key_labels", key_labels, n_keys)
        self.layer_names = self._labels("layer_names", layer_names or [f"layer {i + 1}" for i in range(layers)],
                                        layers)
        self.head_names = self._labels("head_names", head_names or [f"head {i + 1}" for i in range(heads)], heads)
        self.precision = check_int("precision", precision, 1, 6)
        if not isinstance(show_numbers, bool):
            raise ValueError(f"show_numbers must be True or False, got {show_numbers!r}")
        self.show_numbers = show_numbers
        self.title = str(title)
        self.value_name = str(value_name)
        self.kind = kind
        self.weights = weights
        self.marks = None
        if marks is not None:
            if len(marks) != n_queries:
                raise ValueError(f"marks must have one list of key indices per query ({n_queries}), got {len(marks)}")
            self.marks = []
            for query, keys in enumerate(marks):
                keys = [int(k) for k in (keys or [])]
                if any(k < 0 or k >= n_keys for k in keys):
                    raise ValueError(f"marks[{query}] must hold key indices in [0, {n_keys - 1}], got {keys}")
                self.marks.append(keys)
        self.marks_label = str(marks_label)
        self.id = f"explorer-{uuid.uuid4().hex[:12]}"

    @staticmethod
    def _labels(name: str, labels, count: int) -> list[str]:
        labels = [str(label) for label in labels]
        if len(labels) != count:
            raise ValueError(f"{name} must have {count} entries (one per {'row' if 'query' in name else 'entry'} of "
                             f"weights), got {len(labels)}")
        return labels

    def payload(self) -> dict:
        """What the page receives: labels, names, the colour scale and the weights rounded to ``precision``."""
        rounded = np.round(self.weights, self.precision)
        return {"weights": rounded.tolist(), "query_labels": self.query_labels, "key_labels": self.key_labels,
                "layer_names": self.layer_names, "head_names": self.head_names, "precision": self.precision,
                "vmin": float(min(0.0, rounded.min())), "vmax": float(rounded.max()),
                "show_numbers": self.show_numbers, "value_name": self.value_name, "marks": self.marks,
                "marks_label": self.marks_label}

    def _figure(self):
        import matplotlib.pyplot as plt

        from helpers.plotting import plot_attention_heatmap

        n_queries, n_keys = self.weights.shape[2:]
        fig, ax = plt.subplots(figsize=(min(2 + 0.28 * n_keys, 9), min(1.5 + 0.24 * n_queries, 7)), dpi=72)
        title = f"{self.title} · {self.layer_names[0]}, {self.head_names[0]}".strip(" ·")
        plot_attention_heatmap(self.weights[0, 0], self.key_labels, self.query_labels, ax=ax, title=title,
                               vmax=float(self.weights.max()), colorbar_label=self.value_name)
        return fig

    def __repr__(self) -> str:
        layers, heads, n_queries, n_keys = self.weights.shape
        return (f"AttentionExplorer({self.title!r}: {layers} layer(s) × {heads} head(s), {n_queries} queries × "
                f"{n_keys} keys)")


def explore(weights, query_labels, key_labels, **options) -> AttentionExplorer:
    """An explorer of attention weights, displayed by the notebook, working offline.

    Parameters
    ----------
    weights : array (heads, queries, keys) or (layers, heads, queries, keys)
        With ``kind="attention"`` (the default) every row must be >= 0 and sum to 1 over the keys (or be all 0,
        a query that may see no key); ``kind="any"`` accepts any finite numbers (probabilities of a vocabulary,
        scores).
    query_labels, key_labels : sequences of labels (tokens, characters, patches), one per query / key.
    title : str
    layer_names, head_names : optional labels for the selectors ("layer 1", "head 1", ... by default).
    precision : int in [1, 6], decimals of the numbers shown (the weights are rounded to it in the page).
    show_numbers : bool, print each weight in its cell (for small grids).
    value_name : str, what the legend calls the numbers ("weight").
    marks : optional, one list of key indices per query: cells to outline (an answer key: where each output's
        source field lies); marks_label : what the legend calls them.
    """
    return AttentionExplorer(weights, query_labels, key_labels, **options)


_SAMPLING_SCRIPT = _PREAMBLE + r"""  const vocab = data.token_labels.length;
  // the distribution of helpers.layers.sampling_distribution: temperature, then top-k, then top-p, renormalised
  function distribution(logits, temperature, topK, topP) {
    const n = logits.length;
    if (temperature === 0) {
      let best = 0;
      for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
      return logits.map((_, i) => (i === best ? 1 : 0));
    }
    let scaled = logits.map(v => v / temperature);
    if (topK < n) {
      const kth = scaled.slice().sort((a, b) => b - a)[topK - 1];
      scaled = scaled.map(v => (v >= kth ? v : -Infinity));
    }
    const top = Math.max(...scaled);
    let probs = scaled.map(v => Math.exp(v - top));
    let total = probs.reduce((a, b) => a + b, 0);
    probs = probs.map(v => v / total);
    if (topP < 1) {
      const order = probs.map((p, i) => i).sort((a, b) => (probs[b] - probs[a]) || (a - b));
      let before = 0;
      const keep = new Array(n).fill(false);
      for (const i of order) { keep[i] = before < topP; before += probs[i]; }
      probs = probs.map((p, i) => (keep[i] ? p : 0));
      total = probs.reduce((a, b) => a + b, 0);
      probs = probs.map(v => v / total);
    }
    return probs;
  }
  const controls = el("div", {"class": "explorer-controls"});
  function control(label, attrs) {
    const wrap = el("label", {}, label + " ");
    const input = el("input", Object.assign({"aria-label": label}, attrs));
    const shown = el("output", {}, "");
    wrap.appendChild(input);
    wrap.appendChild(shown);
    controls.appendChild(wrap);
    return [input, shown];
  }
  const rowLabel = el("label", {}, data.row_name + " ");
  const rowSelect = el("select", {"aria-label": data.row_name});
  data.row_labels.forEach((name, i) => rowSelect.appendChild(el("option", {"value": String(i)}, name)));
  rowLabel.appendChild(rowSelect);
  controls.appendChild(rowLabel);
  const [temperature, temperatureShown] = control("temperature", {"type": "range", "min": "0", "max": "4",
                                                                  "step": "0.1", "value": String(data.temperature)});
  const [topK, topKShown] = control("top-k", {"type": "range", "min": "1", "max": String(vocab), "step": "1",
                                              "value": String(data.top_k)});
  const [topP, topPShown] = control("top-p", {"type": "range", "min": "0.05", "max": "1", "step": "0.05",
                                              "value": String(data.top_p)});
  view.appendChild(controls);
  const info = el("div", {"class": "explorer-info", "aria-live": "polite"}, "");
  view.appendChild(info);
  const table = el("table", {"class": "explorer-bars"});
  view.appendChild(table);
  function draw() {
    const t = Number(temperature.value), k = Number(topK.value), p = Number(topP.value);
    temperatureShown.textContent = t === 0 ? "0 (greedy)" : t.toFixed(1);
    topKShown.textContent = k >= vocab ? "off" : String(k);
    topPShown.textContent = p >= 1 ? "off" : p.toFixed(2);
    const probs = distribution(data.logits[Number(rowSelect.value)], t, k, p);
    const order = probs.map((q, i) => i).sort((a, b) => (probs[b] - probs[a]) || (a - b));
    const kept = probs.filter(q => q > 0).length;
    info.textContent = kept + " token" + (kept === 1 ? "" : "s") + " can be drawn; the " + data.shown +
      " most likely are listed";
    table.textContent = "";
    order.slice(0, data.shown).forEach(i => {
      const tr = el("tr", {"data-token": String(i)});
      tr.appendChild(el("th", {"scope": "row"}, data.token_labels[i]));
      const cell = el("td", {"class": "explorer-bar-cell"});
      const bar = el("span", {"class": "explorer-bar"});
      bar.style.width = Math.round(300 * probs[i]) + "px";
      cell.appendChild(bar);
      tr.appendChild(cell);
      tr.appendChild(el("td", {"class": "explorer-probability"}, probs[i].toFixed(data.precision)));
      if (probs[i] === 0) tr.classList.add("explorer-dropped");
      table.appendChild(tr);
    });
  }
  [temperature, topK, topP].forEach(input => input.addEventListener("input", draw));
  rowSelect.addEventListener("change", draw);
  draw();
})();
"""

_SAMPLING_STYLE = """
#%(id)s .explorer-view { display: none; font: 12px sans-serif; }
#%(id)s .explorer-controls label { margin-right: 1.2em; }
#%(id)s .explorer-controls output { display: inline-block; min-width: 4.5em; }
#%(id)s .explorer-info { margin: 4px 0; }
#%(id)s table.explorer-bars th { font-weight: normal; text-align: right; padding-right: 4px; white-space: pre; }
#%(id)s .explorer-bar { display: inline-block; height: 10px; background: #3b528b; }
#%(id)s tr.explorer-dropped { color: #aaa; }
"""


class SamplingExplorer(_Explorer):
    """Next-token probabilities under temperature, top-k and top-p, with sliders, computed in the browser exactly as
    :func:`helpers.layers.sampling_distribution` computes them (in double precision, from the logits the page
    receives, rounded to ``logit_precision`` decimals). See :func:`explore_sampling`."""
    _css_class, _style, _script = "sampling-explorer", _SAMPLING_STYLE, _SAMPLING_SCRIPT
    _alt = "next-token probabilities"

    def __init__(self, logits, token_labels, row_labels, *, title: str = "", row_name: str = "position",
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, shown: int = 12,
                 precision: int = 4, logit_precision: int = 4):
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or 0 in logits.shape:
            raise ValueError(f"logits must have shape (rows, vocab), got shape {np.shape(logits)}")
        if not np.isfinite(logits).all():
            raise ValueError("logits must be finite numbers (a token ruled out by -inf cannot be shown on a slider), "
                             f"got {int((~np.isfinite(logits)).sum())} other value(s)")
        rows, vocab = logits.shape
        self.token_labels = AttentionExplorer._labels("token_labels", token_labels, vocab)
        self.row_labels = AttentionExplorer._labels("row_labels", row_labels, rows)
        self.temperature = round(check_float("temperature", temperature, 0.0, 4.0), 1)
        self.top_k = vocab if top_k is None else check_int("top_k", top_k, 1, vocab)
        self.top_p = 1.0 if top_p is None else check_float("top_p", top_p, 0.0, 1.0, open_min=True)
        self.shown = check_int("shown", shown, 1)
        self.precision = check_int("precision", precision, 1, 8)
        self.logit_precision = check_int("logit_precision", logit_precision, 1, 8)
        self.title, self.row_name = str(title), str(row_name)
        self.logits = logits
        self.id = f"explorer-{uuid.uuid4().hex[:12]}"

    def payload(self) -> dict:
        return {"logits": np.round(self.logits, self.logit_precision).tolist(), "token_labels": self.token_labels,
                "row_labels": self.row_labels, "row_name": self.row_name, "temperature": self.temperature,
                "top_k": self.top_k, "top_p": self.top_p, "shown": min(self.shown, len(self.token_labels)),
                "precision": self.precision}

    def probabilities(self, row: int, temperature: float, top_k: int | None = None, top_p: float | None = None):
        """What the page shows for these settings: :func:`helpers.layers.sampling_distribution` of the logits it
        received (rounded), float64 (vocab,)."""
        from helpers.layers.decoding import sampling_distribution

        logits = np.round(self.logits[row:row + 1], self.logit_precision)
        return sampling_distribution(logits, temperature, top_k, top_p)[0]

    def _figure(self):
        import matplotlib.pyplot as plt

        probs = self.probabilities(0, self.temperature, None if self.top_k >= len(self.token_labels) else self.top_k,
                                   None if self.top_p >= 1 else self.top_p)
        order = np.argsort(-probs, kind="stable")[:self.payload()["shown"]]
        fig, ax = plt.subplots(figsize=(5, 0.25 * len(order) + 1), dpi=72)
        ax.barh(range(len(order))[::-1], probs[order])
        ax.set_yticks(range(len(order))[::-1], [self.token_labels[i] for i in order])
        ax.set(xlabel="probability", ylabel="next token (most probable first)",
               title=f"{self.title} · {self.row_labels[0]}, temperature {self.temperature}".strip(" ·"))
        return fig

    def __repr__(self) -> str:
        return f"SamplingExplorer({self.title!r}: {len(self.row_labels)} rows × {len(self.token_labels)} tokens)"


def explore_sampling(logits, token_labels, row_labels, **options) -> SamplingExplorer:
    """Next-token probabilities with temperature, top-k and top-p sliders, computed in the browser.

    Parameters
    ----------
    logits : array (rows, vocab), e.g. a model's logits at several output positions.
    token_labels : one label per vocabulary entry; row_labels : one per row.
    title, row_name : str ("position" names the row selector).
    temperature : float in [0, 4] (0: greedy), top_k : int or None (off), top_p : float in (0, 1] or None (off):
        the sliders' starting values.
    shown : int, how many of the most likely tokens are listed; precision : decimals of the probabilities shown;
    logit_precision : decimals of the logits the page receives.
    """
    return SamplingExplorer(logits, token_labels, row_labels, **options)
