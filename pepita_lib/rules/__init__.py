"""Learning rules, one file each, behind the interface of :mod:`.base`.

``RULES`` maps a rule's name to its class; ``make_rule(cfg)`` builds the rule a config
asks for.
"""

from __future__ import annotations

from ..config import TrainConfig
from .afa import AFA
from .base import Option, Rule, RuleBase
from .bp import BP
from .dfa import DFA
from .drtp import DRTP
from .fa import FA
from .ff import FF, FFTopDown
from .pepita import Pepita
from .pepita_hebbian import PepitaHebbian
from .pepita_tl import PepitaTL
from .pepita_wm import PepitaWM

RULES: dict[str, type[RuleBase]] = {
    cls.name: cls
    for cls in (BP, FA, DFA, DRTP, Pepita, PepitaHebbian, PepitaTL, PepitaWM, AFA, FF, FFTopDown)
}


def check_rule(name: str) -> None:
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; valid: {', '.join(RULES)}")


def make_rule(cfg: TrainConfig) -> Rule:
    """The rule ``cfg`` asks for, its options (``cfg.extra``) validated. A rule whose
    updates use sigma'(a) (``needs_derivative``) refuses activation normalisation: its
    hand-written derivatives ignore it and would silently learn with the wrong gradient."""
    check_rule(cfg.rule)
    if cfg.act_norm != "none" and RULES[cfg.rule].needs_derivative:
        raise ValueError(
            f"act_norm={cfg.act_norm!r} is only supported by forward-only rules; "
            f"{cfg.rule!r} uses sigma'(a) and does not differentiate the normalisation"
        )
    return RULES[cfg.rule](cfg)


__all__ = ["RULES", "Option", "Rule", "RuleBase", "check_rule", "make_rule"]
