"""SGD with momentum, L2 weight decay and step learning-rate decay.

Every rule in this library except Forward-Forward produces, for each layer, an update
that is a batch mean of outer products, grad_l = (1/B) sum_b post_b pre_b^T. Rules
return it in factored form (:class:`Outer`) and the optimiser adds it straight into the
momentum buffer with one fused ``addmm_``: no dense gradient is ever materialised, which
matters for the memory-bound first layer (d_0 x 1024) on a CPU.

Momentum follows PyTorch's SGD: v <- mu v + g + lambda W, W <- W - eta v.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Outer:
    """The update (1/n) post^T @ pre, with post (n, d_out) and pre (n, d_in)."""

    post: Tensor
    pre: Tensor
    n: int

    def dense(self) -> Tensor:
        return self.post.mT @ self.pre / self.n


Grad = Tensor | Outer


def dense(g: Grad) -> Tensor:
    return g.dense() if isinstance(g, Outer) else g


def _add_into(buf: Tensor, g: Grad, alpha: float = 1.0, beta: float = 1.0) -> None:
    """buf <- beta * buf + alpha * g, fused when g is an outer product."""
    if isinstance(g, Outer):
        # (S, d_out, d_in) buffers of stacked seeds take the batched form of the same product
        fused = buf.baddbmm_ if buf.dim() == 3 else buf.addmm_
        fused(g.post.mT, g.pre, beta=beta, alpha=alpha / g.n)
    else:
        if beta != 1.0:
            buf.mul_(beta)
        buf.add_(g, alpha=alpha)


def stack_outer(*terms: tuple[float, Outer]) -> Outer:
    """sum_i c_i * Outer_i as one Outer (concatenated along the sample axis)."""
    n = terms[0][1].n
    post = torch.cat([c * o.post for c, o in terms], dim=-2)
    pre = torch.cat([o.pre for _, o in terms], dim=-2)
    return Outer(post, pre, n)


class SGD:
    """SGD with momentum and L2 weight decay over a list of weight tensors.

    ``lr`` is a float, or for S stacked nets a (S, 1, 1) tensor: one rate per net."""

    def __init__(
        self,
        weights: list[Tensor],
        lr: float | Tensor,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocity = [torch.zeros_like(w) for w in weights]

    def step(
        self, weights: list[Tensor], grads: list[Grad], applied: list[Grad] | None = None
    ) -> None:
        """One momentum step descending ``grads``.

        ``applied`` lists parts of this step's gradient that a time-local rule already
        applied to the weights (W <- W - eta g1) earlier in the same step. They enter the
        momentum buffer but are not applied twice, so the whole step equals a momentum
        step on g1 + g (PEPITA-TL; with momentum 0 exactly the two sequential updates).
        """
        with torch.no_grad():
            for i, (w, g) in enumerate(zip(weights, grads)):
                self._update(w, self.velocity[i], g)
                if applied is not None:
                    _add_into(self.velocity[i], applied[i])

    def step_image(self, w_img: Tensor, v_img: Tensor, g_img: Grad) -> None:
        """The same momentum step on a linear image of a weight: if w_img = W P, v_img = v P
        and g_img = g P for a fixed P, then after ``step`` on W and this call, w_img and v_img
        are again W P and v P (the recurrence is linear). PEPITA carries W_1 F this way."""
        with torch.no_grad():
            self._update(w_img, v_img, g_img)

    def _update(self, w: Tensor, v: Tensor, g: Grad) -> None:
        _add_into(v, g, beta=self.momentum)
        if self.weight_decay:
            v.add_(w, alpha=self.weight_decay)
        if isinstance(self.lr, Tensor):  # one rate per stacked net, shaped (S, 1, 1)
            w.addcmul_(v, self.lr, value=-1.0)
        else:
            w.add_(v, alpha=-self.lr)

    def apply_now(self, weights: list[Tensor], grads: list[Grad]) -> None:
        """W <- W - eta g immediately (the first half of a time-local step)."""
        with torch.no_grad():
            for w, g in zip(weights, grads):
                if isinstance(self.lr, Tensor):
                    g = Outer(g.post * self.lr, g.pre, g.n) if isinstance(g, Outer) else g * self.lr
                    _add_into(w, g, alpha=-1.0)
                else:
                    _add_into(w, g, alpha=-self.lr)


def lr_at(epoch: int, base_lr: float, decay: float, decay_epochs: tuple[int, ...]) -> float:
    """Learning rate of (0-based) ``epoch``: base * decay^(number of decay epochs <= epoch)."""
    return base_lr * decay ** sum(epoch >= e for e in decay_epochs)
