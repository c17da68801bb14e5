"""Forward-Forward (Hinton 2022) and "PEPITA is FF with top-down negatives" (Srinivasan
et al. 2024, Sec. 5; chapter "Forward-Forward and PEPITA").

Notation of :mod:`pepita_lib.nets`, rows are samples. The hidden layers are W_1..W_{L-1}
(``net.weights[:-1]``); each one sees the length-normalised, detached activity of the
layer below, so every layer learns only from its own loss:

    hhat_{l-1} = h_{l-1} / ||h_{l-1}||          (h_0 = x; no gradient flows through it)
    h_l        = sigma(W_l hhat_{l-1})
    G_l        = ||h_l||^2 = sum_j h_{l,j}^2                      (goodness)
    p_l(pos)   = sigmoid(G_l - theta)
    loss_l     = mean_b [ softplus(theta - G_l(pos)) + softplus(G_l(neg) - theta) ]
               = mean_b [ -log p_l(pos sample) - log(1 - p_l(neg sample)) ]
    W_l       <- W_l - eta * momentum-SGD( d loss_l / d W_l )           (autograd, layer-local)

The last weight layer W_L is a linear softmax readout on hhat_{L-1}, trained by the delta
rule, Delta W_L = (softmax(W_L hhat_{L-1}) - t) hhat_{L-1}^T, so the net stays a normal
:class:`~pepita_lib.nets.Net` of sizes [d_0, *hidden, n_classes]. Its input is detached
as well: the readout never shapes the hidden layers.

Two rules share this machinery:

- :class:`FF` ("ff"): supervised FF. The label is written into the input: the first
  n_classes input values are overwritten by the one-hot label times ``ff_label_value``
  (3.0; those ten pixels are black in every MNIST image, so nothing of the digit is lost).
  Positive sample: the true label; negative: a wrong label drawn uniformly among the other
  classes (:func:`wrong_labels`, never the true one; ``ff_negatives = "hard"`` draws it
  from the net's own goodness scores instead, as Hinton does). Prediction: the label whose
  embedding gives the largest goodness summed over the hidden layers
  (:func:`goodness_scores`). The readout is trained on a pass with a neutral label (every
  label entry ``ff_label_value / n_classes``), as Hinton does for his softmax variant.
- :class:`FFTopDown` ("ff_topdown"): the same layer-local loss, but the pair is made by
  top-down feedback as in PEPITA: positive = clean x, negative = x - F e with
  e = softmax(W_L hhat_{L-1}) - t from the clean pass and F PEPITA's fixed projection
  (:class:`~pepita_lib.rules.pepita.PepitaBase`: same initialisation, same angle metric).
  No label embedding; prediction by the readout's argmax. At PEPITA's F scale (0.05) the
  negative is almost the positive and the hidden layer learns nothing useful: accuracy
  equals that of the readout on frozen random features (87.7 vs 87.8 %, 1 x 500, 10k MNIST
  images, 5 epochs, lr 1). With f_scale of order 1 (||F e|| comparable to ||x||) the hidden
  layer adds several points (f_scale 3: 93.3 %; tests/test_ff.py checks the gap).

Sign, worth knowing (minus convention): PEPITA-Hebbian *descends* G(clean) - G(modulated)
(see :func:`hebbian_vs_goodness`), i.e. it lowers the goodness of the clean pass and raises
that of the modulated one. FF with the modulated input as negative does the opposite.
``ff_td_negative = "clean"`` swaps the roles; then, at p = 1/2 and without the
normalisation between layers, the FF gradient of a ReLU layer is exactly PEPITA-Hebbian's
update. With the logistic loss and normalised inputs the FF orientation trains better once
the modulation is large (f_scale 3: 93.3 % against 60.4 % for "clean"; 1 x 500, 10k MNIST
images, 5 epochs, theta 2).

Dropout masks from the trainer are ignored by both rules: Hinton's FF has no dropout, and
a mask shared by the positive and negative members of a pair would only add noise to the
goodness comparison. The net's activation normalisation (``act_norm``) is ignored too: FF
always normalises each sample's layer input to unit length, as above, and never the
activity whose goodness it measures (a unit-length h_l would have G_l = 1 always).

Options (``cfg.extra``, ``--set name=value``), declared in :data:`FF_OPTIONS`, defaults in
:data:`FF_DEFAULTS`:

- ``ff_threshold`` (theta, 20.0 for FF, 2.0 for FFTopDown): the goodness that separates
  positive from negative. With unit-length layer inputs and He-initialised weights, E[G_l]
  starts at d_l / d_{l-1} (about 0.6 for 784 -> 500), so positives must grow their activity
  energy some thirtyfold while negatives are silenced. Measured with one hidden layer of 500,
  lr 1.0, batch 100, 5 epochs on MNIST: theta = 2, 5, 10, 20, 40 gave 94.8, 95.6, 96.4,
  96.9, 95.8 % (2000 test images, seed 0; 96.8-96.9 % over seeds 0-2 at theta = 20).
  FFTopDown's pairs differ only by the modulation, so theta = 20 just inflates every
  activity (75 % against 88 % for the readout on frozen random features; 1 x 500, 10k
  images, 5 epochs); theta in 0.5-5 all give the same accuracy, and 2.0, near the initial
  goodness, keeps the logistic weights near 1/2, the regime of the PEPITA-Hebbian identity.
- ``ff_label_value`` (3.0): the "on" value of the embedded one-hot label. After length
  normalisation the label is 3 / sqrt(9 + ||x||^2), about 0.3 of the input vector for an
  average MNIST digit (||x|| ~ 9.2); with 1.0 it is about 0.1, and accuracy drops
  (95.1 vs 96.4 % at theta = 10 in the run above).
- ``ff_predict`` ("goodness"): FF's accuracy by goodness, or "readout" (softmax readout
  on the neutral-label pass). FFTopDown always uses the readout.
- ``ff_skip_first`` (False): leave the first hidden layer out of the summed goodness
  (Hinton's choice for deep nets). Ignored with one hidden layer. Off by default: in short
  runs the first layer carries much of the label information (2 x 500, theta 10, 5 epochs:
  96.5 % with it, 95.8 % without).
- ``ff_negatives`` ("random"): wrong labels uniform over the other classes, or "hard":
  drawn with probability softmax(goodness) over the wrong labels (costs n_classes extra
  forward passes per step).
- ``ff_readout`` (True): train the readout W_L (costs one extra forward pass per step
  for FF). If False, W_L stays at its initial values.
- ``ff_td_negative`` ("modulated"): FFTopDown's negative member, "modulated" (x - F e)
  or "clean" (the PEPITA-Hebbian orientation, see above).

Learning rate: the library's SGD with momentum 0.9 at lr 1.0 (batch 100). Layer inputs
have unit length, so gradient entries are small and PEPITA's 0.01-0.1 barely moves FF;
in our runs lr 3 killed the ReLU units at theta >= 10 (no biases and non-negative inputs:
a unit pushed negative on every input never recovers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as tF

from ..activations import ACTIVATIONS, Activation
from ..config import TrainConfig
from ..nets import Net
from ..optim import SGD, Grad, Outer, dense
from .base import Masks, Option, RuleBase, cross_entropy
from .pepita import PepitaBase, modulated_input, two_passes
from .pepita_hebbian import hebbian_updates

Tensor = torch.Tensor

FF_OPTIONS = (
    Option("ff_threshold", float, 20.0, "theta, the goodness that separates pos from neg"),
    Option("ff_label_value", float, 3.0, 'the "on" value of the embedded one-hot label'),
    Option("ff_predict", str, "goodness", "FF's accuracy by goodness or by the readout",
           ("goodness", "readout")),
    Option("ff_skip_first", bool, False, "leave the first hidden layer out of the goodness"),
    Option("ff_readout", bool, True, "train the readout W_L"),
    Option("ff_td_negative", str, "modulated", "FFTopDown's negative: x - F e or clean x",
           ("modulated", "clean")),
    Option("ff_negatives", str, "random", "wrong labels: uniform, or hard (by goodness)",
           ("random", "hard")),
)  # fmt: skip
FF_DEFAULTS: dict[str, Any] = {o.name: o.default for o in FF_OPTIONS}
# FFTopDown's two members differ only by the small top-down modulation, so G(pos) ~ G(neg)
# and a large theta would just inflate every activity; near the initial goodness the
# logistic weights stay close to 1/2, the regime of the PEPITA-Hebbian identity.
FF_TOPDOWN_OPTIONS = tuple(
    dataclasses.replace(o, default=2.0) if o.name == "ff_threshold" else o for o in FF_OPTIONS
)
FF_TOPDOWN_DEFAULTS: dict[str, Any] = {o.name: o.default for o in FF_TOPDOWN_OPTIONS}

# Guards the division of an all-zero activity vector (dead ReLU layer): it stays zero.
_NORM_EPS = 1e-12


# --- labels ---------------------------------------------------------------------------


def wrong_labels(y: Tensor, n_classes: int, gen: torch.Generator) -> Tensor:
    """A label != y for every sample, uniform over the other n_classes - 1 classes.

    y + k (mod n_classes) with k ~ U{1, ..., n_classes - 1}: k is never 0, so the result is
    never the true label, and each offset maps to a different wrong class.
    """
    if n_classes < 2:
        raise ValueError("wrong labels need at least 2 classes")
    k = torch.randint(1, n_classes, y.shape, generator=gen, device=gen.device).to(y.device)
    return (y + k) % n_classes


def hard_wrong_labels(scores: Tensor, y: Tensor, gen: torch.Generator) -> Tensor:
    """A label != y drawn with probability softmax(scores) restricted to the wrong labels
    (Hinton's "hard" negatives: the net's own mistakes are shown as negatives more often)."""
    logits = scores.double().masked_fill(
        torch.nn.functional.one_hot(y, scores.shape[1]).bool(), float("-inf")
    )
    p = torch.softmax(logits, dim=1)
    return torch.multinomial(p, 1, generator=gen).squeeze(1)


def embed_label(x: Tensor, y: Tensor, n_classes: int, value: float = 1.0) -> Tensor:
    """x with its first n_classes values replaced by value * onehot(y)."""
    out = x.clone()
    out[:, :n_classes] = 0.0
    out[torch.arange(x.shape[0], device=x.device), y] = value
    return out


def embed_neutral(x: Tensor, n_classes: int, value: float = 1.0) -> Tensor:
    """x with its first n_classes values set to value / n_classes (no label information)."""
    out = x.clone()
    out[:, :n_classes] = value / n_classes
    return out


# --- layer-local forward pass and loss -------------------------------------------------


def normalise(h: Tensor) -> Tensor:
    """hhat = h / ||h|| per sample (row); an all-zero row stays zero."""
    return h / h.norm(dim=1, keepdim=True).clamp_min(_NORM_EPS)


def goodness(h: Tensor) -> Tensor:
    """G = sum_j h_j^2 per sample."""
    return (h * h).sum(dim=1)


def ff_hidden(net: Net, x: Tensor) -> list[Tensor]:
    """Hidden activities [h_1..h_{L-1}] of the FF net: h_l = sigma(W_l hhat_{l-1})."""
    hs, h = [], x
    for w in net.weights[:-1]:
        h = net.act.f(normalise(h) @ w.T)
        hs.append(h)
    return hs


def ff_layer_loss(g_pos: Tensor, g_neg: Tensor, theta: float) -> Tensor:
    """mean_b [softplus(theta - G(pos)) + softplus(G(neg) - theta)]: the logistic loss of
    p(positive) = sigmoid(G - theta) on one positive and one negative sample per pair."""
    return (tF.softplus(theta - g_pos) + tF.softplus(g_neg - theta)).mean()


def ff_layer_grads(
    net: Net, x_pos: Tensor, x_neg: Tensor, theta: float
) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
    """Layer-local FF gradients d loss_l / d W_l for every hidden layer, by autograd.

    Each layer gets a detached leaf copy of its weight and the normalised, detached
    activities of the layer below, so loss_l depends on W_l alone: W_{l+1}, ... never enter
    it. Positive and negative samples share one matmul (stacked along the batch).

    Returns (grads, losses, hs_pos, hs_neg): per hidden layer the dense gradient, the
    0-d loss, and the (detached) activities of the positive and negative samples.
    """
    n = x_pos.shape[0]
    grads, losses, hs_pos, hs_neg = [], [], [], []
    h = torch.cat([x_pos, x_neg], dim=0)
    # The trainer runs under no_grad; the local losses need a graph of one layer each.
    with torch.enable_grad():
        for w_net in net.weights[:-1]:
            w = w_net.detach().requires_grad_(True)
            h = net.act.f(normalise(h.detach()) @ w.T)
            g = goodness(h)
            loss = ff_layer_loss(g[:n], g[n:], theta)
            grads.append(torch.autograd.grad(loss, w)[0])
            losses.append(loss.detach())
            h = h.detach()
            hs_pos.append(h[:n])
            hs_neg.append(h[n:])
    return grads, losses, hs_pos, hs_neg


def readout_update(net: Net, h_last: Tensor, t: Tensor) -> tuple[Outer, Tensor]:
    """Delta rule of the softmax readout on hhat_{L-1}: ((softmax(a) - t) hhat^T, CE)."""
    hhat = normalise(h_last)
    a = hhat @ net.weights[-1].T
    return Outer(torch.softmax(a, dim=1) - t, hhat, h_last.shape[0]), cross_entropy(a, t)


def readout_predict(net: Net, x: Tensor) -> Tensor:
    """argmax of the readout W_L hhat_{L-1} (x already carries whatever label it needs)."""
    hs = ff_hidden(net, x)
    h_last = hs[-1] if hs else x
    return (normalise(h_last) @ net.weights[-1].T).argmax(dim=1)


def goodness_scores(
    net: Net, x: Tensor, n_classes: int, value: float = 1.0, skip_first: bool = False
) -> Tensor:
    """(B, n_classes) summed goodness sum_l G_l(x with label c embedded) for every label c.

    With ``skip_first`` and at least two hidden layers the first layer is left out.
    """
    start = 1 if skip_first and net.depth > 2 else 0
    scores = torch.empty(x.shape[0], n_classes, dtype=x.dtype, device=x.device)
    for c in range(n_classes):
        y = torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)
        hs = ff_hidden(net, embed_label(x, y, n_classes, value))
        scores[:, c] = sum(goodness(h) for h in hs[start:])
    return scores


def _chunked_accuracy(predict: Callable[[Tensor], Tensor], x: Tensor, y: Tensor) -> float:
    # 10 passes per sample for goodness prediction: chunks keep the memory bounded.
    correct = 0
    for i in range(0, x.shape[0], 2048):
        correct += int((predict(x[i : i + 2048]) == y[i : i + 2048]).sum())
    return correct / max(x.shape[0], 1)


def _check_hidden(net: Net, rule: str) -> None:
    if net.depth < 2:
        raise ValueError(f"{rule} needs at least one hidden layer (goodness lives there)")


# --- the rules ---------------------------------------------------------------------------


class FF(RuleBase):
    """Supervised Forward-Forward with the label embedded in the input."""

    name = "ff"
    summary = "Forward-Forward: per-layer goodness, true vs wrong embedded label"
    options = FF_OPTIONS

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        self.gen: torch.Generator | None = None

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        _check_hidden(net, self.name)
        if net.sizes[0] < net.sizes[-1]:
            raise ValueError("FF embeds the label in the first n_classes inputs: d_0 too small")
        # The wrong labels get their own stream, seeded from the init generator, so a run
        # is reproducible and the other draws of the trainer are untouched.
        seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        self.gen = torch.Generator(device=net.weights[0].device).manual_seed(seed)
        return {}

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        if self.gen is None:  # step without init_state (a bare rule in a test)
            self.gen = torch.Generator(device=x.device).manual_seed(0)
        o = self.opts
        n_classes = t.shape[1]
        y = t.argmax(dim=1)
        x_pos = embed_label(x, y, n_classes, o["ff_label_value"])
        if o["ff_negatives"] == "hard":
            scores = goodness_scores(net, x, n_classes, o["ff_label_value"], o["ff_skip_first"])
            y_neg = hard_wrong_labels(scores, y, self.gen)
        else:
            y_neg = wrong_labels(y, n_classes, self.gen)
        x_neg = embed_label(x, y_neg, n_classes, o["ff_label_value"])
        grads, losses, _, _ = ff_layer_grads(net, x_pos, x_neg, o["ff_threshold"])
        all_grads: list[Grad] = list(grads)
        if o["ff_readout"]:
            h_last = ff_hidden(net, embed_neutral(x, n_classes, o["ff_label_value"]))[-1]
            all_grads.append(readout_update(net, h_last, t)[0])
        else:
            all_grads.append(torch.zeros_like(net.weights[-1]))
        opt.step(net.weights, all_grads)
        return torch.stack(losses).sum()

    def predict(self, net: Net, x: Tensor) -> Tensor:
        """Class predictions: by summed goodness (default) or by the readout."""
        o = self.opts
        n_classes = net.sizes[-1]
        if o["ff_predict"] == "readout":
            return readout_predict(net, embed_neutral(x, n_classes, o["ff_label_value"]))
        scores = goodness_scores(net, x, n_classes, o["ff_label_value"], o["ff_skip_first"])
        return scores.argmax(dim=1)

    def accuracy(self, net: Net, state: dict[str, Tensor], x: Tensor, y: Tensor) -> float:
        with torch.no_grad():
            return _chunked_accuracy(lambda xb: self.predict(net, xb), x, y)


class FFTopDown(PepitaBase):
    """FF's layer-local loss with PEPITA's modulated input as the negative sample."""

    name = "ff_topdown"
    summary = "FF with top-down negatives: clean x vs x - F e, readout by the delta rule"
    options = FF_TOPDOWN_OPTIONS

    def init_state(self, net: Net, gen: torch.Generator) -> dict[str, Tensor]:
        _check_hidden(net, self.name)
        return super().init_state(net, gen)

    def step(self, net: Net, state: dict, opt: SGD, x: Tensor, t: Tensor, masks: Masks) -> Tensor:
        o = self.opts
        # Clean pass: the readout's error e drives the modulation and the delta rule.
        h_last = ff_hidden(net, x)[-1]
        out_grad, loss = readout_update(net, h_last, t)
        x_err = modulated_input(x, state["F"], out_grad.post)  # post = softmax - t = e
        pos, neg = (x, x_err) if o["ff_td_negative"] == "modulated" else (x_err, x)
        grads, _, _, _ = ff_layer_grads(net, pos, neg, o["ff_threshold"])
        opt.step(net.weights, [*grads, out_grad])
        return loss

    def accuracy(self, net: Net, state: dict[str, Tensor], x: Tensor, y: Tensor) -> float:
        with torch.no_grad():
            return _chunked_accuracy(lambda xb: readout_predict(net, xb), x, y)


# --- the PEPITA-Hebbian / goodness identity -----------------------------------------------


def _autograd_df(f: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """sigma'(a) of an elementwise f by autograd (for activations given as a callable)."""

    def df(a: Tensor) -> Tensor:
        with torch.enable_grad():
            a = a.detach().requires_grad_(True)
            return torch.autograd.grad(f(a).sum(), a)[0]

    return df


# Activations outside pepita_lib/activations.py that the FF-identity study uses.
EXTRA_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "softplus": tF.softplus,  # probes only (activations.py holds the trainable ones)
}

ActivationSpec = str | Activation | Callable[[Tensor], Tensor] | None


def resolve_activation(spec: ActivationSpec, default: Activation | None = None) -> Activation:
    """An :class:`Activation` from a name (activations.py or :data:`EXTRA_ACTIVATIONS`), an
    Activation, or any elementwise callable (its derivative by autograd); None: ``default``."""
    if spec is None:
        if default is None:
            raise ValueError("no activation given")
        return default
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        if spec in ACTIVATIONS:
            return ACTIVATIONS[spec]
        if spec in EXTRA_ACTIVATIONS:
            f = EXTRA_ACTIVATIONS[spec]
            return Activation(spec, f, _autograd_df(f))
        valid = ", ".join(sorted([*ACTIVATIONS, *EXTRA_ACTIVATIONS]))
        raise ValueError(f"unknown activation {spec!r}; valid: {valid}, or pass a callable")
    if callable(spec):
        return Activation(getattr(spec, "__name__", "custom"), spec, _autograd_df(spec))
    raise TypeError(f"activation must be a name, an Activation or a callable, got {spec!r}")


def hebbian_vs_goodness(
    net: Net, F: Tensor, x: Tensor, t: Tensor, activation_fn: ActivationSpec = None
) -> dict[str, list]:
    """PEPITA-Hebbian's update against the gradient of the goodness difference, per hidden
    layer, on one batch (PEPITA's own passes: no dropout, no normalisation of any kind).

        Delta W_l^Hebb = mean_b [ h_l h_{l-1}^T - h_l^err (h_{l-1}^err)^T ]
        Delta W_l^G    = (1/2) [ grad_{W_l} G_l(clean) - grad_{W_l} G_l(modulated) ],
                         G_l = mean_b ||sigma(W_l h_{l-1})||^2 with h_{l-1} held fixed
                         (the clean h_{l-1}, resp. the modulated h_{l-1}^err)

    grad_{W_l} ||h_l||^2 = 2 (h_l * sigma'(a_l)) h_{l-1}^T, so the two agree exactly when
    h sigma'(a) = h (ReLU, linear) and differ otherwise. ``activation_fn`` overrides the
    net's activation: a name, an :class:`Activation`, or any elementwise callable.

    Returns {"hebbian": [Delta W_l^Hebb], "goodness_grad": [Delta W_l^G],
    "rel_diff": [||Hebb - G|| / ||Hebb||]} over l = 1..L-1.
    """
    act = resolve_activation(activation_fn, net.act)
    # No dropout and no activation normalisation: with a unit-length h_l, G_l is constant.
    probe = Net(weights=net.weights, act=act, dropout=0.0, norm="none")
    masks: Masks = [None] * (net.depth - 1)
    heb = [dense(g) for g in hebbian_updates(probe, F, x, t, masks)[0][:-1]]
    hs, _, hs_err, _ = two_passes(probe, F, x, t, masks)
    n = x.shape[0]
    good, rel = [], []
    with torch.enable_grad():
        for l in range(1, net.depth):
            w = net.weights[l - 1].detach().requires_grad_(True)
            g_clean, g_mod = (
                torch.autograd.grad(goodness(act.f(h.detach() @ w.T)).sum() / n, w)[0]
                for h in (hs[l - 1], hs_err[l - 1])
            )
            g = 0.5 * (g_clean - g_mod)
            good.append(g)
            rel.append(float((heb[l - 1] - g).norm() / heb[l - 1].norm().clamp_min(1e-300)))
    return {"hebbian": heb, "goodness_grad": good, "rel_diff": rel}
