"""Reading the teacher-student records: gaps, escape times, alignment and overlap scaling."""

import math

import numpy as np
import pytest

from pepita_lib.analysis.theory import (
    cosine,
    draw_texts,
    eps0,
    escape,
    max_rel,
    overlap_draws,
    sigma_f_texts,
)


def _record(sim: list[float], ode: list[float]) -> dict:
    """A record whose initial weights give eps_g(init) = eps0 (K = M = 1, orthogonal student)."""
    init = {"Q": [[1.0]], "R": [[0.0]], "T": [[1.0]], "v": [0.0], "vstar": [1.0]}
    return {
        "alpha": [1.0, 2.0, 3.0, 4.0],
        "sim": {"eps_g": sim},
        "ode": {"eps_g": ode},
        "init": init,
    }


def test_initial_error_of_a_silent_student_is_half_the_teacher_power():
    # v = 0: eps_g = 1/2 v*^2 I2(T, T) = 1/2 * (2/pi) arcsin(1/2) = 1/6
    rec = _record([1, 1, 1, 1], [1, 1, 1, 1])
    assert eps0(rec) == pytest.approx(1 / 6)


def test_max_rel_is_relative_to_the_simulation_and_says_where():
    rel, where = max_rel(_record([1.0, 0.5, 0.2, 0.1], [1.0, 0.6, 0.2, 0.1]))
    assert rel == pytest.approx(0.2) and where == 2.0


def test_escape_is_the_first_time_below_half_the_initial_error():
    e0 = 1 / 6
    rec = _record([e0, 0.6 * e0, 0.4 * e0, 0.1 * e0], [e0, e0, e0, e0])
    assert escape(rec, "sim") == 3.0
    assert escape(rec, "ode") is None


def test_cosine_is_one_for_parallel_and_minus_one_for_opposite_vectors():
    S = np.array([[1.0, 2.0], [1.0, 0.0]])
    assert cosine(S, 3 * S) == pytest.approx([1.0, 1.0])
    assert cosine(S, -S) == pytest.approx([-1.0, -1.0])


def test_random_overlaps_fall_like_one_over_sqrt_n_aligned_ones_do_not():
    draws = overlap_draws([100, 3000], n_draws=6)
    texts = draw_texts(draws)
    # sqrt(N) E|N(0, 1/N)| = sqrt(2/pi) ~ 0.80; |P_m| at a = 0.6 stays near a / sqrt(2)
    assert float(texts["ts_sqrtN_S"]) == pytest.approx(math.sqrt(2 / math.pi), abs=0.2)
    assert float(texts["ts_P06"]) == pytest.approx(0.6 / math.sqrt(2), abs=0.1)
    assert texts["ts_Nmax"] == "3000"


def test_sigma_f_texts_name_each_scale_and_missing_runs():
    texts = sigma_f_texts([_record([1.0, 0.5, 0.2, 0.1], [1.0, 0.6, 0.2, 0.1]), None, None], 0.05)
    assert texts["ts_sf_big"] == "0.2" and texts["ts_sf_small"] == "0.0125"
    assert texts["ts_sfdev_big"] == "20.0" and texts["ts_sfdev_mid"] == "n/a"
