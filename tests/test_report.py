"""Report helpers: variant labels, slowness per run, missing-run notes, old records."""

from __future__ import annotations

import numpy as np

from pepita_lib.config import TrainConfig, run_id
from pepita_lib.experiments import (
    DEPTH_VARIANTS,
    F_SCALES,
    FSCALE_LR,
    WM_TUNING,
    WM_VARIANTS,
    deep_lr,
    get_experiment,
)
from pepita_lib.metrics import slowness_curve
from pepita_lib.report import add_slowness, label_variants, missing_note
from pepita_lib.store import records_to_frames


def _record(cfg: TrainConfig, curve: list[float], initial: dict | None = None) -> dict:
    return {
        "run_id": run_id(cfg),
        "experiment": "e",
        "profile": "paper",
        "status": "finished",
        "config": cfg.to_dict(),
        "initial": initial or {},
        "final": {"test_accuracy": curve[-1]},
        "provenance": {},
        "history": [{"epoch": i + 1, "test_accuracy": a} for i, a in enumerate(curve)],
    }


def test_label_variants_names_each_config_by_its_variant():
    recs = [_record(TrainConfig(**knobs), [0.5]) for knobs in WM_VARIANTS.values()]
    recs.append(_record(TrainConfig(rule="pepita_wm", wm_schedule="epoch"), [0.5]))  # no variant
    runs, _ = records_to_frames(recs)
    label_variants(runs, WM_VARIANTS)
    assert runs["Variant"].tolist()[:-1] == list(WM_VARIANTS)
    assert runs["Variant"].isna().tolist() == [False] * len(WM_VARIANTS) + [True]
    # tuples (per-layer mirror rates) match too
    runs, _ = records_to_frames(
        [_record(TrainConfig(rule="pepita_wm", **k), [0.5]) for k in WM_TUNING.values()]
    )
    label_variants(runs, WM_TUNING)
    assert runs["Variant"].tolist() == list(WM_TUNING)


def test_old_records_get_config_defaults_and_initial_metrics():
    rec = _record(TrainConfig(), [0.9], initial={"angle_F": 88.0})
    del rec["config"]["wm_schedule"], rec["config"]["act_norm"]  # written before they existed
    runs, _ = records_to_frames([rec])
    assert runs.loc[0, "wm_schedule"] == "batch" and runs.loc[0, "act_norm"] == "none"
    assert runs.loc[0, "initial_angle_F"] == 88.0


def test_add_slowness_recovers_the_parameter_of_each_run():
    t = np.arange(1, 61, dtype=float)
    recs = [
        _record(TrainConfig(seed=i), list(slowness_curve(t, 0.97, s)) + [0.99] * 40)
        for i, s in enumerate((0.5, 3.0))
    ]
    runs, hist = records_to_frames(recs)
    out = add_slowness(runs, hist)
    # the chance point at t=0 (0.1, not 0) biases the fit slightly; within 10 %
    assert np.allclose(out["slowness"], [0.5, 3.0], rtol=0.1)
    assert np.allclose(out["acc_max"], 0.97, rtol=0.01)


def test_missing_note_is_short_for_big_grids():
    missing = get_experiment("going_deeper").configs("paper")
    note = missing_note("going_deeper", "paper", missing, max_lines=5)
    assert f"({len(missing)} runs of `going_deeper`" in note
    assert note.count("\n- ") == 6 and "more groups" in note
    assert "All going_deeper runs" in missing_note("going_deeper", "paper", [])


def test_missing_note_counts_a_single_run_in_the_singular():
    one = get_experiment("going_deeper").configs("paper")[:1]
    note = missing_note("going_deeper", "paper", one)
    assert "(1 run of `going_deeper`" in note
    assert f", 1 run (seed {one[0].seed}): " in note and "1 runs" not in note


def test_new_grids_are_consistent():
    assert set(FSCALE_LR) == set(F_SCALES)
    # the original scale shares its runs with afa_vs_pepita (same config, same id)
    fs = {run_id(c) for c in get_experiment("afa_fscale").configs("paper")}
    av = {run_id(c) for c in get_experiment("afa_vs_pepita").configs("paper")}
    assert len(fs & av) == 2
    deep = get_experiment("going_deeper").configs("paper")
    assert len(deep) == len({run_id(c) for c in deep})
    # a cell is registered only with a chosen rate; WM and weight decay share plain's rate
    for c in deep:
        name = next(
            n
            for n, v in DEPTH_VARIANTS.items()
            if all(getattr(c, k) == val for k, val in v.items())
            and (c.weight_decay > 0) == ("decay" in n)
            and (c.act_norm != "none") == ("normalisation" in n)
        )
        assert c.lr == deep_lr(c.dataset, len(c.hidden), name)
    plain = {
        (c.dataset, len(c.hidden)): c.lr
        for c in deep
        if c.rule == "pepita" and c.act_norm == "none"
    }
    assert plain[("mnist", 1)] == 0.1 and plain[("cifar10", 1)] == 0.01
    wm = get_experiment("weight_mirroring").configs("paper")
    assert len({run_id(c) for c in wm}) == len(wm) == 3 * len(WM_VARIANTS) * 3
    for name in ("going_deeper", "deep_lr_search", "fscale_lr_search", "weight_mirroring"):
        assert len(get_experiment(name).configs("smoke")) <= 15  # CI trains each smoke grid


def test_published_values_format_with_their_precision():
    from pepita_lib.references import format_published, published

    assert format_published(published("bp", "mnist")) == "98.63 ± 0.03"
    assert format_published(published("pepita_tl", "cifar10")) == "≈40"  # "about 40%"
    assert format_published(published("ff", "mnist", 4)) == "98.64"  # an error rate, exact
    assert format_published(published("drtp", "mnist")) == "—"


def test_deep_lr_search_stays_registered_once_its_rates_are_entered(monkeypatch):
    # copying a search's best rate into DEEP_LR must not drop that search from the grid
    # (the chapter shows the search next to the rate it gave)
    from pepita_lib.experiments import rates as ex

    with_rates = {run_id(c) for c in get_experiment("deep_lr_search").configs("paper")}
    monkeypatch.setattr(ex, "DEEP_LR", {})
    without = {run_id(c) for c in get_experiment("deep_lr_search").configs("paper")}
    assert with_rates == without
    # ... while going_deeper registers only cells that have a rate: none normalised now
    deep = get_experiment("going_deeper").configs("paper")
    assert deep and not any(c.act_norm == "batch" for c in deep)


def test_show_displays_tables_lines_and_empty_tables_then_glues(monkeypatch):
    import IPython.display
    import pandas as pd

    from pepita_lib import report

    shown, glued = [], {}
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(report, "glue_text", glued.__setitem__)
    table = pd.DataFrame({"a": [1.234]})
    report.show([(table, "A table"), ("a line", ""), (table.iloc[:0], "Nothing")], {"k": "v"})
    assert shown[0].caption == "A table" and shown[0].data is table
    assert [s.data for s in shown[1:]] == ["a line", "Nothing: none."]
    assert glued == {"k": "v"}
