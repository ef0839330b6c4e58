"""Plots the course draws again and again.

Every function takes ``ax=None`` (a new figure when omitted), returns the ``Axes`` and
never shows or saves anything itself. Importing this module changes no global style:
call :func:`use_style` once in a notebook for the course look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

#: The course look: small, light figures (modest DPI keeps notebooks small).
STYLE = {
    "figure.dpi": 72,
    "savefig.dpi": 72,
    "figure.figsize": (6.4, 3.2),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
}


def use_style() -> None:
    """Apply the course's matplotlib style (:data:`STYLE`).

    Introduced in notebooks/01_weighted_sum_intuition.ipynb.
    """
    plt.rcParams.update(STYLE)


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_attention_bars(weights, labels: Sequence | None = None, highlight=None, ax=None,
                        title: str = "Attention weights", xlabel: str = "position",
                        ylabel: str = "attention weight"):
    """Bar plot of attention weights over positions.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb.

    Parameters
    ----------
    weights : array-like (k,)
        One weight per position.
    labels : sequence of length k, optional
        Tick labels; default ``0 … k-1``.
    highlight : int or sequence of int, optional
        Positions drawn in an accent colour (e.g. the informative timestep).
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 1:
        raise ValueError(f"weights must be 1-D (one weight per position), got shape {weights.shape}")
    k = weights.shape[0]
    if labels is not None and len(labels) != k:
        raise ValueError(f"labels must have {k} entries (one per weight), got {len(labels)}")
    marked = set(np.atleast_1d(highlight).tolist()) if highlight is not None else set()
    for position in marked:
        if not 0 <= position < k:
            raise ValueError(f"highlight must be positions in [0, {k - 1}], got {position}")
    ax = _axes(ax)
    colours = ["tab:orange" if i in marked else "tab:blue" for i in range(k)]
    ax.bar(np.arange(k), weights, color=colours)
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels([str(label) for label in labels] if labels is not None else range(k),
                       rotation=90 if k > 16 else 0, fontsize=8 if k > 12 else None)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_attention_heatmap(weights, x_tokens: Sequence, y_tokens: Sequence, ax=None,
                           title: str = "Attention map", xlabel: str = "attended (keys)",
                           ylabel: str = "attending (queries)", colorbar: bool = True, vmax: float | None = None,
                           colorbar_label: str = "attention weight"):
    """Heat map of an attention matrix with the tokens on both axes.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb.

    Parameters
    ----------
    weights : array-like (len(y_tokens), len(x_tokens))
        Row i holds the weights that query i gives to each key.
    x_tokens, y_tokens : sequences of str
        Key tokens (columns) and query tokens (rows).
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str
    colorbar : bool
        Draw a colour bar beside the map.
    colorbar_label : str
        What the colour bar measures (e.g. ``"mean weight over the test set"``).
    vmax : float or None
        Top of the colour scale (the bottom is 0); ``None`` means the largest weight. Give several maps the
        same ``vmax`` to put them on one scale.

    Returns
    -------
    matplotlib.axes.Axes
    """
    weights = np.asarray(weights, dtype=float)
    expected = (len(y_tokens), len(x_tokens))
    if weights.shape != expected:
        raise ValueError(f"weights must have shape (len(y_tokens), len(x_tokens)) = {expected}, "
                         f"got {weights.shape}")
    ax = _axes(ax)
    if vmax is not None and not (np.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax must be a positive number or None, got {vmax!r}")
    image = ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=vmax)
    ax.set_xticks(np.arange(len(x_tokens)))
    ax.set_xticklabels([str(t) for t in x_tokens], fontsize=8)
    ax.set_yticks(np.arange(len(y_tokens)))
    ax.set_yticklabels([str(t) for t in y_tokens], fontsize=8)
    ax.grid(False)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=colorbar_label)
    return ax


def plot_training_curves(history, metrics: Sequence[str] = ("loss",), ax=None,
                         title: str = "Training curves"):
    """Training (and validation, where recorded) curves against epochs.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb.

    Parameters
    ----------
    history : keras History or mapping of metric name -> list of values
        What ``model.fit`` returns, or its ``.history``.
    metrics : sequence of str
        Metric names to draw; ``val_<name>`` is drawn dashed when present.
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    logs = history.history if hasattr(history, "history") else history
    if not isinstance(logs, Mapping):
        raise ValueError(f"history must be a keras History or a mapping, got {type(history).__name__}")
    missing = [name for name in metrics if name not in logs]
    if missing:
        raise ValueError(f"metrics {missing} not in history; available: {sorted(logs)}")
    ax = _axes(ax)
    for name in metrics:
        values = logs[name]
        epochs = np.arange(1, len(values) + 1)
        (line,) = ax.plot(epochs, values, marker="o", markersize=3, label=f"train {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], linestyle="--", color=line.get_color(),
                    label=f"validation {name}")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(", ".join(metrics))
    ax.legend()
    return ax
