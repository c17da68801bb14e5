"""The scorecard: its interval and verdict arithmetic, its mappings, and the CLI's JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pepita_lib.cli import main
from pepita_lib.config import TrainConfig, run_id
from pepita_lib.experiments import filter_configs, get_experiment
from pepita_lib.references import BY_ID, PUBLISHED, REFERENCES
from pepita_lib.scorecard import (
    JSON_KEYS,
    MINUS,
    NO_DATA,
    OURS,
    PUBLISHED_N,
    VERDICTS,
    agrees,
    difference_ci,
    paired_gaps,
    score,
    scorecard,
    verdict_counts,
)
from pepita_lib.store import record_path, write_json_atomic

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _with_mean_sd(mean: float, sd: float, n: int) -> np.ndarray:
    z = np.arange(n, dtype=float)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)


def test_ci_is_welchs_interval_when_both_sides_have_a_spread():
    ours, theirs = _with_mean_sd(98.2, 0.3, 3), _with_mean_sd(98.63, 0.03, PUBLISHED_N)
    want = stats.ttest_ind(ours, theirs, equal_var=False).confidence_interval(0.95)
    got = difference_ci(98.2 - 98.63, 0.3, 3, 0.03)
    assert got == pytest.approx((want.low, want.high), abs=1e-9)


def test_ci_uses_our_side_alone_without_a_published_spread():
    # ours 1, 2, 3 against a bare published 0: mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.302653
    half = 4.302653 / math.sqrt(3)
    assert difference_ci(2.0, 1.0, 3, None) == pytest.approx((2 - half, 2 + half), abs=1e-5)
    assert difference_ci(2.0, None, 1, 0.1) is None  # one seed: no interval


def test_verdict_agrees_inside_the_interval_and_differs_far_outside():
    ci = difference_ci(-0.05, 0.1, 5, 0.08)
    assert ci[0] < 0 < ci[1] and agrees(-0.05, ci, 0.1, 0.08)
    far = difference_ci(-4.0, 0.1, 5, 0.08)
    assert far[1] < 0 and not agrees(-4.0, far, 0.1, 0.08)
    # outside a narrow interval, but within two combined sds: 0.5 <= 2 sqrt(0.2^2 + 0.2^2)
    assert agrees(0.5, (0.4, 0.6), 0.2, 0.2)
    # a "within 0.15 points" claim holds at a gap of 0.14 whatever the interval says
    assert agrees(0.14, (0.13, 0.15), 0.001, None, tolerance=0.15)
    assert not agrees(0.16, (0.15, 0.17), 0.001, None, tolerance=0.15)


def test_paired_gaps_use_only_seeds_on_both_sides():
    a, b = pd.Series([1.0, 2.0, 4.0], index=[0, 1, 2]), pd.Series([0.5, 1.0], index=[1, 2])
    assert paired_gaps(a, b).to_dict() == {1: 1.5, 2: 3.0}


def test_every_reference_has_a_selection_that_picks_one_registered_cell():
    assert set(OURS) == set(BY_ID) and set(MINUS) <= set(BY_ID)
    for ref_id, sel in [*OURS.items(), *MINUS.items()]:
        if sel is None:
            continue
        experiment, filters = sel
        cfgs = filter_configs(get_experiment(experiment).configs("paper"), filters)
        if BY_ID[ref_id].dataset == "cifar100" and not cfgs:
            continue  # a CIFAR-100 cell waits for its rate search: not comparable anyway
        assert cfgs, f"{ref_id}: no registered config matches {sel}"
        assert len({run_id(c.replace(seed=0)) for c in cfgs}) == 1, f"{ref_id}: several cells"


def test_published_lookup_is_built_from_the_references():
    for (rule, ds, depth), (mean, sd, source) in PUBLISHED.items():
        matches = [
            r
            for r in REFERENCES
            if (r.rule, r.dataset, r.depth, r.source) == (rule, ds, depth, source)
        ]
        assert [(r.published, r.published_sd) for r in matches] == [(mean, sd)]


def _record(cfg: TrainConfig, acc: float | None) -> dict:
    final = {"test_accuracy": acc, "epochs_completed": cfg.epochs if acc else 3}
    return {
        "run_id": run_id(cfg),
        "experiment": "baselines",
        "profile": "paper",
        "status": "finished" if acc is not None else "diverged",
        "config": cfg.to_dict(),
        "initial": {},
        "final": final,
        "provenance": {},
        "history": [{"epoch": 1, "test_accuracy": acc}],
    }


def _store(results: Path, ref_id: str, accuracies: list[float | None]) -> None:
    experiment, filters = OURS[ref_id]
    cfgs = sorted(
        filter_configs(get_experiment(experiment).configs("paper"), filters), key=lambda c: c.seed
    )
    for cfg, acc in zip(cfgs, accuracies):
        write_json_atomic(record_path(results, experiment, cfg), _record(cfg, acc))


def test_scorecard_of_a_small_results_dir(tmp_path):
    _store(tmp_path, "icml22_fc_bp_mnist", [0.9860, 0.9862, 0.9865, 0.9858, None])
    _store(tmp_path, "icml22_fc_drtp_mnist", [0.91, 0.912, 0.909])
    card = scorecard(tmp_path).set_index("id")
    bp, drtp = card.loc["icml22_fc_bp_mnist"], card.loc["icml22_fc_drtp_mnist"]
    assert (bp["verdict"], bp["n"], bp["diverged"]) == ("agrees", 4, 1)
    assert bp["ours"] == pytest.approx(np.mean([98.60, 98.62, 98.65, 98.58]))
    assert (drtp["verdict"], drtp["n"]) == ("differs", 3)
    assert card.loc["icml22_fc_pepita_mnist", "verdict"] == "not run"  # nothing stored
    assert card.loc["iclr24_t2_wd_wm_mnist", "verdict"] == "not run"  # no experiment holds it
    assert card.loc["icml22_fc_bp_cifar100", "verdict"] == "not comparable"  # no data
    assert card.loc["icml22_conv_bp_mnist", "verdict"] == "not comparable"  # conv nets
    assert score(BY_ID["icml22_fc_bp_mnist"], tmp_path)["verdict"] == "agrees"


def test_cli_json_has_the_keys_and_types(tmp_path, capsys):
    _store(tmp_path, "icml22_fc_bp_cifar10", [0.548, 0.551, 0.546])
    assert main(["scorecard", "--json", "--results", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [r.id for r in REFERENCES]
    kinds = {
        "id": str,
        "source": str,
        "dataset": str,
        "setting": str,
        "published": float,
        "published_sd": (float, type(None)),
        "ours": (float, type(None)),
        "ours_sd": (float, type(None)),
        "n": int,
        "verdict": str,
        "cause": (str, type(None)),
    }
    for row in rows:
        assert tuple(row) == JSON_KEYS and row["verdict"] in VERDICTS
        for key, kind in kinds.items():
            assert isinstance(row[key], kind), (row["id"], key, row[key])
    bp = next(r for r in rows if r["id"] == "icml22_fc_bp_cifar10")
    assert bp["n"] == 3 and bp["jpeg_cost"] == pytest.approx(bp["ours"] - 55.27, abs=1e-3)


def test_cli_table_and_a_missing_results_dir(tmp_path, capsys):
    assert main(["scorecard", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    apart = sum(r.net != "fc" or r.dataset in NO_DATA for r in REFERENCES)
    counts = (
        f"0 agrees, 0 differs, 0 inconclusive, {apart} not comparable, "
        f"{len(REFERENCES) - apart} not run"
    )
    assert out.splitlines()[-1] == counts
    assert main(["scorecard", "--results", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_real_results_give_every_reference_one_row():
    card = scorecard(RESULTS)
    assert sorted(card["id"]) == sorted(BY_ID)
    assert sum(verdict_counts(card).values()) == len(REFERENCES)


def test_agreement_resting_only_on_a_wide_interval_is_inconclusive():
    from pepita_lib.scorecard import WIDE_CI, verdict

    # 3 seeds spread by 8 points: the interval covers 0 but says nothing
    assert verdict(-17.9, (-38.7, 2.9), 8.4, 0.23) == "inconclusive"
    # the same interval with a gap inside two combined sds still agrees
    assert verdict(-1.0, (-38.7, 2.9), 8.4, 0.23) == "agrees"
    # a narrow interval covering 0 agrees
    assert verdict(-0.3, (-0.3 - WIDE_CI / 2, -0.3 + WIDE_CI / 2), 0.2, 0.2) == "agrees"
    assert verdict(-4.0, (-4.5, -3.5), 0.1, 0.1) == "differs"
