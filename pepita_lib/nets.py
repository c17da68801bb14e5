"""Bias-free fully connected networks.

Notation of the book (chapter "Credit assignment without a backward pass"): L weight
layers W_1..W_L, h_0 = x, a_l = W_l h_{l-1}, h_l = sigma(a_l) for hidden layers,
h_L = softmax(a_L). In code rows are samples, so a layer computes ``a = h @ W.T`` with
``W`` of shape (d_l, d_{l-1}).

Dropout multiplies hidden activities by a mask m_l (entries 0 or 1/(1-p)). The mask is
drawn once per training step (:func:`dropout_masks`) and passed to every forward pass of
that step, so PEPITA's clean and modulated passes see the same sub-network.

Seeds as one batch: a net may hold S independent networks of the same shape, each weight
stacked along a leading seed axis (S, d_l, d_{l-1}), with activities shaped (S, B, d_l).
Every function here and every update rule that declares ``batchable`` is written with
``.mT`` and ``dim=-1`` so the same code trains one net or S of them (batched matmuls);
:meth:`Net.seed` views one of the S nets for evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .activations import Activation, get_activation

Tensor = torch.Tensor

INITS = ("he_uniform", "he_normal")


@dataclass
class Net:
    weights: list[Tensor]
    act: Activation
    dropout: float = 0.0
    norm: str = "none"  # activation normalisation after hidden layers: none | batch | sample

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[-1]] + [w.shape[-2] for w in self.weights]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def seeds(self) -> int | None:
        """S for a net of S stacked seeds, None for a single net."""
        return self.weights[0].shape[0] if self.weights[0].dim() == 3 else None

    def seed(self, s: int) -> Net:
        """The s-th of S stacked nets, as a single net sharing its storage."""
        return Net([w[s] for w in self.weights], self.act, self.dropout, self.norm)


def stack_nets(nets: list[Net]) -> Net:
    """S nets of one shape as one net with a leading seed axis (copies the weights)."""
    first = nets[0]
    weights = [torch.stack(ws) for ws in zip(*(n.weights for n in nets))]
    return Net(weights, first.act, first.dropout, first.norm)


def init_weight(d_out: int, d_in: int, init: str, gen: torch.Generator) -> Tensor:
    """He initialisation of a (d_out, d_in) weight, fan-in d_in."""
    if init == "he_uniform":
        bound = math.sqrt(6.0 / d_in)
        return (torch.rand(d_out, d_in, generator=gen) * 2 - 1) * bound
    if init == "he_normal":
        return torch.randn(d_out, d_in, generator=gen) * math.sqrt(2.0 / d_in)
    raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")


def make_net(
    sizes: list[int],
    activation: str = "relu",
    init: str = "he_uniform",
    dropout: float = 0.0,
    gen: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    norm: str = "none",
) -> Net:
    """A net with layer widths ``sizes`` = [d_0, d_1, ..., d_L]."""
    if len(sizes) < 2:
        raise ValueError(f"need at least input and output sizes, got {sizes}")
    gen = gen or torch.Generator().manual_seed(0)
    weights = [
        init_weight(sizes[i + 1], sizes[i], init, gen).to(device) for i in range(len(sizes) - 1)
    ]
    return Net(weights=weights, act=get_activation(activation), dropout=dropout, norm=norm)


def normalise(h: Tensor, norm: str) -> Tensor:
    """Activation normalisation (Srinivasan et al. 2024; chapter
    "Going deeper"): divide the whole batch matrix by its Frobenius
    norm ("batch", as one public implementation does) or each sample by its L2 norm."""
    if norm == "batch":
        return h / torch.linalg.matrix_norm(h, keepdim=True).clamp_min(1e-12)
    if norm == "sample":
        return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return h


def dropout_mask(
    batch: int, width: int, p: float, gen: torch.Generator, dtype: torch.dtype
) -> Tensor:
    """An inverted-dropout mask (batch, width): entries 0 with probability p, else 1/(1-p)."""
    keep = 1.0 - p
    # Drawn on the generator's device, so CUDA runs never copy masks from the host.
    return (torch.rand(batch, width, generator=gen, device=gen.device) < keep).to(dtype) / keep


def dropout_masks(net: Net, batch: int, gen: torch.Generator | None) -> list[Tensor | None]:
    """One inverted-dropout mask per hidden layer (None when dropout is off)."""
    if net.dropout == 0 or gen is None:
        return [None] * (net.depth - 1)
    return [dropout_mask(batch, w.shape[-2], net.dropout, gen, w.dtype) for w in net.weights[:-1]]


def hidden_activity(net: Net, a: Tensor, mask: Tensor | None) -> Tensor:
    """h_l = m_l * normalise(sigma(a_l)): a hidden layer's activity from its pre-activation."""
    h = normalise(net.act.f(a), net.norm)
    return h if mask is None else h * mask


def forward(
    net: Net,
    x: Tensor,
    masks: list[Tensor | None] | None = None,
    first_preact: Tensor | None = None,
) -> tuple[list[Tensor], list[Tensor]]:
    """Forward pass: returns activities [h_0..h_L] and pre-activations [a_1..a_L].

    ``first_preact`` lets a caller supply a_1 = W_1 h_0 computed another way (PEPITA's
    modulated pass reuses the clean W_1 x, see rules/pepita.py).
    """
    masks = masks or [None] * (net.depth - 1)
    hs, As = [x], []
    h = x
    for l, w in enumerate(net.weights):
        a = first_preact if (l == 0 and first_preact is not None) else h @ w.mT
        As.append(a)
        if l == net.depth - 1:
            h = torch.softmax(a, dim=-1)
        else:
            h = hidden_activity(net, a, masks[l])
        hs.append(h)
    return hs, As


def predict(net: Net, x: Tensor, chunk: int = 4096) -> Tensor:
    """Class predictions of the clean, dropout-free net.

    Activation normalisation is left out: it rescales each sample (or the whole chunk) by
    a positive factor, which for positively homogeneous units (ReLU, linear) leaves the
    argmax unchanged, and it keeps predictions independent of how samples are chunked.
    """
    out = []
    for i in range(0, x.shape[0], chunk):
        h = x[i : i + chunk]
        for l, w in enumerate(net.weights):
            a = h @ w.T
            h = a if l == net.depth - 1 else net.act.f(a)
        out.append(h.argmax(dim=1))
    return torch.cat(out)


def accuracy(net: Net, x: Tensor, y: Tensor) -> float:
    return float((predict(net, x) == y).float().mean())
