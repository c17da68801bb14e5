"""The Hebbian / time-local gap table of chapter "Hebbian and time-local PEPITA"."""

import pandas as pd

from pepita_lib.analysis.hebbian import gap_table


def _run(ds, depth, rule, acc, status="finished", at=None):
    return {
        "dataset": ds.lower(),
        "Dataset": ds,
        "depth": depth,
        "rule": rule,
        "Rule": rule,
        "status": status,
        "final_test_accuracy": acc,
        "final_diverged_at_epoch": at,
    }


def test_gap_is_hebbian_minus_pepita_and_the_claim_uses_its_size():
    runs = pd.DataFrame(
        [
            _run("MNIST", 1, "pepita", 0.980),
            _run("MNIST", 1, "pepita", 0.982),
            _run("MNIST", 1, "pepita_hebbian", 0.979),
            _run("MNIST", 1, "pepita_hebbian", 0.981),
            _run("MNIST", 1, "pepita_tl", 0.95),
            _run("MNIST", 2, "pepita", 0.97),
            _run("MNIST", 2, "pepita_hebbian", 0.95),
            _run("MNIST", 3, "pepita", 0.96),
            _run("MNIST", 3, "pepita_hebbian", None, "diverged", 11),
        ]
    )
    table, facts = gap_table(runs, 0.15)
    by = table.set_index("hidden layers")
    assert (
        by.loc[1, "Hebbian − PEPITA (points)"] == "-0.10"
        and by.loc[1, "claim: within 0.15"] == "holds"
    )
    assert by.loc[2, "claim: within 0.15"] == "does not hold"
    assert by.loc[3, "claim: within 0.15"] == "cannot compare: Hebbian diverged"
    assert by.loc[1, "TL − PEPITA (points)"] == "-3.10" and by.loc[2, "TL (%)"] == "not run"
    assert facts["heb_max_gap"] == "2.00" and facts["heb_n_hold"] == "1 of 2"
    assert facts["heb_diverged"] == "MNIST, 3 hidden layers (1 of 1 seeds, at epoch 11)"
    assert facts["tl_gap_range"] == "-3.10 to -3.10"
