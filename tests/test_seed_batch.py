"""Seeds as one batch: S stacked nets train exactly like S separate runs."""

from __future__ import annotations

import pytest
import torch
from conftest import assert_records_close

from pepita_lib.build import seed_group_key
from pepita_lib.config import TrainConfig
from pepita_lib.experiments import EXPERIMENTS, register
from pepita_lib.nets import forward, make_net, stack_nets
from pepita_lib.optim import SGD, Outer
from pepita_lib.rules import RULES
from pepita_lib.runner import run_experiment, seed_groups
from pepita_lib.store import find_record
from pepita_lib.train import data_for, train, train_seeds

BATCHABLE = sorted(name for name, cls in RULES.items() if cls.batchable)
# two hidden layers, dropout on, a rate decay inside the run: every part of the loop
SMALL = TrainConfig(
    dataset="mnist",
    train_subset=600,
    test_subset=300,
    val_size=0,
    hidden=(32, 24),
    epochs=2,
    decay_epochs=(1,),
    lr=0.05,
)


@pytest.fixture(scope="module")
def small_data():
    return data_for(SMALL, torch.device("cpu"))


def test_the_rules_that_cannot_stack_say_so():
    assert {"pepita", "pepita_hebbian", "bp", "afa"} <= set(BATCHABLE)
    for name in ("pepita_wm", "ff", "ff_topdown"):
        assert not RULES[name].batchable
        assert seed_group_key(TrainConfig(rule=name)) is None


@pytest.mark.parametrize("rule", BATCHABLE)
def test_stacked_seeds_equal_separate_runs(rule, small_data):
    cfgs = [SMALL.replace(rule=rule, seed=s) for s in (0, 3, 7)]
    separate = [train(c, "cpu", small_data, progress=False) for c in cfgs]
    stacked = train_seeds(cfgs, "cpu", small_data, progress=False)
    for a, b in zip(separate, stacked):
        assert a["run_id"] == b["run_id"]
        assert b["provenance"]["stack"] == [r["run_id"] for r in separate]
        assert_records_close(a, b, tol=1e-5)
    # and the seeds really differ from one another
    assert separate[0]["history"][-1]["train_loss"] != separate[1]["history"][-1]["train_loss"]


def test_a_diverging_stack_records_every_seed_as_diverged(small_data):
    cfgs = [SMALL.replace(rule="pepita", lr=1e4, seed=s) for s in (0, 1)]
    separate = [train(c, "cpu", small_data, progress=False) for c in cfgs]
    stacked = train_seeds(cfgs, "cpu", small_data, progress=False)
    for a, b in zip(separate, stacked):
        assert a["status"] == b["status"] == "diverged"
        assert a["final"]["diverged_at_epoch"] == b["final"]["diverged_at_epoch"]


def test_a_diverging_net_leaves_the_rest_of_its_stack_alone(small_data):
    cfgs = [SMALL.replace(rule="pepita", lr=lr) for lr in (1e4, 0.05)]
    separate = [train(c, "cpu", small_data, progress=False) for c in cfgs]
    stacked = train_seeds(cfgs, "cpu", small_data, progress=False)
    assert [r["status"] for r in stacked] == ["diverged", "finished"]
    assert stacked[0]["final"]["diverged_at_epoch"] == separate[0]["final"]["diverged_at_epoch"]
    assert_records_close(separate[1], stacked[1], tol=1e-5)


def test_stacked_forward_and_update_are_per_seed_products():
    """Batched matmuls: slice s of a stacked pass or update is seed s's own."""
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    nets = [make_net([7, 5, 4], "tanh", "he_uniform", 0.0, g) for g in gens]
    stack = stack_nets(nets)
    assert stack.seeds == 3 and nets[0].seeds is None and stack.sizes == [7, 5, 4]
    x = torch.rand(3, 6, 7, generator=gens[0])
    hs, _ = forward(stack, x)
    for s, net in enumerate(nets):
        torch.testing.assert_close(hs[-1][s], forward(net, x[s])[0][-1])
    post, pre = torch.rand(3, 6, 5), torch.rand(3, 6, 7)
    opt = SGD([w.clone() for w in stack.weights[:1]], lr=0.1, momentum=0.5)
    opt.step([stack.weights[0]], [Outer(post, pre, 6)])
    for s, net in enumerate(nets):
        expected = net.weights[0] - 0.1 * post[s].T @ pre[s] / 6
        torch.testing.assert_close(stack.weights[0][s], expected)


def test_seed_groups_join_only_seeds_and_rates_of_one_setting():
    a = [TrainConfig(rule="pepita", seed=s) for s in range(5)]
    b = [TrainConfig(rule="pepita", hidden=(64,), seed=s) for s in range(2)]
    rates = [TrainConfig(rule="pepita", lr=lr) for lr in (0.1, 0.3)]
    wm = [TrainConfig(rule="pepita_wm", seed=s) for s in range(2)]
    units = seed_groups(a[:2] + b + wm + rates + a[2:], seed_batch=3)
    assert units == [[a[0], a[1], rates[0]], b, [wm[0]], [wm[1]], [rates[1], a[2], a[3]], [a[4]]]
    assert seed_groups(a, seed_batch=1) == [[c] for c in a]


@pytest.mark.parametrize("rule", ["pepita", "pepita_tl", "bp"])
def test_a_stack_of_rates_equals_separate_runs(rule, small_data):
    """One learning rate per stacked net (the optimiser's rate is a (S, 1, 1) tensor),
    seeds and rates mixed, rate decay inside the run, weight decay on."""
    cfgs = [
        SMALL.replace(rule=rule, lr=lr, seed=s, weight_decay=1e-3)
        for lr, s in ((0.05, 0), (0.01, 0), (0.2, 1))
    ]
    separate = [train(c, "cpu", small_data, progress=False) for c in cfgs]
    stacked = train_seeds(cfgs, "cpu", small_data, progress=False)
    for a, b in zip(separate, stacked):
        assert [r["lr"] for r in b["history"]] == [r["lr"] for r in a["history"]]
        assert_records_close(a, b, tol=1e-5)


def test_train_seeds_refuses_what_it_cannot_stack(small_data):
    with pytest.raises(ValueError, match="share every setting"):
        train_seeds([SMALL, SMALL.replace(seed=1, hidden=(16,))], "cpu", small_data)
    with pytest.raises(ValueError, match="cannot train seeds"):
        train_seeds([SMALL.replace(rule="ff"), SMALL.replace(rule="ff", seed=1)], "cpu")
    with pytest.raises(ValueError, match="distinct"):
        train_seeds([SMALL, SMALL], "cpu", small_data)


@pytest.fixture
def three_seed_experiment():
    name = "test_seed_batch_grid"
    register(name, "three seeds of a small PEPITA and one PEPITA-WM")(
        lambda profile: (
            [SMALL.replace(seed=s) for s in range(3)]
            + [SMALL.replace(rule="pepita_wm", hidden=(32,))]
        )
    )
    yield name
    del EXPERIMENTS[name]


def test_runner_stacks_seeds_and_stores_the_same_records(three_seed_experiment, tmp_path):
    name = three_seed_experiment
    one = dict(run_experiment(name, "smoke", tmp_path / "a", None, "cpu", progress=False))
    many = dict(
        run_experiment(name, "smoke", tmp_path / "b", None, "cpu", progress=False, seed_batch=3)
    )
    assert one == many and set(one.values()) == {"finished"}
    for cfg in one:
        b = find_record(tmp_path / "b", name, cfg)
        assert ("stack" in b["provenance"]) == (cfg.rule == "pepita")
        assert_records_close(find_record(tmp_path / "a", name, cfg), b, tol=1e-5)
