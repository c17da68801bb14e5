"""Weight mirroring of a factorised F, activation normalisation, F initialisations."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import batch, double_net

from pepita_lib.activations import get_activation
from pepita_lib.config import TrainConfig
from pepita_lib.experiments import get_experiment
from pepita_lib.feedback import factorised_F, pepita_F, product, renormalise
from pepita_lib.nets import forward, make_net
from pepita_lib.rules import make_rule
from pepita_lib.rules.base import angle_deg
from pepita_lib.rules.bp import bp_updates
from pepita_lib.rules.pepita import feedback_gain, pepita_updates
from pepita_lib.rules.pepita_wm import layer_drive, mirror_step


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_mirroring_aligns_a_factor_with_its_layer(activation):
    g = torch.Generator().manual_seed(0)
    W = torch.randn(40, 60, generator=g, dtype=torch.float64) / math.sqrt(60)
    B = torch.randn(60, 40, generator=g, dtype=torch.float64) * 0.05
    start = angle_deg(W.T, B)
    for _ in range(2000):
        mirror_step(W, B, get_activation(activation).f, 0.1, 0.5, 1e-4, 64, g)
    assert start > 80 and angle_deg(W.T, B) < 10


@pytest.mark.parametrize("L", [1, 2, 3, 4, 5])
def test_renormalisation_is_exact_for_every_depth(L):
    sizes = [50] + [40] * (L - 1) + [10]
    factors = factorised_F(sizes, 0.05, torch.Generator().manual_seed(L))
    factors = [f.double() for f in factors]
    target = 0.05 * math.sqrt(2 / 50)
    factors[0].mul_(7.0)  # knock the product off its target, as a mirror step would
    F = renormalise(factors, target)
    assert abs(float(F.std()) / target - 1) < 1e-6
    assert abs(float(product(factors).std()) / target - 1) < 1e-6


def test_factorised_initialisation_has_the_target_std_in_expectation():
    sizes = [784, 1024, 1024, 10]
    F = product(factorised_F(sizes, 0.05, torch.Generator().manual_seed(0)))
    assert abs(float(F.std()) / (0.05 * math.sqrt(2 / 784)) - 1) < 0.1


def test_f_with_nonzero_mean():
    F = pepita_F(784, 10, 0.05, "uniform", torch.Generator().manual_seed(0), mean=1.0)
    std = 0.05 * math.sqrt(2 / 784)
    assert abs(float(F.mean()) / std - 1) < 0.05 and abs(float(F.std()) / std - 1) < 0.05


def test_mirrored_f_makes_pepita_a_descent_direction():
    sizes = [20, 15, 15, 5]
    net = double_net(sizes, "linear")
    x, t = batch(20, 5, n=64)
    cfg = TrainConfig(rule="pepita_wm", hidden=(15, 15), wm_lr=0.5, batch_size=64)
    rule = make_rule(cfg)
    state = rule.init_state(net, torch.Generator().manual_seed(1))
    state = {k: v.double() for k, v in state.items()}
    rule.noise_gen = torch.Generator().manual_seed(2)
    rule.mirror(net, state, rounds=3000)
    assert rule.angles(net, state)["angle_F"] < 20
    pep = pepita_updates(net, state["F"], x, t, [None] * 2)[0][0].dense()
    bp = bp_updates(net, x, t, [None] * 2)[0][0].dense()
    cos = float((pep * bp).sum() / (pep.norm() * bp.norm()))
    pep_neg = pepita_updates(net, -state["F"], x, t, [None] * 2)[0][0].dense()
    cos_neg = float((pep_neg * bp).sum() / (pep_neg.norm() * bp.norm()))
    assert cos > 0.1 and cos_neg < -0.1


@pytest.mark.parametrize("norm", ["batch", "sample"])
def test_activation_normalisation(norm):
    net = make_net([20, 30, 30, 5], "relu", norm=norm, gen=torch.Generator().manual_seed(0))
    x = torch.rand(16, 20, generator=torch.Generator().manual_seed(1))
    hs, _ = forward(net, x)
    for h in hs[1:-1]:
        if norm == "batch":
            assert abs(float(h.norm()) - 1) < 1e-5
        else:
            torch.testing.assert_close(h.norm(dim=1), torch.ones(16))
    with pytest.raises(ValueError, match="only supported by forward-only rules"):
        make_rule(TrainConfig(rule="bp", act_norm=norm))


def test_wm_schedules_and_layer_rates():
    with pytest.raises(ValueError, match="one rate per weight layer"):
        TrainConfig(rule="pepita_wm", hidden=(8, 8), wm_layer_lr=(0.1,))
    with pytest.raises(ValueError, match="wm_schedule"):
        TrainConfig(wm_schedule="sometimes")


def test_pepita_wm_learns_and_aligns_on_mnist(mnist):
    from pepita_lib.data import load_dataset
    from pepita_lib.train import train

    small = load_dataset("mnist", download=True, train_subset=2000, test_subset=500)
    common = dict(
        dataset="mnist", lr=0.1, epochs=2, train_subset=2000, test_subset=500, decay_epochs=()
    )
    wm = train(
        TrainConfig(rule="pepita_wm", wm_pre_epochs=1, wm_lr=1.0, **common),
        "cpu",
        small,
        progress=False,
    )
    assert wm["status"] == "finished" and wm["final"]["test_accuracy"] > 0.5
    # pre-mirroring already turned F towards (W_2 W_1)^T before the first update
    plain = train(
        TrainConfig(rule="pepita_wm", wm_schedule="none", **common), "cpu", small, progress=False
    )
    assert wm["initial"]["angle_F"] < plain["initial"]["angle_F"] - 10
    assert wm["history"][-1]["angle_W1T_B1"] < plain["history"][-1]["angle_W1T_B1"]


def test_mirrored_gain_formula_of_the_chapter():
    """With F exactly mirrored (B_l = W_l^T) and renormalised to std sigma_F, the gain is
    sigma_F sqrt(d_0 d_L) ||W_1 W_1^T W_2^T||_2 / ||W_1^T W_2^T||_F (chapter "Weight
    mirroring"), up to F's small mean; and it grows as W_1 grows along W_2's directions."""
    g = torch.Generator().manual_seed(0)
    d0, d1, d2 = 60, 40, 5
    W1 = torch.randn(d1, d0, generator=g, dtype=torch.float64) / math.sqrt(d0)
    W2 = torch.randn(d2, d1, generator=g, dtype=torch.float64) / math.sqrt(d1)
    sigma = 0.05 * math.sqrt(2 / d0)

    def mirrored_gain(W1, W2):
        F = renormalise([W1.T.clone(), W2.T.clone()], sigma)
        return feedback_gain(W1, F)

    def formula(W1, W2):
        num = torch.linalg.matrix_norm(W1 @ W1.T @ W2.T, ord=2)
        return float(sigma * math.sqrt(d0 * d2) * num / (W1.T @ W2.T).norm())

    assert mirrored_gain(W1, W2) == pytest.approx(formula(W1, W2), rel=0.02)
    # W_1 growing along W_2's top direction u (c u v^T) raises the gain, and in the limit
    # linearly: W_1 W_1^T W_2^T ~ c^2 u u^T W_2^T over W_1^T W_2^T ~ c v u^T W_2^T
    u = torch.linalg.svd(W2).Vh[0]
    v = torch.linalg.svd(W1).Vh[0]
    gains = [mirrored_gain(W1 + c * torch.outer(u, v), W2) for c in (0, 1, 2, 4, 8, 16)]
    assert all(a < b for a, b in zip(gains, gains[1:]))
    assert gains[-1] / gains[-2] == pytest.approx(2.0, rel=0.05)
    grown = W1 + 4 * torch.outer(u, v)
    assert mirrored_gain(grown, W2) == pytest.approx(formula(grown, W2), rel=0.02)


def test_wm_gain_runs_are_the_start_of_weight_mirroring_runs():
    """wm_gain's configs are weight_mirroring's with fewer epochs, so its runs retrace the
    first epochs of runs the chapter already shows (same seeds, same rates)."""
    full = set(get_experiment("weight_mirroring").configs("paper"))
    short = get_experiment("wm_gain").configs("paper")
    assert len(short) == 12 and {c.epochs for c in short} == {30}
    assert all(c.replace(epochs=100) in full for c in short)


def test_a_mirrored_F_has_a_larger_feedback_gain_than_a_random_F_of_the_same_size():
    """F = c (W_2 W_1)^T gives W_1 F = c W_1 W_1^T W_2^T: with W_2 = I the gain is exactly
    c sigma_max(W_1)^2; a random F of the same Frobenius norm meets W_1 in random directions and
    has a smaller gain (why ||W_1 F|| grows faster under mirroring, chapter Going deeper)."""
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        W1 = torch.randn(30, 50, generator=g, dtype=torch.float64) / math.sqrt(50)
        F_rand = torch.randn(50, 30, generator=g, dtype=torch.float64) * 0.05
        c = F_rand.norm() / W1.norm()
        sigma = torch.linalg.matrix_norm(W1, ord=2)
        assert feedback_gain(W1, c * W1.T) == pytest.approx(float(c * sigma**2), rel=1e-10)
        assert feedback_gain(W1, c * W1.T) > 1.2 * feedback_gain(W1, F_rand)
        W2 = torch.randn(10, 30, generator=g, dtype=torch.float64) / math.sqrt(30)
        F_prod, F_small = (W2 @ W1).T, F_rand[:, :10]
        F_prod = F_prod * F_small.norm() / F_prod.norm()
        assert feedback_gain(W1, F_prod) > 1.2 * feedback_gain(W1, F_small)


def test_softmax_drive_mirrors_the_centred_transpose():
    """softmax(a) ~ 1/d + J a with J = (I - 1 1^T / d) / d at a = 0, so for small noise
    E[xi softmax(W xi)^T] ~ noise^2 W^T J (chapter "Weight mirroring"): the block drive of
    the output layer still turns B_L towards W_L^T, about d times more slowly."""
    g = torch.Generator().manual_seed(0)
    d_in, d = 64, 10
    W = torch.randn(d, d_in, generator=g, dtype=torch.float64) * math.sqrt(2 / d_in)
    net = make_net([d_in, d], "relu")
    net.weights = [W]
    softmax_drive = layer_drive(net, 0, "block", g)
    noise, n = 0.01, 100_000
    xi = torch.randn(n, d_in, generator=g, dtype=torch.float64) * noise
    xi = torch.cat([xi, -xi])  # antithetic pairs cancel the 1/d term's sampling noise
    moment = xi.T @ softmax_drive(xi @ W.T) / (2 * n)
    J = (torch.eye(d, dtype=torch.float64) - 1 / d) / d
    expected = noise**2 * W.T @ J
    assert float((moment - expected).norm() / expected.norm()) < 0.05
    # mirroring through the softmax (decay 0) turns a random B towards W^T
    B = torch.randn(d_in, d, generator=g, dtype=torch.float64) * 0.01
    cos = lambda: float((W.T * B).sum() / (W.norm() * B.norm()))  # noqa: E731
    start = cos()
    for _ in range(400):
        mirror_step(W, B, softmax_drive, 0.1, 1.0, 0.0, 64, g)
    assert abs(start) < 0.2 and cos() > 0.5


def test_block_drive_is_the_forward_block_with_a_fresh_dropout_mask():
    """Hidden layers are driven through sigma, normalisation and inverted dropout exactly
    as nets.forward applies them; the output through the softmax."""
    net = double_net([12, 20, 4], "relu", dropout=0.5)
    net.norm = "sample"
    g = torch.Generator().manual_seed(5)
    a = torch.randn(8, 20, generator=g, dtype=torch.float64)
    y = layer_drive(net, 0, "block", torch.Generator().manual_seed(9))(a)
    clean = torch.relu(a) / torch.relu(a).norm(dim=1, keepdim=True)
    kept = y != 0
    assert 0 < kept.float().mean() < 1  # dropout is on
    torch.testing.assert_close(y[kept], 2 * clean[kept])  # inverted scaling 1 / (1 - p)
    out = torch.randn(8, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(layer_drive(net, 1, "block", g)(out), torch.softmax(out, dim=1))
    assert layer_drive(net, 1, "linear", g)(out) is out


def test_wm_drive_must_be_known():
    with pytest.raises(ValueError, match="wm_drive must be one of linear, block, got 'soft'"):
        TrainConfig(rule="pepita_wm", wm_drive="soft")
    with pytest.raises(ValueError, match="wm_every must be >= 1"):
        TrainConfig(rule="pepita_wm", wm_schedule="period", wm_every=0)


TINY = dict(
    rule="pepita_wm", dataset="mnist", hidden=(32,), epochs=3, train_subset=500,
    test_subset=200, decay_epochs=(), batch_size=100, wm_lr=1.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_mnist(mnist):
    from pepita_lib.data import load_dataset

    return load_dataset("mnist", download=True, train_subset=500, test_subset=200)


def mirror_steps_per_epoch(cfg, data, monkeypatch) -> tuple[int, list[int]]:
    """Mirror steps before training and in each epoch of a run of ``cfg`` (counted calls)."""
    import pepita_lib.rules.pepita_wm as wm
    from pepita_lib.train import train

    calls, marks = [0], []
    real = wm.mirror_step
    monkeypatch.setattr(wm, "mirror_step", lambda *a: (calls.__setitem__(0, calls[0] + 1),
                                                       real(*a)))  # fmt: skip
    begin = wm.PepitaWM.begin_epoch
    monkeypatch.setattr(wm.PepitaWM, "begin_epoch",
                        lambda self, *a: (marks.append(calls[0]), begin(self, *a)))  # fmt: skip
    train(cfg, "cpu", data, progress=False)
    ends = [*marks[1:], calls[0]]
    return marks[0], [b - a for a, b in zip(marks, ends)]


def test_period_schedule_mirrors_every_batch_of_every_kth_epoch(tiny_mnist, monkeypatch):
    # 500 images in batches of 100: 5 steps per epoch, 2 layers, so 10 mirror steps a round
    cfg = TrainConfig(**TINY, wm_schedule="period", wm_every=2, wm_pre_epochs=1)
    pre, per_epoch = mirror_steps_per_epoch(cfg, tiny_mnist, monkeypatch)
    assert pre == 10 and per_epoch == [0, 10, 0]
    batch = mirror_steps_per_epoch(cfg.replace(wm_schedule="batch"), tiny_mnist, monkeypatch)
    assert batch == (10, [10, 10, 10])


def test_period_one_is_the_batch_schedule_bit_for_bit(tiny_mnist):
    from conftest import strip_timing

    from pepita_lib.train import train

    batch = TrainConfig(**TINY, wm_pre_epochs=1)
    period = batch.replace(wm_schedule="period", wm_every=1)
    a = strip_timing(train(batch, "cpu", tiny_mnist, progress=False))
    b = strip_timing(train(period, "cpu", tiny_mnist, progress=False))
    for rec in (a, b):  # everything but the config and its id must agree
        rec.pop("config"), rec.pop("run_id")
    assert a == b and a["history"][-1]["angle_F"] < a["initial"]["angle_F"]


@pytest.mark.parametrize("drive", ["linear", "block"])
def test_hold_gain_keeps_the_first_layer_gain_at_its_initial_value(drive):
    """After any number of mirror rounds, with the weights changing between them, the held
    F has ||W_1 F||_2 equal to the gain at initialisation, and F is still B_1 ... B_L."""
    sizes = [30, 20, 20, 6]
    net = double_net(sizes, "relu", dropout=0.1)
    common = dict(rule="pepita_wm", hidden=(20, 20), wm_lr=0.5, batch_size=32, wm_drive=drive)
    gains = {}
    for hold in (False, True):
        rule = make_rule(TrainConfig(**common, wm_hold_gain=hold))
        state = rule.init_state(net, torch.Generator().manual_seed(1))
        state = {k: v.double() for k, v in state.items()}
        gain0 = feedback_gain(net.weights[0], state["F"])
        W = [w.clone() for w in net.weights]
        g = torch.Generator().manual_seed(2)
        for rounds in (1, 7, 50):
            for w in W:  # the weights move between mirror rounds, as training moves them
                w.add_(torch.randn(w.shape, generator=g, dtype=w.dtype) * 0.05)
            rule.mirror(dataclasses.replace(net, weights=W), state, rounds)
            if hold:
                assert float(state["gain_ref"]) == pytest.approx(gain0, rel=1e-12)
                assert feedback_gain(W[0], state["F"]) == pytest.approx(gain0, rel=1e-9)
                torch.testing.assert_close(product(rule.factors(net, state)), state["F"])
        gains[hold] = feedback_gain(W[0], state["F"])
    assert abs(gains[False] / gains[True] - 1) > 0.1  # without the hold, the gain moves
