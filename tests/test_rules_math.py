"""The learning rules against the mathematics they are supposed to implement."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import batch, double_net

from pepita_lib.activations import ACTIVATIONS
from pepita_lib.config import TrainConfig
from pepita_lib.feedback import pepita_F
from pepita_lib.nets import dropout_masks, forward
from pepita_lib.optim import SGD
from pepita_lib.rules import make_rule
from pepita_lib.rules.base import angle_deg, cross_entropy, product_transpose
from pepita_lib.rules.bp import bp_updates
from pepita_lib.rules.dfa import direct_updates
from pepita_lib.rules.fa import fa_updates
from pepita_lib.rules.pepita import feedback_gain, pepita_updates, two_passes
from pepita_lib.rules.pepita_hebbian import hebbian_updates

SIZES = [20, 15, 12, 5]


def dense(grads):
    return [g.dense() for g in grads]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


def autograd_grads(net, x, t, masks=None):
    ws = [w.clone().requires_grad_(True) for w in net.weights]
    h = x
    masks = masks or [None] * (len(ws) - 1)
    for l, w in enumerate(ws):
        a = h @ w.T
        if l < len(ws) - 1:
            h = net.act.f(a)
            if masks[l] is not None:
                h = h * masks[l]
    loss = cross_entropy(a, t)
    return torch.autograd.grad(loss, ws)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_manual_bp_equals_autograd(activation):
    net = double_net(SIZES, activation, dropout=0.3)
    x, t = batch(SIZES[0], SIZES[-1])
    masks = dropout_masks(net, x.shape[0], torch.Generator().manual_seed(3))
    masks = [m.double() for m in masks]
    ours = dense(bp_updates(net, x, t, masks)[0])
    for g, ref in zip(ours, autograd_grads(net, x, t, masks)):
        torch.testing.assert_close(g, ref, rtol=1e-10, atol=1e-12)


def test_fa_with_transposed_weights_is_bp():
    net = double_net(SIZES)
    x, t = batch(SIZES[0], SIZES[-1])
    B = [w.T.clone() for w in net.weights[1:]]
    for g, ref in zip(
        dense(fa_updates(net, B, x, t, [None] * 2)[0]), dense(bp_updates(net, x, t, [None] * 2)[0])
    ):
        torch.testing.assert_close(g, ref)


def test_dfa_one_hidden_layer_with_w2_transpose_is_bp():
    net = double_net([20, 15, 5])
    x, t = batch(20, 5)
    grads = dense(direct_updates(net, [net.weights[1].T.clone()], None, x, t, [None])[0])
    for g, ref in zip(grads, dense(bp_updates(net, x, t, [None])[0])):
        torch.testing.assert_close(g, ref)


def test_pepita_single_layer_is_delta_rule():
    net = double_net([20, 5])
    x, t = batch(20, 5)
    F = pepita_F(20, 5, 0.05, "uniform", torch.Generator().manual_seed(0)).double()
    (g,), _ = pepita_updates(net, F, x, t, [])
    e = torch.softmax(x @ net.weights[0].T, dim=1) - t
    torch.testing.assert_close(g.dense(), e.T @ x / x.shape[0])


def test_modulated_first_layer_reuse_is_exact():
    net = double_net(SIZES)
    x, t = batch(SIZES[0], SIZES[-1])
    F = pepita_F(SIZES[0], SIZES[-1], 0.5, "uniform", torch.Generator().manual_seed(0)).double()
    fast = two_passes(net, F, x, t, [None] * 2, reuse_first_layer=True)[2]
    slow = two_passes(net, F, x, t, [None] * 2, reuse_first_layer=False)[2]
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_feedback_gain_is_the_largest_first_layer_modulation_per_unit_error():
    """a_1 - a_1^err = W_1 F e exactly, so over unit errors its norm peaks at ||W_1 F||_2,
    reached along the top right singular vector; the gain scales with W_1 and with F."""
    net = double_net(SIZES)
    W1 = net.weights[0]
    F = pepita_F(SIZES[0], SIZES[-1], 0.5, "uniform", torch.Generator().manual_seed(0)).double()
    gain = feedback_gain(W1, F)
    x, _ = batch(SIZES[0], SIZES[-1], n=1)
    top = torch.linalg.svd(W1 @ F).Vh[0]
    g = torch.Generator().manual_seed(5)
    rand = torch.randn(200, SIZES[-1], generator=g, dtype=torch.float64)
    errors = torch.cat([top[None], rand / rand.norm(dim=1, keepdim=True)])
    shifts = (x @ W1.T - (x - errors @ F.T) @ W1.T).norm(dim=1)
    assert shifts[0] == pytest.approx(gain, rel=1e-10)
    assert (shifts[1:] <= gain * (1 + 1e-12)).all() and shifts[1:].max() > 0.5 * gain
    assert feedback_gain(3 * W1, F) == pytest.approx(3 * gain, rel=1e-12)
    assert feedback_gain(W1, -2 * F) == pytest.approx(2 * gain, rel=1e-12)
    # logged once per epoch by every PEPITA-family rule with a hidden layer
    rule = make_rule(TrainConfig(rule="pepita"))
    logged = rule.angles(net, {"F": F})
    assert logged["gain_W1F"] == pytest.approx(gain, rel=1e-12)


@pytest.mark.parametrize("sizes", [[20, 15, 5], SIZES])
def test_carried_first_layer_product_tracks_w1_f(sizes):
    """PEPITA carries W_1 F through its momentum steps (a linear image of the weight): over
    many steps with momentum and weight decay it stays W_1 F, and training equals the
    direct form that recomputes the modulated first layer from x - F e every step."""
    cfg = TrainConfig(rule="pepita", lr=0.05, momentum=0.9, weight_decay=1e-3, dropout=0.0)
    carried, direct = double_net(sizes), double_net(sizes)
    rule = make_rule(cfg)
    state = {"F": pepita_F(sizes[0], sizes[-1], 0.5, "uniform", torch.Generator()).double()}
    opt_c = SGD(carried.weights, cfg.lr, cfg.momentum, cfg.weight_decay)
    opt_d = SGD(direct.weights, cfg.lr, cfg.momentum, cfg.weight_decay)
    masks = [None] * (len(sizes) - 2)
    for step in range(rule.REFRESH_STEPS - 1):  # no refresh: the carried product alone
        x, t = batch(sizes[0], sizes[-1], n=8, seed=step)
        rule.step(carried, state, opt_c, x, t, masks)
        grads, _ = pepita_updates(direct, state["F"], x, t, masks)  # W_1 F from scratch
        opt_d.step(direct.weights, grads)
    torch.testing.assert_close(state["W1F"], carried.weights[0] @ state["F"])
    torch.testing.assert_close(state["V1F"], opt_c.velocity[0] @ state["F"])
    for a, b in zip(carried.weights, direct.weights):
        torch.testing.assert_close(a, b)
    # an edit of W_1 from outside the rule is noticed: the next step recomputes W_1 F
    carried.weights[0].mul_(0.5)
    x, t = batch(sizes[0], sizes[-1], n=8, seed=999)
    before = carried.weights[0].clone()
    rule.step(carried, state, opt_c, x, t, masks)
    assert not torch.allclose(before, carried.weights[0])
    torch.testing.assert_close(state["W1F"], carried.weights[0] @ state["F"])


def afa_first_layer(net, F, x, t):
    """First-order (AFA) form of PEPITA's first-layer update: [sigma'(a_1) (W_1 F e)] x^T."""
    hs, As = forward(net, x)
    e = hs[-1] - t
    delta = net.act.df(As[0]) * (e @ (net.weights[0] @ F).T)
    return delta.T @ x / x.shape[0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
def test_pepita_minus_afa_shrinks_linearly_with_f_scale(activation):
    net = double_net([30, 40, 5], activation)
    x, t = batch(30, 5, n=64)
    base = pepita_F(30, 5, 1.0, "normal", torch.Generator().manual_seed(0)).double()
    scales = (1e-1, 1e-2, 1e-3, 1e-4)
    rel = []
    for scale in scales:
        F = scale * base
        pep = pepita_updates(net, F, x, t, [None])[0][0].dense()
        afa = afa_first_layer(net, F, x, t)
        rel.append(float((pep - afa).norm() / afa.norm()))
    slopes = [r / s for r, s in zip(rel, scales)]
    if activation == "relu":
        # units crossing the kink make single decades noisy; over three decades the
        # relative error still falls in proportion to the scale
        assert max(slopes) < 5 * min(slopes), rel
        assert rel[-1] / rel[0] < 2e-3, rel
    else:
        for big, small in zip(rel, rel[1:]):
            assert 8 < big / small < 12, rel


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_pepita_sign_with_aligned_f_linear_net(depth):
    sizes = [20] + [15] * depth + [5]
    net = double_net(sizes, "linear")
    x, t = batch(20, 5, n=64)
    P = product_transpose(net.weights)
    F = 0.05 * math.sqrt(2 / 20) * P / P.std()  # aligned, at PEPITA's usual size
    bp = bp_updates(net, x, t, [None] * depth)[0][0].dense()
    plus = pepita_updates(net, F, x, t, [None] * depth)[0][0].dense()
    minus = pepita_updates(net, -F, x, t, [None] * depth)[0][0].dense()
    assert cosine(plus, bp) > 0.1
    assert cosine(minus, bp) < -0.1


def test_hebbian_is_goodness_difference_gradient_for_relu():
    net = double_net(SIZES, "relu")
    x, t = batch(SIZES[0], SIZES[-1])
    F = pepita_F(SIZES[0], SIZES[-1], 0.5, "uniform", torch.Generator().manual_seed(0)).double()
    heb = dense(hebbian_updates(net, F, x, t, [None] * 2)[0])
    hs, _, hs_err, _ = two_passes(net, F, x, t, [None] * 2)
    for l in range(1, net.depth):  # hidden layers; layer-local: the presynaptic input is held
        w = net.weights[l - 1].clone().requires_grad_(True)

        def goodness(h_prev, w=w):
            return (torch.relu(h_prev @ w.T) ** 2).sum() / x.shape[0]

        g_clean = torch.autograd.grad(goodness(hs[l - 1]), w)[0]
        g_mod = torch.autograd.grad(goodness(hs_err[l - 1]), w)[0]
        torch.testing.assert_close(heb[l - 1], 0.5 * (g_clean - g_mod))


def test_hebbian_differs_from_goodness_gradient_for_tanh():
    net = double_net([20, 15, 5], "tanh")
    x, t = batch(20, 5)
    F = pepita_F(20, 5, 0.5, "uniform", torch.Generator().manual_seed(0)).double()
    heb = dense(hebbian_updates(net, F, x, t, [None])[0])[0]
    hs, _, hs_err, _ = two_passes(net, F, x, t, [None])
    w = net.weights[0].clone().requires_grad_(True)
    g = [
        torch.autograd.grad((torch.tanh(h @ w.T) ** 2).sum() / x.shape[0], w)[0]
        for h in (hs[0], hs_err[0])
    ]
    assert float((heb - 0.5 * (g[0] - g[1])).norm() / heb.norm()) > 0.05


def _one_step(rule: str, net, x, t, lr=0.05):
    cfg = TrainConfig(rule=rule, lr=lr, momentum=0.0, dropout=0.0)
    r = make_rule(cfg)
    state = r.init_state(net, torch.Generator().manual_seed(5))
    state = {k: v.double() for k, v in state.items()}
    opt = SGD(net.weights, lr, momentum=0.0)
    r.step(net, state, opt, x, t, [None] * (net.depth - 1))
    return state


def test_time_local_second_half_sees_updated_weights():
    x, t = batch(SIZES[0], SIZES[-1])
    lr = 0.05
    w0 = double_net(SIZES).weights
    tl = double_net(SIZES)
    state = _one_step("pepita_tl", tl, x, t, lr)
    F = state["F"]
    # reference: first half from W, second (modulated) half from W' = W - lr * h h^T
    ref = double_net(SIZES)
    hs, _ = forward(ref, x)
    e = hs[-1] - t
    mid = [w - lr * hs[l + 1].T @ hs[l] / x.shape[0] for l, w in enumerate(ref.weights)]
    ref.weights = mid
    hs_err, _ = forward(ref, x - e @ F.T)
    post = [hs_err[l] for l in range(1, ref.depth)] + [t]
    expected = [w + lr * p.T @ hs_err[l] / x.shape[0] for l, (w, p) in enumerate(zip(mid, post))]
    for a, b in zip(tl.weights, expected):
        torch.testing.assert_close(a, b)
    # Hebbian: identical except that its second pass runs on the original weights
    heb = double_net(SIZES)
    _one_step("pepita_hebbian", heb, x, t, lr)
    hs_err0, _ = forward(double_net(SIZES), x - e @ F.T)
    post0 = [hs_err0[l] for l in range(1, ref.depth)] + [t]
    hebb_expected = [
        w - lr * hs[l + 1].T @ hs[l] / x.shape[0] + lr * p.T @ hs_err0[l] / x.shape[0]
        for l, (w, p) in enumerate(zip(w0, post0))
    ]
    for a, b in zip(heb.weights, hebb_expected):
        torch.testing.assert_close(a, b)
    assert max(float((a - b).abs().max()) for a, b in zip(tl.weights, heb.weights)) > 1e-6


def test_dropout_mask_shared_by_both_passes():
    net = double_net([20, 30, 5], "linear", dropout=0.5)
    x, t = batch(20, 5)
    masks = [m.double() for m in dropout_masks(net, x.shape[0], torch.Generator().manual_seed(0))]
    F = pepita_F(20, 5, 0.5, "uniform", torch.Generator().manual_seed(0)).double()
    hs, _, hs_err, _ = two_passes(net, F, x, t, masks)
    dropped = masks[0] == 0
    assert dropped.any() and (~dropped).any()
    assert bool((hs[1][dropped] == 0).all()) and bool((hs_err[1][dropped] == 0).all())
    assert bool((hs_err[1][~dropped] != 0).all())


def test_angle_helper():
    a = torch.tensor([[1.0, 0.0]])
    assert math.isclose(angle_deg(a, torch.tensor([[0.0, 2.0]])), 90.0)
    assert math.isclose(angle_deg(a, -a), 180.0)
    assert angle_deg(a, 3 * a) < 1e-5


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_afa_is_pepita_to_first_order_in_every_layer(depth):
    from pepita_lib.rules.afa import afa_updates

    sizes = [30] + [25] * depth + [5]
    net = double_net(sizes, "tanh")
    x, t = batch(30, 5, n=64)
    base = pepita_F(30, 5, 1.0, "normal", torch.Generator().manual_seed(0)).double()
    rel = []
    for scale in (1e-2, 1e-3, 1e-4):
        pep = dense(pepita_updates(net, scale * base, x, t, [None] * depth)[0])
        afa = dense(afa_updates(net, scale * base, x, t, [None] * depth)[0])
        rel.append([float((p - a).norm() / a.norm()) for p, a in zip(pep, afa)])
    for big, small in zip(rel, rel[1:]):  # every layer's gap falls tenfold per decade
        for b, s in zip(big, small):
            assert 8 < b / s < 12, rel


def test_afa_first_layer_matches_its_closed_form():
    from pepita_lib.rules.afa import afa_updates

    net = double_net([30, 40, 5], "relu")
    x, t = batch(30, 5, n=64)
    F = pepita_F(30, 5, 0.05, "uniform", torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(
        afa_updates(net, F, x, t, [None])[0][0].dense(), afa_first_layer(net, F, x, t)
    )
