"""The README's tables, written from seed sweeps, never by hand (``python -m helpers.course table``).

``table`` reads one or more ``sweep.json`` files (any backend, any seeds), keeps a small summary
of them in ``notebooks/sweep-summary.json`` and rewrites the README between its table markers:

* the notebook table: wall time of a seed-0 run and headline metrics as median [min-max] over the
  calibration seeds (0-9) on TensorFlow, plus a line on the held-out seeds (10 and up) and whether
  every claim held on them;
* the backend table: per notebook and backend, which seeds passed, the seed-0 wall time and the
  first headline metric.

The summary is also where ``helpers.claim`` finds each claim's calibrated range, and the tests check
the README against it (``tests/test_readme.py``) and every committed render's headline metrics against
the README's ranges.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from helpers import calibration, claims, paths

README = paths.REPO_ROOT / "README.md"
SUMMARY_FILE = claims.SUMMARY_FILE
CALIBRATION_SEEDS = list(range(10))
#: The fewest calibration seeds from which a claim's range is stored (and printed by ``helpers.claim``).
MIN_SEEDS = 5
DEFAULT_BACKEND = "tensorflow"
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
MARKERS = {"notebooks": ("<!-- table:notebooks (python -m helpers.course table) -->", "<!-- /table:notebooks -->"),
           "backends": ("<!-- table:backends (python -m helpers.course table) -->", "<!-- /table:backends -->")}

#: Per notebook: its title, what a learner takes away, and its headline metrics as (label, key, is a timing).
#: A timing's value moves with the machine's load, so the render test does not hold it to the sweep's range.
NOTEBOOKS = {
    "01_weighted_sum_intuition": (
        "Attention is a weighted sum",
        "scores → softmax → weights; temperature; query, key and value; `keras.ops`; kernel regression as attention; "
        "the article's three-line model is a softmax re-weighting, and why its weights concentrate (the L2 mechanism, "
        "measured); attention is not an explanation by itself",
        [("mass on the informative feature with the L2 head", "attention_mass_informative", False),
         ("article's model", "article_model_attention_mass_informative", False),
         ("test accuracy", "test_accuracy", False)]),
    "02_timestep_attention": (
        "Attention over timesteps",
        "the Permute → Dense(T, softmax) → Multiply re-weighting as a layer, before vs after an LSTM, with a probe "
        "showing which states know the label; attention pooling with a learned query, which runs at any length "
        "but does not generalise to it; a forecaster's driving lag read off its attention, and its train/validation "
        "gap taken apart",
        [("test accuracy, attention before the LSTM", "before_lstm_test_accuracy", False),
         ("after the LSTM: mass on states that know y", "after_lstm_mass_on_states_that_know_y", False),
         ("forecast MSE / naive", "forecast_mse_vs_naive", False)]),
    "03_dimension_attention": (
        "Attention over feature dimensions",
        "the re-weighting turned sideways, checked against the transpose trick; a summary that is flat by "
        "construction; why the mass stays below 1 (it rises with the head's L2, measured); permutation importance "
        "beside attention, on a copy of the label where they disagree",
        [("per-sample argmax on dim 5", "dim_argmax_hit_rate", False),
         ("mass on dim 5", "dim_mass_at_target", False),
         ("permutation importance of dim 5", "permutation_importance_at_target", False)]),
    "04_seq2seq_attention": (
        "Translating dates with attention",
        "one additive-attention step by hand with shapes and the padding mask; a GRU encoder–decoder (final state "
        "+ input feeding) translating dates in 10 formats to ISO; dot/general/additive scores checked against "
        "Keras; soft, argmax-at-inference and local-p attention, Luong's decoder step vs Bahdanau's; learning "
        "curves against a no-attention baseline; alignment maps checked against the field spans",
        [("exact match, best variant", "exact_match", False),
         ("no attention after 3 epochs", "baseline_exact_match", False),
         ("alignment accuracy", "alignment_accuracy", False)]),
    "05_self_attention": (
        "Self-attention",
        "feed-forward attention (Raffel & Ellis) with masking on the addition problem against mean pooling, and "
        "why mean pooling fails on long sequences, measured; why a query, a key and a value; scaled dot-product "
        "self-attention checked equal to `keras.layers.Attention`; reversing digits with one self-attention layer "
        "and learned positions",
        [("T = 500 held-out share within tolerance: attention", "attention_best_accuracy.500", False),
         ("mean pooling", "mean_pooling_best_accuracy.500", False),
         ("digit reversal", "self_attention_task_accuracy", False)]),
    "06_multi_head_attention": (
        "Multi-head attention from scratch",
        "heads split two ways; a from-scratch layer that loads Keras' weights and matches it on both of Keras' "
        "code paths (rows that may see no key differ on the default path); the encoder block piece by piece "
        "(post- vs pre-norm); sinusoidal positions; heads that find the left and right neighbour (printed: not at "
        "every seed); the counted cost 8Td² + 4T²d beside the timings",
        [("4 heads accuracy", "transformer_task_accuracy", False),
         ("epochs to 0.99: 4 heads", "multi_head_epochs_to_099", False),
         ("1 head", "single_head_epochs_to_099", False),
         ("time exponent", "attention_time_exponent", True)]),
    "07_mnist_attention_classifier": (
        "An attention classifier on MNIST",
        "the article's 784-pixel attention model, rebuilt and timed: what its sigmoid + `from_logits=True` head "
        "does in Keras 3 (TensorFlow backend), why it is slow and blind to position; 16 overlapping patch tokens "
        "with a Transformer block; the same model without its attention sub-layer, the same tokens with a dense "
        "hidden layer instead of position embedding and block, and a same-size dense baseline; attention maps on "
        "one colour scale",
        [("test accuracy", "test_accuracy", False),
         ("gain from the attention sub-layer", "attention_sublayer_gain", False),
         ("same tokens, dense layer instead of the block", "patch_dense_test_accuracy", False),
         ("dense baseline", "dense_baseline_test_accuracy", False)]),
    "08_causal_decoding": (
        "Causal self-attention and decoding",
        "causal attention from a running average up, tested causal and checked equal to Keras' causal "
        "`MultiHeadAttention` and `ops.dot_product_attention`; a tiny pre-norm decoder-only Transformer on notebook "
        "04's dates; greedy, temperature and top-k decoding in numbers; a KV cache checked equal to full "
        "recomputation, its bytes and its cost per token",
        [("exact match", "decoder_exact_match", False),
         ("parameters", "decoder_parameters", False),
         ("KV cache vs recomputation, max logit diff", "kv_cache_max_logit_diff", False)]),
    "09_transformer_translation": (
        "The encoder–decoder Transformer",
        "cross-attention built step by step (decoder queries, encoder keys and values, the source padding mask, no "
        "causal mask) and checked equal to Keras' `MultiHeadAttention`; an encoder–decoder Transformer from the "
        "course's blocks on notebook 04's dates, decoded with the source's keys and values computed once; every "
        "cross-attention head scored against 04's alignment answer key; beam search (width 1 = greedy) with what "
        "it fixes and breaks; 04's RNN, 08's decoder-only and this model side by side",
        [("exact match", "transformer_exact_match", False),
         ("best head's alignment accuracy", "best_head_alignment_accuracy", False),
         ("beam of width 4", "beam_exact_match.4", False),
         ("cross-attention vs Keras", "cross_attention_vs_keras_max_diff", False)]),
    "10_efficient_attention": (
        "Efficient attention",
        "grouped-query and multi-query attention checked equal to `keras.layers.GroupQueryAttention`, with KV-cache "
        "bytes per token; rotary positions and their relative-position property, with a length-extrapolation "
        "test; sliding windows checked equal to Keras' `sliding_window`; the online softmax and tiled attention "
        "(FlashAttention's idea) checked equal to naive attention, with memory and time, and tiles over queries and "
        "keys that skip what a causal mask hides",
        [("GQA vs Keras max diff", "gqa_vs_keras_max_diff", False),
         ("RoPE relative max diff", "rope_relative_max_diff", False),
         ("sliding window vs Keras", "sliding_window_vs_keras_max_diff", False),
         ("tiled vs naive", "tiled_vs_naive_max_diff", False),
         ("RoPE beyond the training length (T = 64)", "length_extrapolation_beyond_training.RoPE.64", False),
         ("MLA absorbed vs plain", "mla_absorbed_vs_plain_max_diff", False)]),
    "11_serving_attention": (
        "Attention at inference scale",
        "this machine's memory bandwidth and arithmetic rate measured, prefill and decode counted and placed on its "
        "roofline; a decoder step as one pure function with a fixed-shape cache, compiled (XLA on TensorFlow and "
        "JAX) and checked equal to 08's model, with tokens per second with and without the cache and against the "
        "batch; paged and prefix caches checked bit-identical; greedy speculative decoding checked equal to the "
        "target's greedy output, with its acceptance rate and where tiny models make it slower; top-p checked minimal",
        [("cache speed-up at 1,024 tokens", "cache_speedup_tokens_per_s", True),
         ("decode's share of the copy bandwidth", "decode_fraction_of_bandwidth", True),
         ("target exact match", "target_exact_match", False)]),
}


def load_runs(sweep_files: list[Path]) -> list[dict]:
    """Every run of the given ``sweep.json`` files (or a ``run``'s ``summary.json``), each with its backend, seed,
    status, metrics and claims.

    Runs recorded before the sweep stored claims get them from the results file beside the executed notebook.
    """
    runs = []
    for sweep_file in sweep_files:
        sweep_file = Path(sweep_file)
        try:
            stored = json.loads(sweep_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{sweep_file}: no such sweep file; run `python -m helpers.course sweep` first") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{sweep_file} is not valid JSON ({error}); run that sweep again") from None
        if isinstance(stored, list):           # a `run` (or `render`): build/summary.json, one row per notebook
            stored = {"runs": [row for row in stored if row.get("seed") is not None], "parameters": {}}
        for run in stored["runs"]:
            run = dict(run)
            if "claims" not in run:
                results = sweep_file.parent / "sweep" / f"seed{run['seed']}" / "results" / f"{run['notebook']}.json"
                run["claims"] = (json.loads(results.read_text(encoding="utf-8")).get("claims", {})
                                 if results.is_file() else {})
            run["backend"] = run.get("backend") or DEFAULT_BACKEND
            run["overrides"] = run.get("overrides", stored.get("parameters") or {})
            runs.append(run)
    return runs


def summarize(runs: list[dict], wall_seconds: dict[str, float] | None = None) -> dict:
    """The small summary kept in the repo: per notebook on TensorFlow, its calibration (seeds 0-9: metrics and
    claims) and held-out seeds; per other backend, which seeds passed and the seed-0 metrics."""
    runs = [run for run in runs if not run["overrides"]]                 # learner defaults only
    summary: dict = {"calibration_seeds": CALIBRATION_SEEDS, "notebooks": {}, "backends": {}}
    for stem in NOTEBOOKS:
        mine = _latest([run for run in runs if run["notebook"] == stem and run["backend"] == DEFAULT_BACKEND])
        calibrating = [run for run in mine if run["seed"] in CALIBRATION_SEEDS]
        held_out = [run for run in mine if run["seed"] not in CALIBRATION_SEEDS]
        if calibrating:
            entry = {"seeds": [run["seed"] for run in calibrating],
                     "failed": {str(run["seed"]): run["failure"] for run in calibrating if run["status"] != "ok"},
                     "metrics": _metric_stats(calibrating),
                     # a claim's range over fewer seeds says little: below MIN_SEEDS it is left uncalibrated
                     "claims": calibration.claim_stats(calibrating) if len(calibrating) >= MIN_SEEDS else {}}
            seed0 = [run for run in calibrating if run["seed"] == 0]
            if wall_seconds and stem in wall_seconds:
                entry["wall_seconds"] = wall_seconds[stem]
            elif seed0:
                entry["wall_seconds"] = seed0[0]["seconds"]
            if held_out:
                entry["held_out"] = {"seeds": [run["seed"] for run in held_out],
                                     "failed": {str(run["seed"]): _failure(run) for run in held_out
                                                if _failure(run)}}
            summary["notebooks"][stem] = entry
    for backend in sorted({run["backend"] for run in runs}):
        table = {}
        for stem in NOTEBOOKS:
            mine = _latest([run for run in runs if run["notebook"] == stem and run["backend"] == backend])
            if mine:
                first = sorted(mine, key=lambda run: run["seed"])[0]
                table[stem] = {"seeds": sorted(run["seed"] for run in mine),
                               "failed": sorted(run["seed"] for run in mine if _failure(run)),
                               "seed": first["seed"], "seconds": first["seconds"],
                               "metrics": {key: value for key, value in _flat(first["metrics"]).items()
                                           if key in {spec[1] for spec in NOTEBOOKS[stem][2]}}}
        summary["backends"][backend] = table
    return summary


def merge(stored: dict, runs: list[dict], wall_seconds: dict[str, float] | None = None) -> dict:
    """The stored summary with what ``runs`` measured put in.

    A notebook with calibration runs (seeds 0-9) gets a new entry, with the held-out runs among ``runs``; without
    any, it keeps its stored held-out seeds if its claims and their thresholds are unchanged (those seeds tested
    the same claims). A notebook with held-out runs only keeps its calibration and gets those as its held-out
    seeds. A backend's notebook swept again is replaced; ``wall_seconds`` replaces the wall time of the notebooks
    it names. Everything else is kept as stored, so one notebook can be swept again without sweeping the course.
    """
    fresh = summarize(runs, wall_seconds)
    for stem, entry in fresh["notebooks"].items():
        if len(entry["seeds"]) < MIN_SEEDS:
            raise _not_mergeable(stem, entry["seeds"])
    merged = json.loads(json.dumps(stored))                   # a deep copy
    kept_held_out = []
    for stem, entry in fresh["notebooks"].items():
        before = merged["notebooks"].get(stem, {})
        # calibrated again with the same claims (names, directions, thresholds) and no held-out runs given: the
        # stored held-out seeds still test these claims, so they are kept
        if "held_out" not in entry and "held_out" in before and _claim_set(entry) == _claim_set(before):
            entry["held_out"] = before["held_out"]
            kept_held_out.append(stem)
        merged["notebooks"][stem] = entry
    for stem in NOTEBOOKS:
        mine = _latest([run for run in runs if not run["overrides"] and run["notebook"] == stem
                        and run["backend"] == DEFAULT_BACKEND])
        if stem in fresh["notebooks"] or not mine:
            continue
        if stem not in merged["notebooks"] or any(run["seed"] in CALIBRATION_SEEDS for run in mine):
            raise _not_mergeable(stem, sorted(run["seed"] for run in mine))
        merged["notebooks"][stem]["held_out"] = {
            "seeds": sorted(run["seed"] for run in mine),
            "failed": {str(run["seed"]): _failure(run) for run in mine if _failure(run)}}
        row = merged["backends"].get(DEFAULT_BACKEND, {}).get(stem)
        if row is not None:                                    # its calibration seeds and the new held-out ones
            calibrated = merged["notebooks"][stem]["seeds"]
            row["seeds"] = sorted(calibrated) + sorted(run["seed"] for run in mine)
            row["failed"] = sorted([seed for seed in row["failed"] if seed in calibrated]
                                   + [run["seed"] for run in mine if _failure(run)])
    for backend, table in fresh["backends"].items():
        if backend != DEFAULT_BACKEND:
            merged["backends"].setdefault(backend, {}).update(table)
        else:
            merged["backends"].setdefault(backend, {}).update(
                {stem: row for stem, row in table.items() if stem in fresh["notebooks"]})
    for stem in kept_held_out:                                 # the backend row lists the kept held-out seeds too
        row, held = merged["backends"].get(DEFAULT_BACKEND, {}).get(stem), merged["notebooks"][stem]["held_out"]
        if row is not None:
            row["seeds"] = sorted(set(row["seeds"]) | set(held["seeds"]))
            row["failed"] = sorted(set(row["failed"]) | {int(seed) for seed in held["failed"]})
    for stem, seconds in (wall_seconds or {}).items():
        if stem in merged["notebooks"]:
            merged["notebooks"][stem]["wall_seconds"] = seconds
    return merged


def _not_mergeable(stem: str, seeds: list[int]) -> ValueError:
    return ValueError(f"{stem}: {len(seeds)} run(s) on seeds {seeds} cannot be merged: sweep seeds 0-9 (at least "
                      f"{MIN_SEEDS}) to calibrate it, or only held-out seeds (10 and up) for a notebook the stored "
                      "summary calibrates")


def _claim_set(entry: dict) -> set:
    return {(name, claim["direction"], claim["threshold"]) for name, claim in entry.get("claims", {}).items()}


def notebook_table(summary: dict) -> str:
    """The README's notebook table (Markdown), from the stored summary."""
    lines = ["| # | notebook | what you learn | wall time, 2 cores (seed 0) | "
             "headline metrics, median [min–max] over seeds 0–9 |", "|---|---|---|---|---|"]
    held_out_seeds, held_out_failures = set(), []
    for stem, (title, learn, specs) in NOTEBOOKS.items():
        entry = summary["notebooks"].get(stem)
        if entry is None:
            lines.append(f"| {stem[:2]} | [{title}](notebooks/{stem}.ipynb) | {learn} | not swept | — |")
            continue
        metrics = "; ".join(f"{label} {_range(entry['metrics'].get(key), len(entry['seeds']))}"
                            for label, key, _ in specs)
        seconds = entry.get("wall_seconds")
        wall = f"{seconds / 60:.1f} min ({seconds:.0f} s)" if seconds is not None else "—"
        seeds = entry["seeds"]
        if seeds != CALIBRATION_SEEDS:
            metrics += f" (seed{'s' if len(seeds) > 1 else ''} {claims.seed_text(seeds)} only)"
        lines.append(f"| {stem[:2]} | [{title}](notebooks/{stem}.ipynb) | {learn} | {wall} | {metrics} |")
        held = entry.get("held_out")
        if held:
            held_out_seeds.update(held["seeds"])
            held_out_failures += [f"{stem[:2]} at seed {seed}" for seed in held["failed"]]
    swept = summary["notebooks"]
    flagged = sorted(f"{name} ({stem[:2]})" for stem, entry in swept.items()
                     for name in calibration.flagged(entry["claims"]))
    calibrated = sorted(stem[:2] for stem, entry in swept.items() if entry["claims"])
    full = sorted(stem[:2] for stem, entry in swept.items() if entry["seeds"] == CALIBRATION_SEEDS)
    lines += ["", f"Claims calibrated over seeds (at least {MIN_SEEDS}) in notebooks {', '.join(calibrated) or 'none'}"
              f" ({sum(len(swept[s]['claims']) for s in swept)} claims; over all of seeds 0–9: "
              f"{', '.join(full) or 'none'}); "
              + (f"flagged (margin under one spread, or failed at a seed): {', '.join(flagged)}."
                 if flagged else "none flagged (every margin is at least one spread).")]
    if held_out_seeds:
        where = [f"{stem[:2]} at seed{'s' if len(entry['held_out']['seeds']) > 1 else ''} "
                 f"{claims.seed_text(entry['held_out']['seeds'])}"
                 for stem, entry in swept.items() if entry.get("held_out")]
        lines.append(f"Held-out seeds (10 and up), never used to set a threshold, ran on notebook {'; '.join(where)}: "
                     + (f"failures: {', '.join(held_out_failures)}." if held_out_failures else "all passed."))
    return "\n".join(lines)


def backend_table(summary: dict) -> str:
    """The README's backend x notebook table (Markdown), from the stored summary."""
    backends = [name for name in BACKEND_NAMES if name in summary["backends"]]
    lines = ["| notebook | " + " | ".join(BACKEND_NAMES[b] for b in backends) + " |",
             "|---|" + "---|" * len(backends)]
    totals = {backend: 0.0 for backend in backends}
    complete = {backend: True for backend in backends}
    for stem, (_, _, specs) in NOTEBOOKS.items():
        cells = []
        for backend in backends:
            row = summary["backends"][backend].get(stem)
            if row is None:
                cells.append("not run")
                complete[backend] = False
                continue
            passed = [seed for seed in row["seeds"] if seed not in row["failed"]]
            seeds_word = "seed" if len(row["seeds"]) == 1 else "seeds"
            status = (f"pass at {seeds_word} {claims.seed_text(row['seeds'])}" if not row["failed"]
                      else f"{len(passed)}/{len(row['seeds'])} seeds pass (fails at {claims.seed_text(row['failed'])})")
            label, key, _ = specs[0]
            value = row["metrics"].get(key)
            shown = f"; seed {row['seed']}: {row['seconds']:.0f} s, {label} {_fmt(value)}" if value is not None else ""
            cells.append(status + shown)
            totals[backend] += row["seconds"]
        lines.append(f"| {stem[:2]} | " + " | ".join(cells) + " |")
    lines.append("| whole course | " + " | ".join(
        f"{totals[b] / 60:.1f} min" + ("" if complete[b] else " (the notebooks run)") for b in backends) + " |")
    return "\n".join(lines)


def write(summary: dict, readme: Path = README) -> str:
    """Rewrite the README's tables between their markers; return the new text."""
    text = expected_readme(summary, readme)
    readme.write_text(text, encoding="utf-8")
    return text


def expected_readme(summary: dict, readme: Path = README) -> str:
    """What ``write`` would make of the README now (for the tests)."""
    text = readme.read_text(encoding="utf-8")
    for name, table in (("notebooks", notebook_table(summary)), ("backends", backend_table(summary))):
        text = replace_between(text, *MARKERS[name], table, readme)
    return text


def replace_between(text: str, start: str, end: str, body: str, where: Path) -> str:
    """``text`` with what lies between the marker lines ``start`` and ``end`` replaced by ``body``."""
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{where} must hold the lines {start!r} and {end!r}, once each and in that order")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def load_summary(path: Path = SUMMARY_FILE) -> dict:
    """The stored summary, or a ValueError naming the file and the fix."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} is missing; restore it with `git checkout {Path(path).name}` or write it with "
                         "`python -m helpers.course table --sweep build/sweep.json`") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); restore it with `git checkout` or write it again "
                         "with `python -m helpers.course table`") from None


def save_summary(summary: dict, path: Path = SUMMARY_FILE) -> Path:
    Path(path).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
    return Path(path)


def headline(stem: str, metrics: dict) -> dict[str, float]:
    """The README's headline metrics of one notebook from its results (flattened keys)."""
    flat = _flat(metrics)
    return {key: flat[key] for _, key, _ in NOTEBOOKS.get(stem, ("", "", []))[2] if key in flat}


def _latest(runs: list[dict]) -> list[dict]:
    """One run per seed: the last one given."""
    by_seed = {}
    for run in runs:
        by_seed[run["seed"]] = run
    return [by_seed[seed] for seed in sorted(by_seed)]


def _failure(run: dict) -> str | None:
    if run["status"] != "ok":
        return run.get("failure") or "failed"
    failed = [name for name, entry in (run.get("claims") or {}).items() if not entry.get("held", True)]
    return f"claims failed: {', '.join(failed)}" if failed else None


def _flat(metrics: dict) -> dict[str, float]:
    from helpers.course import flat_metrics

    return flat_metrics(metrics)


def _metric_stats(runs: list[dict]) -> dict[str, dict]:
    values: dict[str, list[float]] = {}
    for run in runs:
        for key, value in _flat(run["metrics"]).items():
            values.setdefault(key, []).append(value)
    return {key: {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}
            for key, v in values.items()}


def _range(stat: dict | None, seeds: int = 2) -> str:
    if not stat:
        return "—"
    if seeds == 1:
        return _fmt(stat["median"])
    if stat["min"] == stat["max"]:
        return f"{_fmt(stat['median'])} (every seed)"
    return f"{_fmt(stat['median'])} [{_fmt(stat['min'])}–{_fmt(stat['max'])}]"


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value == int(value) and abs(value) < 1e6:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2g}" if abs(value) < 1e-3 else f"{value:.3g}"
