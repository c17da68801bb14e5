"""The stored-run tables of the chapter "Reproducibility"."""

import json
from pathlib import Path

from pepita_lib.analysis.coverage import coverage_table, registered_ids, runs_table
from pepita_lib.experiments import EXPERIMENTS, get_experiment

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_every_stored_training_record_is_one_row():
    files = [
        json.loads(p.read_text()) for name in EXPERIMENTS for p in (RESULTS / name).glob("*.json")
    ]
    expected = sum(r.get("profile") == "paper" and "dataset" in r["config"] for r in files)
    table = runs_table("paper", RESULTS)
    assert len(table) == expected
    assert not table.duplicated(["experiment", "run id"]).any()


def test_rows_in_grid_are_exactly_the_registered_ones():
    table = runs_table("paper", RESULTS)
    registered = registered_ids("paper")
    in_grid = set(zip(table["experiment"], table["run id"])) & registered
    assert (
        set(
            table.loc[table["in grid"] == "yes", ["experiment", "run id"]].itertuples(
                index=False, name=None
            )
        )
        == in_grid
    )


def test_coverage_counts_add_up_to_each_grid():
    table = coverage_table("paper", RESULTS).set_index("experiment")
    for name in EXPERIMENTS:
        counts = table.loc[name, ["finished", "diverged", "missing"]].sum()
        assert counts == len(get_experiment(name).configs("paper"))


def test_an_empty_store_has_no_runs(tmp_path):
    assert runs_table("paper", tmp_path).empty
