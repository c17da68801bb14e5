"""The factorisation checks: scale rules, shared-noise mirroring, the product-of-cosines law."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from pepita_lib.analysis import mirroring_factorisation as mf
from pepita_lib.config import TrainConfig
from pepita_lib.feedback import factorised_F, renormalise
from pepita_lib.rules.base import angle_deg


@pytest.mark.parametrize("L", [2, 3, 4, 5, 6])
def test_sqrt_correction_maps_r_to_r_power_one_minus_half_L(L):
    sizes = [30] + [20] * (L - 1) + [5]
    target = 0.01
    factors = [f.double() for f in factorised_F(sizes, 0.05, torch.Generator().manual_seed(L))]
    renormalise(factors, target)
    factors[0].mul_(1.1)
    r = mf.std_ratio(factors, target)
    mf.sqrt_correction(factors, target)
    assert mf.std_ratio(factors, target) == pytest.approx(r ** (1 - L / 2), rel=1e-9)


def test_repeated_sqrt_corrections_fix_two_factors_and_blow_up_six():
    iterates = {d: mf.sqrt_iterates(d, 0.05, rounds=4) for d in (1, 3, 5)}
    assert [mf.iteration_verdict(iterates[d]) for d in (1, 3, 5)] == [
        "corrected at once",
        "the error persists",
        "the error grows",
    ]
    # L = 4: r -> 1 / r, the error flips sign every round
    assert iterates[3][1] * iterates[3][2] < 0


def test_scale_draw_is_exact_after_renormalise_and_gaussian_in_shape():
    row = mf.scale_draw(2, 0, 0.05)
    assert row["L"] == 3 and row["exact"] < mf.EXACT_TOL
    assert abs(row["raw"]) < 0.1 and abs(row["kurtosis"]) < 0.5 and row["colratio"] >= 1
    # factors right for two layers multiply F by about s sqrt(width) per extra layer
    s_two = (mf.sigma_f(0.05) ** 2 / 1024) ** 0.25
    assert row["fixed"] == pytest.approx(s_two * math.sqrt(1024), rel=0.05)


@pytest.mark.parametrize("L", [1, 2, 4, 6])
def test_angle_needed_inverts_the_product_of_cosines_law(L):
    theta = mf.angle_needed(45, L)
    assert mf.prod_cos_law([theta] * L) == pytest.approx(45)
    assert mf.prod_cos_law([0.0] * L) == pytest.approx(0, abs=1e-6)
    assert mf.prod_cos_law([30.0, 90.0]) == pytest.approx(90)


def test_shared_noise_gives_a_shared_layer_the_same_direction_at_every_depth():
    g = torch.Generator().manual_seed(0)
    W1, W2 = torch.randn(20, 12, generator=g), torch.randn(20, 20, generator=g)
    nets = {1: [W1, torch.randn(4, 20, generator=g)], 2: [W1, W2, torch.randn(4, 20, generator=g)]}
    b1 = torch.randn(12, 20, generator=g)
    factors = {
        1: [b1.clone(), torch.randn(20, 4, generator=g)],
        2: [b1.clone(), torch.randn(20, 20, generator=g), torch.randn(20, 4, generator=g)],
    }
    cfg = TrainConfig(wm_lr=0.5, wm_noise=1.0, batch_size=16)
    mf.shared_mirror_round(nets, factors, torch.relu, cfg, g)
    # same start, noise and layer: after one round the copies differ only by renormalisation
    assert angle_deg(factors[1][0], factors[2][0]) < 1e-3
    assert angle_deg(factors[1][0], b1) > 1
    for d in (1, 2):
        assert mf.std_ratio(factors[d], mf.sigma_f(cfg.f_scale, 12)) == pytest.approx(1, rel=1e-5)


def test_mirroring_fixed_nets_turns_factors_towards_their_layers():
    b = mf.mirror_fixed_nets(0, [1, 2], steps=20, every=20, cfg=TrainConfig(wm_lr=1.0))
    start, end = (b[(b["step"] == s) & (b["layer"] > 0)]["angle"] for s in (0, 20))
    assert start.between(85, 95).all() and (end.to_numpy() < start.to_numpy()).all()
    assert set(b["step"]) == {0, 20} and len(mf.mirror_table(b)) == 2


def test_constructed_factors_follow_the_law_at_the_ends():
    m = mf.constructed_angles(0, [1, 2], [0, 90])
    assert m[m["theta"] == 0]["angle_F"].max() < 1e-3
    assert (m[m["theta"] == 90]["angle_F"] - 90).abs().max() < 5


def _aligned(depth_angles):
    return pd.DataFrame(
        [
            {
                "Dataset": "MNIST",
                "Variant": "WM",
                "hidden layers": d,
                "per": per,
                "F": f,
                "law": mf.prod_cos_law(per),
                "acc": 0.9,
            }
            for d, per, f in depth_angles
        ]
    )


def test_trained_verdicts_follow_the_numbers():
    worse_deep = _aligned([(1, [10.0, 10.0], 14.0), (3, [40.0] * 4, 70.0)])
    out = mf.trained_glue(worse_deep)
    assert out["c_runs"] == "2 finished runs are"
    assert "aligns F worse as depth grows" in out["c_verdict"]
    assert out["c_final_F"] == "1 hidden: 14°; 3 hidden: 70°"
    assert mf.law_verdict(5.0).startswith("F ends better aligned")
    assert mf.law_verdict(-5.0).startswith("F ends less aligned")
    assert mf.law_verdict(0.5).startswith("The law found")
    assert mf.trained_glue(_aligned([]).reindex(columns=["F"]).iloc[:0])["c_law"].startswith("not")


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="depth"):
        mf.mlp_sizes(-1)
    with pytest.raises(ValueError, match="steps"):
        mf.mirror_fixed_nets(0, [1], steps=-1, every=1)
