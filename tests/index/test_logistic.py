"""The claim classifier's logistic regression solves its documented objective, repeatably."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.index.suggest import fit_logistic


def gradients(x: np.ndarray, y: list[int], sample: np.ndarray, l2: float,
              weights: np.ndarray, bias: float) -> tuple[float, float]:
    """The largest gradient entry of Σ sᵢ·loss + l2/2·‖w‖² in w, and its gradient in the bias."""
    p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
    residual = sample * (p - np.asarray(y))
    return float(np.abs(x.T @ residual + l2 * weights).max()), float(abs(residual.sum()))


@pytest.mark.parametrize("l2", [1.0, 1e-3, 1e-5])
def test_fit_is_the_minimum_with_an_unpenalised_bias(l2: float) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[:5] += 0.5  # five relevant passages, a little apart from the rest
    y = [1] * 5 + [0] * 35
    sample = np.linspace(0.5, 1.5, 40)
    model = fit_logistic(x.astype(np.float32), y, weights=sample, l2=l2, balance=False)
    grad_w, grad_b = gradients(x, y, sample, l2, model.weights.astype(np.float64), model.bias)
    assert grad_w < 1e-5 and grad_b < 2e-6
    again = fit_logistic(x.astype(np.float32), y, weights=sample, l2=l2, balance=False)
    assert np.array_equal(again.weights, model.weights) and again.bias == model.bias
    p = model.probability(x.astype(np.float32))
    assert p.dtype == np.float32 and p[:5].min() > p[5:].max()


def test_one_class_gives_a_constant_model() -> None:
    x = np.eye(4, dtype=np.float32)
    model = fit_logistic(x, [0, 0, 0, 0])
    assert np.all(model.probability(x) < 1e-6)
