"""A transparent churn model: logistic regression in numpy on standardized features, and its AUC.

Features are standardized with the training rows' mean and standard deviation (a missing value
becomes the mean, i.e. 0 after standardizing), so each coefficient reads as the change in log-odds
per standard deviation, and ``coefficient x standardized value`` is how much a feature moves one
customer's log-odds away from the average customer's: the factors of a score. Fitting is
Newton-Raphson on the L2-penalized log-likelihood (the intercept is not penalized).
Knows nothing about customers or the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LogisticModel:
    features: list[str]
    means: np.ndarray
    stds: np.ndarray
    coefficients: np.ndarray  # log-odds per standard deviation of each feature
    intercept: float

    def standardize(self, values: np.ndarray) -> np.ndarray:
        z = (np.asarray(values, dtype=float) - self.means) / self.stds
        return np.nan_to_num(z, nan=0.0)

    def contributions(self, values: np.ndarray) -> np.ndarray:
        """Per row and feature: the log-odds the feature adds against an average customer."""
        return self.standardize(values) * self.coefficients

    def probability(self, values: np.ndarray) -> np.ndarray:
        return _sigmoid(self.intercept + self.contributions(values).sum(axis=1))

    def describe(self) -> dict[str, object]:
        return {
            "intercept": round(self.intercept, 6),
            "coefficients_per_std": {f: round(float(c), 6) for f, c in zip(self.features, self.coefficients,
                                                                           strict=True)},
            "feature_means": {f: round(float(m), 6) for f, m in zip(self.features, self.means, strict=True)},
            "feature_stds": {f: round(float(s), 6) for f, s in zip(self.features, self.stds, strict=True)},
        }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


def fit(values: np.ndarray, labels: np.ndarray, features: list[str], l2_penalty: float = 1.0,
        iterations: int = 50) -> LogisticModel:
    """Fit on rows of ``values`` (one column per feature) and 0/1 ``labels``.

    With a single class in the labels nothing can be learned: the coefficients are 0 and every
    score is the smoothed base rate (churners + 0.5) / (rows + 1)."""
    values = np.asarray(values, dtype=float)
    y = np.asarray(labels, dtype=float)
    present = ~np.isnan(values).all(axis=0) if len(values) else np.zeros(len(features), dtype=bool)
    means = np.zeros(len(features))
    stds = np.ones(len(features))
    means[present] = np.nanmean(values[:, present], axis=0)
    spread = np.nanstd(values[:, present], axis=0)
    stds[present] = np.where(spread > 0, spread, 1.0)
    z = np.nan_to_num((values - means) / stds)
    design = np.column_stack([np.ones(len(z)), z])
    penalty = np.diag([0.0] + [l2_penalty] * len(features))
    weights = np.zeros(design.shape[1])
    rate = (y.sum() + 0.5) / (len(y) + 1)
    weights[0] = np.log(rate / (1 - rate))
    for _ in range(iterations if 0 < y.sum() < len(y) else 0):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - y) + penalty @ weights
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return LogisticModel(list(features), means, stds, weights[1:], float(weights[0]))


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve: the chance a churner scores above a stayer (ties count half).
    None when the labels hold only one class."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))
