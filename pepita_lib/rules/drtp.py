"""Direct random target projection (Frenkel, Lefebvre & Bol 2021).

Like DFA, but hidden layers receive a fixed random projection of the *target*, not of
the error, so they can update before the output is even computed:

    delta_l = sigma'(a_l) * m_l * (B_l t),   l < L
    delta_L = h_L - t                        (delta rule at the output)
    W_l <- W_l - eta * mean_b delta_l h_{l-1}^T

Sign: as in the authors' reference code the projected target is used as the hidden
gradient and descended. With zero-mean B_l the opposite sign is the same rule under
B_l -> -B_l, so the choice does not change what the rule can learn.
"""

from __future__ import annotations

import torch

from .dfa import DFA

Tensor = torch.Tensor


class DRTP(DFA):
    name = "drtp"
    summary = "direct random target projection: B_l t to each hidden layer"

    def signal(self, t: Tensor) -> Tensor:
        return t
