"""The paper's losses (section 4.2.1) and class weighting.

* ``bce``: binary cross-entropy on logits (eq. 1), for the per-frame models.
* ``soft_f1_loss``: 1 - F1 (eqs. 2-3) with precision and recall computed from
  probabilities instead of hard decisions, so it has a gradient (Lipton et al. [5]).
* ``combined``: alpha * BCE + beta * (1 - soft F1) (eq. 4), for the whole-video models.

Class weights follow tf.keras ``fit(class_weight=...)``, which the paper used: each
sample's loss is multiplied by its class's weight and the batch loss is the mean
over samples (Keras' SUM_OVER_BATCH_SIZE), not a weighted mean. The weights are
the usual balanced ones, ``n / (2 * n_c)`` (TensorFlow's imbalanced-data tutorial,
scikit-learn's "balanced").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def class_weights(labels) -> dict[int, float]:
    """Balanced weights ``{0: n/(2 n_real), 1: n/(2 n_fake)}`` from training labels."""
    labels = torch.as_tensor(labels).long().flatten()
    counts = torch.bincount(labels, minlength=2).double()
    if (counts == 0).any():
        raise ValueError(f"class weights need both classes in the training labels, got counts {counts.tolist()}")
    n = counts.sum()
    return {c: float(n / (2 * counts[c])) for c in (0, 1)}


def _sample_weights(targets: torch.Tensor, weights: dict[int, float] | None) -> torch.Tensor | None:
    if weights is None:
        return None
    return torch.where(targets > 0.5, weights[1], weights[0]).to(targets.dtype)


def bce(logits: torch.Tensor, targets: torch.Tensor, weights: dict[int, float] | None = None) -> torch.Tensor:
    """Mean over the batch of ``w_y * BCE(sigmoid(logit), y)``."""
    targets = targets.float()
    return F.binary_cross_entropy_with_logits(logits.float(), targets, weight=_sample_weights(targets, weights))


def soft_f1_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``1 - 2TP / (2TP + FP + FN)`` with TP, FP, FN summed over soft probabilities."""
    p = torch.sigmoid(logits.float())
    y = targets.float()
    tp = (p * y).sum()
    fp = (p * (1 - y)).sum()
    fn = ((1 - p) * y).sum()
    return 1 - 2 * tp / (2 * tp + fp + fn + eps)


@dataclass(frozen=True)
class LossConfig:
    kind: str = "bce"  # "bce" or "bce_f1"
    alpha: float = 1.0  # weight of BCE in bce_f1
    beta: float = 1.0  # weight of (1 - soft F1) in bce_f1


def combined(logits, targets, weights=None, alpha: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    return alpha * bce(logits, targets, weights) + beta * soft_f1_loss(logits, targets)


def make_loss(cfg: LossConfig, weights: dict[int, float] | None = None):
    """The loss function a training run uses: ``loss(logits, targets) -> scalar``."""
    if cfg.kind == "bce":
        return lambda logits, targets: bce(logits, targets, weights)
    if cfg.kind == "bce_f1":
        return lambda logits, targets: combined(logits, targets, weights, cfg.alpha, cfg.beta)
    raise ValueError(f"unknown loss {cfg.kind!r}; expected 'bce' or 'bce_f1'")
