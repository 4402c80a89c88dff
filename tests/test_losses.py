"""Loss values against cases computed by hand."""

import math

import pytest
import torch

from dfd_utils.losses import LossConfig, bce, class_weights, combined, make_loss, soft_f1_loss

BIG = 30.0  # sigmoid(30) = 1 - 9e-14


def test_class_weights_are_balanced_like_keras_tutorials():
    w = class_weights([1, 1, 1, 0])  # 3 FAKE, 1 REAL
    assert w == pytest.approx({0: 4 / (2 * 1), 1: 4 / (2 * 3)})
    with pytest.raises(ValueError, match="both classes"):
        class_weights([1, 1])


def test_bce_by_hand():
    logits = torch.tensor([0.0, math.log(3)])  # p = 0.5, 0.75
    targets = torch.tensor([1.0, 0.0])
    expected = (-math.log(0.5) - math.log(0.25)) / 2
    assert bce(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_class_weights_multiply_each_sample_and_average_over_the_batch():
    logits = torch.tensor([0.0, math.log(3)])
    targets = torch.tensor([1.0, 0.0])
    weights = {0: 2.0, 1: 0.5}
    expected = (0.5 * -math.log(0.5) + 2.0 * -math.log(0.25)) / 2  # Keras: mean, not weighted mean
    assert bce(logits, targets, weights).item() == pytest.approx(expected, rel=1e-6)


def test_soft_f1_perfect_worst_and_mixed():
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
    perfect = torch.tensor([BIG, -BIG, BIG, -BIG])
    assert soft_f1_loss(perfect, targets).item() == pytest.approx(0.0, abs=1e-6)
    worst = -perfect
    assert soft_f1_loss(worst, targets).item() == pytest.approx(1.0, abs=1e-6)
    mixed = torch.tensor([0.0, 0.0, BIG, -BIG])  # p = .5, .5, 1, 0
    tp, fp, fn = 0.5 + 1.0, 0.5, 0.5
    assert soft_f1_loss(mixed, targets).item() == pytest.approx(1 - 2 * tp / (2 * tp + fp + fn), rel=1e-5)


def test_combined_loss_is_alpha_bce_plus_beta_f1():
    logits = torch.tensor([0.3, -1.2, 2.0])
    targets = torch.tensor([1.0, 0.0, 0.0])
    expected = 0.7 * bce(logits, targets) + 0.3 * soft_f1_loss(logits, targets)
    assert combined(logits, targets, alpha=0.7, beta=0.3).item() == pytest.approx(expected.item())
    loss = make_loss(LossConfig("bce_f1", 0.7, 0.3))
    assert loss(logits, targets).item() == pytest.approx(expected.item())


def test_soft_f1_has_a_gradient():
    logits = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    soft_f1_loss(logits, torch.tensor([1.0, 0.0, 1.0])).backward()
    assert logits.grad.abs().sum() > 0


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        make_loss(LossConfig("hinge"))
