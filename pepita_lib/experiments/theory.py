"""The teacher-student theory's runs as the experiment ``theory``: numpy ODEs and
simulations (:mod:`pepita_lib.theory.runs`), stored and listed like training runs but
computed by their own function instead of the trainer."""

from __future__ import annotations

from ..theory import runs
from .registry import register

register("theory", runs.DESCRIPTION, compute=runs.run_theory)(runs.theory_grid)
