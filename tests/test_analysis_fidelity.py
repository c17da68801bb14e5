"""The protocol tables of the chapter "Matching the papers"."""

from pathlib import Path

import pytest

from pepita_lib.analysis.fidelity import label, protocol_table, stage_records
from pepita_lib.experiments import FIDELITY_CELLS, FIDELITY_CHOICE, FIDELITY_SURVIVORS

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_label_is_sorted_and_short():
    assert label({"wm_lr": 0.01, "wm_every": 100}) == "wm_every=100, wm_lr=0.01"
    assert label({"weight_decay": 3e-05}) == "weight_decay=3e-05"


@pytest.mark.parametrize("name", list(FIDELITY_CELLS))
def test_one_row_per_candidate_and_the_survivors_marked(name):
    table = protocol_table(name, RESULTS)
    assert list(table["candidate"]) == [label(c) for c in FIDELITY_CELLS[name].candidates]
    assert table["survived"].sum() == len(FIDELITY_SURVIVORS.get(name, ()))
    assert table["chosen"].sum() == (name in FIDELITY_CHOICE)
    # a survivor is never worse after the short search than a candidate that was dropped
    done = table.dropna(subset=["validation % (10 epochs)"])
    if table["survived"].any() and len(done) == len(table):
        kept = done[done["survived"]]["validation % (10 epochs)"]
        dropped = done[~done["survived"]]["validation % (10 epochs)"]
        assert dropped.empty or kept.min() >= dropped.max()


def test_final_stage_is_keyed_by_seed():
    for name in FIDELITY_CHOICE:
        assert set(stage_records(name, "final", RESULTS)) == {f"seed {s}" for s in range(5)}


def test_display_leaves_missing_runs_blank():
    from pepita_lib.analysis.fidelity import display_protocol

    name = next(iter(FIDELITY_CELLS))
    shown = display_protocol(protocol_table(name, RESULTS))
    assert set(shown["survived"]) <= {"yes", ""} and set(shown["chosen"]) <= {"yes", ""}
    assert not shown["validation % (100 epochs)"].isin(["nan", "None"]).any()
