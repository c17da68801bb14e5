"""Learning rules, one file each, behind the interface of :mod:`.base`.

``RULES`` maps a rule's name to its class; ``make_rule(cfg)`` builds the rule a config
asks for. Weight mirroring and Forward-Forward join this registry in their own files.
"""

from __future__ import annotations

from ..config import TrainConfig
from .afa import AFA
from .base import Rule, RuleBase
from .bp import BP
from .dfa import DFA
from .drtp import DRTP
from .fa import FA
from .pepita import Pepita
from .pepita_hebbian import PepitaHebbian
from .pepita_tl import PepitaTL

RULES: dict[str, type[RuleBase]] = {
    cls.name: cls for cls in (BP, FA, DFA, DRTP, Pepita, PepitaHebbian, PepitaTL, AFA)
}


def check_rule(name: str) -> None:
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; valid: {', '.join(RULES)}")


def make_rule(cfg: TrainConfig) -> Rule:
    check_rule(cfg.rule)
    return RULES[cfg.rule](cfg)


__all__ = ["RULES", "Rule", "RuleBase", "check_rule", "make_rule"]
