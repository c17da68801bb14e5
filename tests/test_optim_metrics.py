"""Optimiser identities and history metrics."""

from __future__ import annotations

import numpy as np
import torch

from pepita_lib.metrics import slowness, slowness_curve
from pepita_lib.optim import SGD, Outer, lr_at, stack_outer


def test_fused_outer_step_equals_dense_momentum_sgd():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 4, generator=g, dtype=torch.float64)
    ref = w.clone().requires_grad_(True)
    torch_opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, weight_decay=0.01)
    ours = SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        post = torch.randn(5, 6, generator=g, dtype=torch.float64)
        pre = torch.randn(5, 4, generator=g, dtype=torch.float64)
        ours.step([w], [Outer(post, pre, 5)])
        ref.grad = post.T @ pre / 5
        torch_opt.step()
    torch.testing.assert_close(w, ref.detach())


def test_time_local_step_equals_momentum_step_on_the_sum():
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(3, 3, generator=g, dtype=torch.float64)
    g1s = [torch.randn(3, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    g2s = [torch.randn(3, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    a, b = w0.clone(), w0.clone()
    oa, ob = SGD([a], 0.1, 0.9), SGD([b], 0.1, 0.9)
    for g1, g2 in zip(g1s, g2s):
        oa.apply_now([a], [g1])
        oa.step([a], [g2], applied=[g1])
        ob.step([b], [g1 + g2])
    torch.testing.assert_close(a, b)


def test_stack_outer():
    g = torch.Generator().manual_seed(2)
    o1 = Outer(torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g), 4)
    o2 = Outer(torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g), 4)
    torch.testing.assert_close(stack_outer((1.0, o1), (-1.0, o2)).dense(), o1.dense() - o2.dense())


def test_lr_schedule():
    lrs = [lr_at(e, 0.1, 0.1, (60, 90)) for e in (0, 59, 60, 89, 90, 99)]
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_slowness_fit_recovers_parameter():
    t = np.arange(1, 61, dtype=float)
    acc = slowness_curve(t, 0.97, 3.5)
    fit = slowness(acc, chance=0.0)
    assert abs(fit["slowness"] - 3.5) < 1e-3 and abs(fit["acc_max"] - 0.97) < 1e-4
    fast = slowness(slowness_curve(t, 0.97, 0.5), chance=0.0)
    assert fast["slowness"] < fit["slowness"]
