"""Reference values for the quality figures (issue 17.3): test/fixtures/quality-metrics.json.

Seeded cases of labelled predictions, and what scikit-learn, statsmodels and numpy compute for them. The test
test/lambdas/core/quality/metrics/quality-accumulator.test.ts feeds the same inputs to QualityAccumulator (whole,
split and merged, and through toJSON/fromJSON) and compares every figure. CI stays Node-only: this script is
run by hand when the figures change, and its output is committed.

    python3 -m venv /tmp/venv-metrics && /tmp/venv-metrics/bin/pip install scikit-learn statsmodels numpy
    /tmp/venv-metrics/bin/python scripts/reference/quality-metrics.py

Inputs are what the quality monitor has: float32 probabilities and predicted values (prediction records carry
float32), float64 true values (feedback JSON), float32 delays (what the accumulator keeps). The libraries get
them as float64 arrays (log_loss then clips with float64's eps).
"""

import base64
import json
import math
import pathlib
import warnings

import numpy as np
import scipy
import sklearn
import statsmodels
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from statsmodels.stats.proportion import proportion_confint

OUT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "quality-metrics.json"
rng = np.random.default_rng(17)


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).astype(dtype.newbyteorder("<")).tobytes()).decode()


def delays_for(n):
    # Label delays in seconds: minutes to days, rounded to float32 as the accumulator keeps them.
    return rng.lognormal(mean=8.0, sigma=1.5, size=n).astype(np.float32)


def percentiles(delays):
    p50, p95 = np.percentile(delays.astype(np.float64), [50, 95], method="linear")
    return {"p50": float(p50), "p95": float(p95)}


def undefined_to_none(compute):
    """sklearn raises (or warns and returns nan) where a figure is undefined: None in the fixture."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(compute())
    except ValueError:
        return None
    return None if math.isnan(value) else value


def most_confused(matrix, labels):
    # Ours, not a library's: the largest off-diagonal cells, largest first, ties in row-major order.
    cells = [(-int(matrix[a][p]), a, p) for a in range(len(labels)) for p in range(len(labels)) if a != p and matrix[a][p] > 0]
    cells.sort()
    return [{"actual": labels[a], "predicted": labels[p], "count": -c} for c, a, p in cells[:3]]


def classification_case(name, labels, truth, predicted, probabilities, min_labels, unlabelled):
    k = len(labels)
    n = len(truth)
    truth = np.asarray(truth, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    delays = delays_for(n)
    classes = list(range(k))
    case = {
        "name": name,
        "task": "classification",
        "labels": labels,
        "minLabels": min_labels,
        "predictions": n + unlabelled,
        "truthUint8": b64(truth, np.dtype(np.uint8)),
        "predictedUint8": b64(predicted, np.dtype(np.uint8)),
        "probabilitiesFloat32": None if probabilities is None else b64(probabilities, np.dtype(np.float32)),
        "delaysFloat32": b64(delays, np.dtype(np.float32)),
    }
    correct = int((truth == predicted).sum())
    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
        macro_f1 = f1_score(truth, predicted, average="macro", labels=classes, zero_division=0)
    matrix = confusion_matrix(truth, predicted, labels=classes)
    expected = {
        "labelled": n,
        "coverage": n / (n + unlabelled),
        "delaySeconds": percentiles(delays),
        "verdict": "judged" if n >= min_labels else "not enough labels",
        "accuracy": {"value": correct / n, "low": float(low), "high": float(high)},
        "perClass": [
            {"label": labels[c], "support": int(support[c]), "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c])}
            for c in classes
        ],
        "macroF1": float(macro_f1),
        "confusion": matrix.tolist(),
        "mostConfused": most_confused(matrix.tolist(), labels),
        "rocAuc": None,
        "logLoss": None,
    }
    if probabilities is not None:
        p = np.asarray(probabilities, dtype=np.float32).astype(np.float64)
        if k == 2:
            expected["rocAuc"] = undefined_to_none(lambda: roc_auc_score(truth == 1, p[:, 1]))
        else:
            expected["rocAuc"] = undefined_to_none(lambda: roc_auc_score(truth, p, multi_class="ovr", average="macro", labels=classes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_prob values do not sum to one" for float32 rows: as sklearn says, a warning
            expected["logLoss"] = float(log_loss(truth, p, labels=classes))
    case["expected"] = expected
    return case


def regression_case(name, truth, predicted, min_labels, unlabelled):
    n = len(truth)
    truth = np.asarray(truth, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float32)
    delays = delays_for(n)
    p = predicted.astype(np.float64)
    constant = bool(np.all(truth == truth[0]))
    return {
        "name": name,
        "task": "regression",
        "labels": [],
        "minLabels": min_labels,
        "predictions": n + unlabelled,
        "truthFloat64": b64(truth, np.dtype(np.float64)),
        "predictedFloat32": b64(predicted, np.dtype(np.float32)),
        "delaysFloat32": b64(delays, np.dtype(np.float32)),
        "expected": {
            "labelled": n,
            "coverage": n / (n + unlabelled),
            "delaySeconds": percentiles(delays),
            "verdict": "judged" if n >= min_labels else "not enough labels",
            "mae": float(mean_absolute_error(truth, p)),
            "rmse": float(root_mean_squared_error(truth, p)),
            # r2_score returns 1.0 or 0.0 for a constant truth (force_finite): undefined for us
            "r2": None if constant else float(r2_score(truth, p)),
        },
    }


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def scored(n, k, skill, truth=None):
    """A classifier of some skill: probabilities from noisy logits, the prediction their argmax."""
    truth = rng.integers(0, k, size=n) if truth is None else np.asarray(truth)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), truth] += skill
    probabilities = softmax(logits)
    return truth, probabilities.argmax(axis=1), probabilities


cases = []

t, p, prob = scored(12, 2, 1.0)
cases.append(classification_case("binary, a handful of rows", ["malignant", "benign"], t, p, prob, 1, 3))

t, p, prob = scored(3000, 2, 2.0)
cases.append(classification_case("binary, breast-cancer's shape, 3000 rows", ["malignant", "benign"], t, p, prob, 100, 1200))

labels10 = [str(d) for d in range(10)]
t, p, prob = scored(2500, 10, 2.5)
cases.append(classification_case("10 classes, digits' shape, 2500 rows", labels10, t, p, prob, 100, 0))

t, p, prob = scored(40, 10, 1.5)
cases.append(classification_case("10 classes, 40 rows: below minLabels", labels10, t, p, prob, 100, 60))

# A class never predicted: its logits are pushed down so argmax never picks it; it still has support.
t = rng.integers(0, 4, size=400)
logits = rng.normal(size=(400, 4))
logits[np.arange(400), t] += 1.5
logits[:, 3] -= 10
prob = softmax(logits)
cases.append(classification_case("4 classes, one never predicted", ["a", "b", "c", "d"], t, prob.argmax(axis=1), prob, 100, 10))

# A class with no support: no row's truth is "d" (ROC AUC is undefined: that class has no positive).
t, p, prob = scored(300, 4, 1.5, truth=rng.integers(0, 3, size=300))
cases.append(classification_case("4 classes, one with no support", ["a", "b", "c", "d"], t, p, prob, 100, 0))

# Binary with every truth the same class: ROC AUC undefined.
t, p, prob = scored(150, 2, 1.0, truth=np.ones(150, dtype=np.int64))
cases.append(classification_case("binary, one class only in the truth", ["malignant", "benign"], t, p, prob, 100, 0))

# Perfect: every prediction right, probabilities exactly 0 and 1 (log loss clips them to [eps, 1 - eps]).
t = rng.integers(0, 2, size=200)
prob = np.eye(2, dtype=np.float32)[t]
cases.append(classification_case("binary, perfect, probabilities 0 and 1", ["malignant", "benign"], t, t, prob, 100, 0))

# Ties: scores on a 0.1 grid, so many rows share a score across both classes.
t = rng.integers(0, 2, size=1000)
p1 = np.clip(np.round(rng.normal(0.35 + 0.3 * t, 0.2) * 10) / 10, 0, 1).astype(np.float32)
prob = np.stack([1 - p1, p1], axis=1).astype(np.float32)
cases.append(classification_case("binary, tied scores on a 0.1 grid", ["malignant", "benign"], t, (p1 >= 0.5).astype(np.int64), prob, 100, 0))

t = rng.integers(0, 3, size=30)
t3 = np.where(rng.random(30) < 0.6, t, rng.integers(0, 3, size=30))
cases.append(classification_case("3 classes, no probabilities, ties among confusions", ["setosa", "versicolor", "virginica"], t, t3, None, 10, 5))

truth = np.round(rng.normal(150, 75, size=7), 1)
cases.append(regression_case("regression, a handful of rows", truth, truth + rng.normal(0, 30, size=7), 1, 2))

truth = np.round(rng.gamma(4.0, 40.0, size=4000), 2)
cases.append(regression_case("regression, 4000 rows", truth, truth * 0.8 + 25 + rng.normal(0, 35, size=4000), 100, 500))

cases.append(regression_case("regression, constant truth", np.full(150, 42.5), 42.5 + rng.normal(0, 3, size=150), 100, 0))

OUT.write_text(
    json.dumps(
        {
            "generatedBy": "scripts/reference/quality-metrics.py",
            "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "statsmodels": statsmodels.__version__},
            "calls": {
                "accuracy": "statsmodels.stats.proportion.proportion_confint(correct, n, alpha=0.05, method='wilson')",
                "perClass": "sklearn.metrics.precision_recall_fscore_support(truth, predicted, labels=range(k), zero_division=0)",
                "macroF1": "sklearn.metrics.f1_score(truth, predicted, average='macro', labels=range(k), zero_division=0)",
                "confusion": "sklearn.metrics.confusion_matrix(truth, predicted, labels=range(k))",
                "mostConfused": "largest off-diagonal cells, largest first, ties in row-major order (actual, then predicted), at most 3",
                "rocAuc": "binary: sklearn.metrics.roc_auc_score(truth == 1, p[:, 1]); more classes: roc_auc_score(truth, p, multi_class='ovr', average='macro', labels=range(k)); null where sklearn raises or returns nan",
                "logLoss": "sklearn.metrics.log_loss(truth, p.astype(float64), labels=range(k)) (clips to [eps, 1 - eps], eps of float64; no renormalisation)",
                "delaySeconds": "numpy.percentile(delays.astype(float64), [50, 95], method='linear')",
                "mae": "sklearn.metrics.mean_absolute_error",
                "rmse": "sklearn.metrics.root_mean_squared_error",
                "r2": "sklearn.metrics.r2_score; null when the truth is constant",
            },
            "cases": cases,
        },
        indent=1,
    )
    + "\n"
)
print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")
