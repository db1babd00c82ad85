"""Ready-made training functions for the ``train`` component: ``fn(X, y, params) -> estimator``.

Any function with this shape works (``trainer="my_project.models:fit_xgb"``); XGBoost and
LightGBM estimators are packaged by their own flavors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

__all__ = ["hist_gradient_boosting", "logistic_regression", "random_forest"]


def logistic_regression(X: Any, y: Any, params: Mapping[str, Any]) -> LogisticRegression:
    """A fitted :class:`~sklearn.linear_model.LogisticRegression` (``params`` are its arguments)."""
    return LogisticRegression(**{"max_iter": 1000, **params}).fit(X, y)


def hist_gradient_boosting(X: Any, y: Any, params: Mapping[str, Any]) -> HistGradientBoostingClassifier:
    """A fitted :class:`~sklearn.ensemble.HistGradientBoostingClassifier`."""
    return HistGradientBoostingClassifier(**{"random_state": 0, **params}).fit(X, y)


def random_forest(X: Any, y: Any, params: Mapping[str, Any]) -> RandomForestClassifier:
    """A fitted :class:`~sklearn.ensemble.RandomForestClassifier`."""
    return RandomForestClassifier(**{"random_state": 0, "n_jobs": 1, **params}).fit(X, y)
