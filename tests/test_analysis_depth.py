"""Going deeper: the first update, weight decay's reach, cell states, falls and verdicts."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from pepita_lib.analysis import depth as an
from pepita_lib.data import Dataset
from pepita_lib.experiments import get_experiment


def test_decay_left_is_exponential_in_the_rate():
    one, two = an.decay_left(0.01, "mnist", 1e-4), an.decay_left(0.02, "mnist", 1e-4)
    assert 0 < two < one < 1
    assert math.log(two) == pytest.approx(2 * math.log(one))
    assert an.decay_left(0.01, "mnist", 0.0) == 1.0
    # CIFAR-10 has fewer steps per epoch than MNIST, so decay takes less
    assert an.decay_left(0.01, "cifar10", 1e-4) > one


def _tiny() -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(128, 784, generator=gen)
    y = torch.randint(0, 10, (128,), generator=gen)
    return Dataset("tiny", x, y, x[:8], y[:8], None, None, (1, 28, 28), 10, "synthetic")


def test_batch_normalisation_shrinks_every_first_update():
    upd = an.first_update(_tiny(), 2)
    assert list(upd.index) == [1, 2, 3] and list(upd.columns) == list(an.NORMS)
    assert (upd["batch"] < upd["none"]).all() and (upd["sample"] < upd["none"]).all()
    found = an.first_update_findings(upd)
    assert set(found) >= {"gd_upd_batch_first", "gd_upd_batch_deep", "gd_upd_sample_deep"}
    assert len(an.first_update_table(upd)) == 3


def test_first_update_findings_read_ratios():
    upd = pd.DataFrame(
        {"none": [1e-2, 4e-3, 4e-3, 1e-2], "batch": [1e-4, 4e-7, 4e-7, 1e-4], "sample": [1e-3] * 4},
        index=[1, 2, 3, 4],
    )
    found = an.first_update_findings(upd)
    assert found["gd_upd_batch_first"] == "100" and found["gd_upd_batch_deep"] == "10,000"
    assert (
        found["gd_upd_sample_deep"] == "4.0" and "about the same" in found["gd_upd_plain_sentence"]
    )


def test_every_registered_config_has_one_variant():
    names = {an.variant_of(c) for c in get_experiment("going_deeper").configs("paper")}
    assert names == set(an.VARIANTS)


def _runs(statuses: list[str], accs: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"status": statuses, "final_test_accuracy": accs})


def test_cell_text_states():
    assert an.cell_text(_runs([], []), 0, None, "paper") == "awaiting rate search"
    assert an.cell_text(_runs([], []), 3, 0.1, "paper") == "registered, not run"
    assert an.cell_text(_runs(["diverged"], [math.nan]), 3, 0.1, "paper") == "diverged (1 of 3)"
    two = _runs(["finished", "finished", "diverged"], [0.98, 0.96, math.nan])
    assert an.cell_text(two, 3, 0.1, "paper") == "97.00 ± 1.41 (n=2), 1 diverged"


def _history(run_id: str, accs: list[float], gains: list[float] | None = None) -> pd.DataFrame:
    n = len(accs)
    return pd.DataFrame(
        {
            "run_id": run_id,
            "epoch": np.arange(1, n + 1),
            "test_accuracy": accs,
            "train_loss": [0.5] * n,
            "gain_W1F": gains if gains is not None else [1.0] * n,
        }
    )


def _fin(rows: list[tuple]) -> pd.DataFrame:
    cols = ["run_id", "dataset", "depth", "Variant", "seed", "final_test_accuracy"]
    fin = pd.DataFrame(rows, columns=cols)
    return fin.assign(Dataset=fin["dataset"].map({"mnist": "MNIST"}), lr=0.1, decay_epochs="3")


def _fell_and_held(held_variant: str = "normalisation + WM"):
    """Two three-layer MNIST runs: "a" (normalisation + WM) falls from 97% to 20% as its gain
    grows to 80; "b" holds at 97% with a gain of 3."""
    fin = _fin(
        [
            ("a", "mnist", 3, "normalisation + WM", 0, 0.20),
            ("b", "mnist", 3, held_variant, 1, 0.97),
        ]
    )
    hist = pd.concat(
        [
            _history("a", [0.90, 0.97, 0.30, 0.20], [1, 5, 60, 80]),
            _history("b", [0.90, 0.96, 0.97, 0.97], [1, 2, 3, 3]),
        ]
    )
    return fin, hist


def test_a_run_that_fell_is_found_by_best_epoch_gain_and_slowness_window():
    fin, hist = _fell_and_held()
    best = an.best_epochs(fin, hist)
    assert best.loc["a", "epoch"] == 2 and best.loc["b", "epoch"] == 3
    per_run = an.gain_per_run(fin, hist, best, ["mnist"]).set_index("seed")
    assert (
        per_run.loc[0, "fell"]
        and per_run.loc[0, "gain at fall"] == 60
        and per_run.loc[0, "epoch of fall"] == 3
    )
    assert not per_run.loc[1, "fell"] and math.isnan(per_run.loc[1, "gain at fall"])
    assert an.fall_count(per_run.reset_index(), "normalisation + WM") == "1 of 2"
    found = an.gain_findings(per_run.reset_index())
    assert "every run that fell had reached a larger gain (60.0 or more)" in found["gd_gain_split"]
    out = an.fell_before_decay(fin, hist)  # the fitted window is the first 3 epochs
    assert (
        list(out["run_id"]) == ["a"]
        and out["best (%)"].iloc[0] == 97.0
        and out["last epoch"].iloc[0] == 3
    )
    dropped = an.dropped_runs(fin, best)
    assert list(dropped["seed"]) == [0] and dropped["final (%)"].iloc[0] == 20.0
    uneven = an.uneven_cells(fin, hist, best)
    assert (
        uneven["worst seed"].iloc[0] == 0
        and uneven["finals by seed (%)"].iloc[0] == "20.00 / 97.00"
    )


def test_verdicts_name_the_remedies_that_help_and_where_plain_diverged():
    fin = _fin(
        [
            ("p1", "mnist", 1, "plain", 0, 0.98),
            ("p3", "mnist", 3, "plain", 0, 0.94),
            ("n3", "mnist", 3, "normalisation", 0, 0.98),
            ("w3", "mnist", 3, "weight decay", 0, 0.941),
            ("n4", "mnist", 4, "normalisation", 0, 0.981),
        ]
    )
    runs = pd.concat(
        [
            fin.assign(status="finished"),
            _fin([("p4", "mnist", 4, "plain", 0, math.nan)]).assign(status="diverged"),
        ]
    )
    text, trend = an.verdicts(fin, runs, ["mnist"])
    assert trend == "MNIST: 98.00% with 1, 94.00% with 3"
    assert (
        "normalisation +4.00 (n = 1)" in text and "normalisation improves on plain PEPITA" in text
    )
    assert "weight decay" not in text.split("points;")[1].split(";")[0]  # +0.10 is below THRESH
    deeper = "MNIST, 4 hidden layers: plain PEPITA diverged (the one stored seed); normalisation"
    assert deeper + " reaches 98.10%" in text
    assert (
        an.deepest_text(fin, runs, ["mnist"])
        == "MNIST, 4 hidden layers: plain diverged (1 runs), best normalisation 98.10%"
    )
    cells = an.diverged_cells(runs, {("mnist", 4, "plain")})
    assert cells[["diverged runs", "search curve already falling"]].values.tolist() == [[1, "yes"]]


def test_missing_line_is_one_line_with_the_commands():
    line = an.missing_line("going_deeper", "paper", [object()] * 9)
    assert "\n" not in line and line.startswith("**Not run yet**: 9 runs")
    assert "`pepita run going_deeper --profile paper`" in line
    assert an.missing_line("going_deeper", "paper", []).startswith("All going_deeper runs")


def test_stored_texts_count_runs_per_dataset():
    grid = [c for c in get_experiment("going_deeper").configs("paper") if c.dataset == "mnist"]
    runs = pd.DataFrame({"dataset": ["mnist"] * 3})
    out = an.stored_texts(runs, grid, ["mnist"])
    assert (
        out["gd_stored_total"] == f"3 of {len(grid)}"
        and out["gd_stored_by_ds"] == f"MNIST 3 of {len(grid)}"
    )
    assert out["gd_data_absent"] == "all datasets are available"
    assert an.no_search_text(["mnist"], ["mnist"]).startswith("The search covers every")
    assert "CIFAR-100 beyond one hidden layer" in an.no_search_text(
        ["mnist", "cifar100"], ["mnist"]
    )


def test_gain_section_lists_only_the_runs_that_fell_with_their_gain_at_the_fall():
    fin, hist = _fell_and_held("normalisation")
    gh, per_run = an.normalised_gains(fin, hist, an.best_epochs(fin, hist), ["mnist"])
    assert set(gh["run_id"]) == {"a", "b"}
    tables, facts = an.gain_section(per_run, ["mnist"])
    fell = tables[1][0]
    assert list(fell["seed"]) == [0] and fell["gain at fall"].iloc[0] == "60.0"
    assert facts["gd_box_nwm_fell"] == "1 of 1" and facts["gd_box_norm_fell"] == "0 of 1"
    empty_tables, empty_facts = an.gain_section(per_run.iloc[:0], ["mnist"])
    assert empty_tables == [] and empty_facts["gd_box_nwm_fell"] == "n/a"


def test_setup_facts_follow_the_rate_grids_and_thresholds():
    from pepita_lib.experiments import DEEP_LR_GRID, DEEP_LR_GRID_NORM

    facts = an.setup_facts()
    ratio = float(facts["gd_grid_factor"].replace(",", ""))
    assert ratio == pytest.approx(max(DEEP_LR_GRID_NORM) / max(DEEP_LR_GRID), rel=1e-3)
    assert facts["gd_drop"] == f"{an.DROP:g}" and len(facts["gd_grid_plain"].split(", ")) == len(
        DEEP_LR_GRID
    )


def test_accuracy_by_depth_caps_the_axis_at_100_percent():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pepita_lib.analysis import depth_plots

    fin = _fin(
        [(f"r{d}{s}", "mnist", d, "plain", s, 0.99 - 0.01 * d) for d in (1, 3) for s in (0, 1)]
    )
    depth_plots.accuracy_by_depth(fin.assign(acc=100 * fin["final_test_accuracy"] + 0.9))
    ax = plt.gcf().axes[0]
    assert ax.get_ylim()[1] <= 100 and [t for t in ax.get_xticks()] == list(range(1, 6))
    plt.close("all")
