"""The Forward-Forward chapters' experiments (pepita_lib/experiments/ff.py): registration,
grids, sharing of runs with ``baselines``, and the commands the chapters print."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pepita_lib.activations import ACTIVATIONS
from pepita_lib.config import TrainConfig, run_id
from pepita_lib.experiments import EXPERIMENTS, filter_configs, get_experiment, schedule
from pepita_lib.experiments import ff as xff
from pepita_lib.report import CHAPTER_NEEDS, load_runs, missing_note
from pepita_lib.rules import make_rule
from pepita_lib.rules.ff import FF_DEFAULTS, FF_TOPDOWN_DEFAULTS, resolve_activation

NEW = ("forward_forward", "activations", "activations_lr_search")


def ids(experiment: str, profile: str) -> set[str]:
    return {run_id(c) for c in get_experiment(experiment).configs(profile)}


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_registered_valid_and_unique(name, profile):
    configs = get_experiment(name).configs(profile)
    assert configs, name
    assert len({run_id(c) for c in configs}) == len(configs), "duplicate configs"
    for cfg in configs:
        make_rule(cfg)  # rule exists, FF knobs valid
        assert run_id(TrainConfig.from_dict(cfg.to_dict())) == run_id(cfg)
        assert cfg.activation in ACTIVATIONS
    if profile == "smoke":
        assert len(configs) <= 15, "CI trains every chapter's smoke grid"
        sched = schedule("smoke")
        for cfg in configs:
            assert cfg.epochs <= 2 and cfg.train_subset == sched["train_subset"]
            assert cfg.test_subset == sched["test_subset"]


def test_registered_whichever_module_is_imported_first():
    code = (
        "import pepita_lib.experiments.ff, pepita_lib.experiments as e; "
        f"assert all(n in e.EXPERIMENTS for n in {NEW!r}); print(len(e.EXPERIMENTS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(EXPERIMENTS)


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_pepita_cells_are_the_baselines_runs(profile):
    base = ids("baselines", profile)
    ff = get_experiment("forward_forward").configs(profile)
    pep = [c for c in ff if c.rule in ("pepita", "pepita_hebbian")]
    assert pep and all(run_id(c) in base for c in pep)
    act = get_experiment("activations").configs(profile)
    relu = [c for c in act if c.activation == "relu"]
    assert len(relu) == 2 * len({c.seed for c in act})
    assert all(run_id(c) in base for c in relu)
    # FF's cells are the main table's FF runs; nothing else of the two grids is a baselines run
    ff_cells = [c for c in ff if c.rule == "ff"]
    assert ff_cells and all(run_id(c) in base for c in ff_cells)
    assert not [c for c in ff + act if c not in pep + relu + ff_cells and run_id(c) in base]


def test_forward_forward_grid():
    paper = get_experiment("forward_forward").configs("paper")
    ff = [c for c in paper if c.rule == "ff"]
    assert {(c.dataset, c.seed) for c in ff} == {
        (d, s) for d in xff.FF_DATASETS for s in xff.FF_SEEDS
    }
    for c in ff:
        assert c.hidden == xff.FF_HIDDEN and c.dropout == 0.0 and c.extra == ()
        assert (c.epochs, c.decay_epochs) == (60, (30, 45))
        assert c.train_subset is None and c.test_subset is None and c.val_size == 0
    td = [c for c in paper if c.rule == "ff_topdown"]
    assert {c.f_scale for c in td} == {0.05, 3.0}
    for c in td:  # same net and schedule as the PEPITA runs it is compared with
        assert (c.dataset, c.hidden, c.batch_size, c.epochs, c.decay_epochs) == (
            "mnist",
            (1024,),
            64,
            100,
            (60, 90),
        )
        assert c.lr == xff.TOPDOWN_LR and c.dropout == 0.0
    assert len(paper) == len(ff) + len(td) + 2 * len(xff.FF_SEEDS)


def test_ff_defaults_the_chapter_describes():
    # the chapter and the module's comments state these values; the FF configs rely on them
    assert FF_DEFAULTS["ff_threshold"] == 20.0 and FF_DEFAULTS["ff_label_value"] == 3.0
    assert FF_DEFAULTS["ff_negatives"] == "random" and FF_DEFAULTS["ff_predict"] == "goodness"
    assert FF_TOPDOWN_DEFAULTS["ff_threshold"] == 2.0
    assert FF_TOPDOWN_DEFAULTS["ff_td_negative"] == "modulated"


def test_activation_lists():
    assert set(xff.TRAINED_ACTIVATIONS) == set(xff.IDENTITY_ACTIVATIONS) & set(ACTIVATIONS), (
        "an activation of the identity study became trainable: add it to TRAINED_ACTIVATIONS"
    )
    for name in xff.IDENTITY_ACTIVATIONS:
        resolve_activation(name)
    assert set(xff.ACTIVATION_LR) <= set(xff.TRAINED_ACTIVATIONS)
    assert set(xff.LR_SEARCH_ACTIVATIONS) <= set(xff.TRAINED_ACTIVATIONS)
    paper = get_experiment("activations").configs("paper")
    assert {(c.activation, c.rule, c.seed) for c in paper} == {
        (a, r, s)
        for a in xff.TRAINED_ACTIVATIONS
        for r in ("pepita", "pepita_hebbian")
        for s in xff.ACTIVATION_SEEDS
    }
    for c in paper:
        assert c.lr == xff.activation_lr(c.activation)
        assert (c.epochs, c.decay_epochs, c.hidden, c.dataset) == (100, (60, 90), (1024,), "mnist")


def test_lr_search_on_validation_split():
    paper = get_experiment("activations_lr_search").configs("paper")
    for c in paper:
        assert c.val_size == 10000 and c.epochs == 3 and c.decay_epochs == ()
        assert c.activation in xff.LR_SEARCH_ACTIVATIONS
    assert {c.lr for c in paper} == set(xff.ACTIVATION_LR_GRID)
    # a rate chosen by the search must be one the search tried
    for act, lr in xff.ACTIVATION_LR.items():
        assert act in xff.LR_SEARCH_ACTIVATIONS and lr in xff.ACTIVATION_LR_GRID
    assert all(c.val_size > 0 for c in get_experiment("activations_lr_search").configs("smoke"))


def test_cpu_minutes_estimate():
    ff = xff.ff_config("mnist", 0, "paper")
    assert xff.cpu_minutes_estimate(ff) == pytest.approx(xff.CPU_SECONDS_PER_EPOCH["ff"] * 60 / 60)
    smoke = xff.ff_config("mnist", 0, "smoke")
    assert xff.cpu_minutes_estimate(smoke) < xff.cpu_minutes_estimate(ff) / 10
    assert xff.cpu_minutes_estimate(TrainConfig(rule="bp")) is None
    for name in NEW:
        for cfg in get_experiment(name).configs("paper"):
            assert xff.cpu_minutes_estimate(cfg) > 0


@pytest.mark.parametrize(
    "chapter, need",
    [(ch, n) for ch in ("forward_forward", "oq_activations") for n in CHAPTER_NEEDS[ch]],
)
def test_chapter_needs_and_printed_commands(chapter, need, tmp_path):
    experiment, filters = CHAPTER_NEEDS[chapter][need]
    assert experiment in NEW
    # with an empty store every config is missing; each printed command must select runs
    _, _, missing = load_runs(experiment, "paper", tmp_path, filters)
    assert missing
    note = missing_note(experiment, "paper", missing, max_lines=100)
    commands = re.findall(r"`(pepita run [^`]+)`", note)
    assert commands
    wanted = {run_id(c) for c in missing}
    covered: set[str] = set()
    for cmd in commands:
        pairs = dict(kv.split("=", 1) for kv in re.findall(r"--filter (\S+)", cmd))
        chosen = filter_configs(get_experiment(experiment).configs("paper"), pairs)
        assert chosen, cmd
        covered |= {run_id(c) for c in chosen}
    assert wanted <= covered
