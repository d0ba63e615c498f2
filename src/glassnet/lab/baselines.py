"""Traditional baselines for a table: what scikit-learn's classic methods score on the
same preprocessed split a network trains on, so the network's figures have something to
be judged against.

- classification: logistic regression (a linear model; on standardized features the
  first thing to beat) and a random forest (strong on tables without tuning);
- regression: ridge regression (linear, lightly regularized) and a random forest.

The forests have ``N_TREES`` (100) trees, grown on one core (no thread pools competing
with anything else), each from a bootstrap sample of at most ``MAX_TREE_ROWS`` (10,000)
rows, so a table of 100,000 rows takes seconds, not minutes.

Each is scored on the validation rows with :mod:`glassnet.train.metrics`
(:func:`~glassnet.train.metrics.classification_report` or
:func:`~glassnet.train.metrics.regression_report`, plus ``train_seconds``). On the tables
scikit-learn bundles (a few hundred rows) all of it takes a second or two.

>>> from glassnet.data.tables import prepare_table
>>> import pandas as pd, numpy as np
>>> x = np.random.default_rng(0).normal(size=200)
>>> data = prepare_table(pd.DataFrame({"x": x, "y": (x > 0).astype(int)}), "y")
>>> rows = table_baselines(data.task, data.X_train, data.y_train, data.X_val, data.y_val, classes=data.classes)
>>> [name for name, _ in rows], rows[0][1]["accuracy"] > 0.9
(['logistic regression', 'random forest'], True)
"""
import time
import warnings

import numpy as np

from ..extras import require
from ..train.metrics import classification_report, regression_report

N_TREES = 100
MAX_TREE_ROWS = 10_000


def _logistic(seed, rows):
    linear_model = require("sklearn.linear_model", "the logistic-regression baseline", extra="data")
    return linear_model.LogisticRegression(max_iter=2000, random_state=seed)


def _forest_classifier(seed, rows):
    ensemble = require("sklearn.ensemble", "the random-forest baseline", extra="data")
    return ensemble.RandomForestClassifier(n_estimators=N_TREES, max_samples=min(rows, MAX_TREE_ROWS), n_jobs=1,
                                           random_state=seed)


def _ridge(seed, rows):
    return require("sklearn.linear_model", "the ridge-regression baseline", extra="data").Ridge(alpha=1.0)


def _forest_regressor(seed, rows):
    ensemble = require("sklearn.ensemble", "the random-forest baseline", extra="data")
    return ensemble.RandomForestRegressor(n_estimators=N_TREES, max_samples=min(rows, MAX_TREE_ROWS), n_jobs=1,
                                          random_state=seed)


BASELINES = {
    "classify": {"logistic regression": _logistic, "random forest": _forest_classifier},
    "regress": {"ridge": _ridge, "random forest": _forest_regressor},
}


def table_baselines(task, X_train, y_train, X_val, y_val, seed=0, classes=None):
    """Train each baseline of ``task`` ('classify' or 'regress') on the training rows and
    score it on the validation rows.

    ``X_*`` are the preprocessed features ``(N, F)`` (``TableData.X_train``); ``y_*`` the
    targets in their own terms, ``(N,)`` or ``(N, 1)``: int labels when classifying, values
    in the target's units when regressing (``TableData.y_train``, not the standardized
    targets the network learns). ``classes`` names the labels in the classification report.

    Returns a list of ``(name, metrics)``: the metrics of
    :func:`~glassnet.train.metrics.classification_report` or
    :func:`~glassnet.train.metrics.regression_report`, with ``train_seconds`` and, when a
    solver stopped before converging, a ``note``.
    """
    if task not in BASELINES:
        raise ValueError(f"task must be 'classify' or 'regress', got {task!r}")
    X_train, X_val = np.asarray(X_train), np.asarray(X_val)
    y_train, y_val = _column(y_train, "y_train"), _column(y_val, "y_val")
    if len(X_train) != len(y_train) or len(X_val) != len(y_val):
        raise ValueError(f"features and targets must have a row each: X_train {X_train.shape} with y_train "
                         f"{y_train.shape}, X_val {X_val.shape} with y_val {y_val.shape}")
    if len(X_val) == 0:
        raise ValueError("no validation rows to score the baselines on; help: prepare the table with val_split > 0")
    if task == "classify" and classes is None:
        classes = [str(i) for i in range(int(max(y_train.max(), y_val.max())) + 1)]
    ConvergenceWarning = require("sklearn.exceptions", "the traditional baselines", extra="data").ConvergenceWarning
    rows = []
    for name, build in BASELINES[task].items():
        estimator = build(seed, len(X_train))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            estimator.fit(X_train, y_train)
            seconds = time.perf_counter() - start
        predicted = estimator.predict(X_val)
        if task == "classify":
            metrics = classification_report(y_val, predicted, classes)
        else:
            metrics = regression_report(y_val, predicted)
        metrics["train_seconds"] = seconds
        if any(issubclass(warning.category, ConvergenceWarning) for warning in caught):
            metrics["note"] = f"solver stopped at max_iter={estimator.max_iter} before converging"
        rows.append((name, metrics))
    return rows


def _column(targets, name):
    """Targets ``(N,)`` or ``(N, 1)`` as ``(N,)``."""
    targets = np.asarray(targets)
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim != 1:
        raise ValueError(f"{name} must hold one target per row, shape (N,) or (N, 1); got {targets.shape}")
    return targets


def format_baselines(rows):
    """The rows of :func:`table_baselines` as a small plain-text table: accuracy and macro
    F1 for classifiers, RMSE, MAE and R² for regressors, then seconds to train."""
    if not rows:
        return ""
    classify = "accuracy" in rows[0][1]
    columns = (("accuracy", "accuracy", "{:.2%}"), ("macro F1", "f1_macro", "{:.4f}")) if classify else (
        ("RMSE", "rmse", "{:,.4g}"), ("MAE", "mae", "{:,.4g}"), ("R²", "r2", "{:.4f}"))
    width = max(len("baseline"), *(len(name) for name, _ in rows)) + 2
    lines = [f"{'baseline':<{width}}" + "".join(f"{title:>10}" for title, _, _ in columns) + f"{'seconds':>10}"]
    for name, metrics in rows:
        cells = "".join(f"{form.format(metrics[key]):>10}" for _, key, form in columns)
        note = f"  [{metrics['note']}]" if metrics.get("note") else ""
        lines.append(f"{name:<{width}}{cells}{metrics['train_seconds']:>10.2f}{note}")
    return "\n".join(lines)
