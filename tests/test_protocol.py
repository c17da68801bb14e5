"""The two-stage choosing protocol: ranking, pruning, choice, and the copies of its
outcomes kept beside the grids."""

import math
from pathlib import Path

import pytest

from pepita_lib import experiments as xp
from pepita_lib import protocol
from pepita_lib.store import find_record

RESULTS = Path(__file__).resolve().parents[1] / "results"


def record(lr: float, val: float | None, status: str = "finished", **more) -> dict:
    return {"config": {"lr": lr, **more}, "status": status, "final": {"val_accuracy": val}}


def test_diverged_or_unscored_runs_rank_last_and_never_survive():
    recs = [record(0.1, None, "diverged"), record(0.01, 0.9), record(0.001, float("nan"))]
    assert protocol.ranked(recs, ["lr"])[0] == ({"lr": 0.01}, 0.9)
    assert protocol.survivors(recs, ["lr"], keep=3) == ({"lr": 0.01},)
    assert protocol.choose([record(0.1, None, "diverged")], ["lr"]) is None


def test_survivors_are_the_best_by_final_validation_accuracy():
    recs = [record(lr, val) for lr, val in [(0.1, 0.5), (0.03, 0.97), (0.01, 0.96), (0.003, 0.9)]]
    assert protocol.survivors(recs, ["lr"]) == ({"lr": 0.03}, {"lr": 0.01})
    assert protocol.choose(recs, ["lr"]) == {"lr": 0.03}


def test_ties_are_broken_the_same_way_whatever_the_order():
    recs = [record(0.01, 0.9), record(0.1, 0.9)]
    assert protocol.choose(recs, ["lr"]) == protocol.choose(recs[::-1], ["lr"]) == {"lr": 0.1}


def test_grid_is_the_product_of_the_choices():
    cands = protocol.grid(wm_lr=(0.1, 0.01), wm_every=(1, 100))
    assert len(cands) == 4 and {"wm_lr": 0.01, "wm_every": 100} in cands
    assert protocol.values("lr", 1, 2) == ({"lr": 1}, {"lr": 2})


def test_stages_read_the_validation_split_and_the_final_runs_do_not():
    search = xp.get_experiment("fidelity_search").configs("paper")
    assert search and all(c.val_size == protocol.VAL_SIZE for c in search)
    assert all(c.epochs == protocol.SEARCH_EPOCHS and c.decay_epochs == () for c in search)
    for cfg in xp.get_experiment("fidelity_confirm").configs("paper"):
        assert cfg.val_size == protocol.VAL_SIZE and cfg.epochs == 100
        assert cfg.decay_epochs == (60, 90)
    for cfg in xp.get_experiment("fidelity").configs("paper"):
        assert cfg.val_size == 0 and cfg.epochs == 100


def _stage_records(experiment: str, cell: protocol.Cell, configs) -> list[dict] | None:
    recs = [find_record(RESULTS, experiment, cfg) for cfg in configs]
    return None if any(r is None for r in recs) else recs


@pytest.mark.parametrize("name", list(xp.FIDELITY_SURVIVORS))
def test_copied_survivors_are_what_the_protocol_picks(name):
    cell = xp.FIDELITY_CELLS[name]
    sched = xp.search_schedule("paper", protocol.SEARCH_EPOCHS)
    recs = _stage_records("fidelity_search", cell, protocol.short_search(cell, sched))
    assert recs is not None, f"{name}: stage 1 is not complete, so nothing may survive it yet"
    assert xp.FIDELITY_SURVIVORS[name] == protocol.survivors(recs, cell.knobs)


@pytest.mark.parametrize("name", list(xp.FIDELITY_CHOICE))
def test_copied_choice_is_what_the_protocol_chooses(name):
    cell = xp.FIDELITY_CELLS[name]
    full = {**xp.schedule("paper"), "val_size": protocol.VAL_SIZE}
    kept = xp.FIDELITY_SURVIVORS[name]
    recs = _stage_records("fidelity_confirm", cell, protocol.confirmation(cell, kept, full))
    assert recs is not None, f"{name}: stage 2 is not complete, so nothing may be chosen yet"
    choice = protocol.choose(recs, cell.knobs)
    assert choice is not None and xp.FIDELITY_CHOICE[name] == choice
    assert all(math.isfinite(float(v)) for v in choice.values())
