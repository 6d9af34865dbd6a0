"""Reference values for permutation feature importance (issue 19): test/fixtures/permutation-importance.json.

Small seeded cases (a 3-class and a binary logistic regression, a linear regression), each with one feature the
model ignores (its weights set to zero), the shuffles to apply, and the importances scikit-learn's metrics and
numpy compute from them. test/lambdas/core/explain/importance.test.ts runs lambdas/core/explain/importance.ts
on the same rows and the same shuffles (the classifiers through onnxruntime, as a softmax-regression ONNX
graph built from the weights below) and compares every figure.

Why fixed shuffles: sklearn.inspection.permutation_importance draws its shuffles from numpy's RNG, and ours come
from the project's seeded generator (lambdas/core/models/training/random.ts); the two can never agree on the
shuffles, so this script does what permutation_importance does (column j of the copy takes row perm[i] at row i,
score with the metric, importance = baseline score - permuted score, mean and np.std over the repeats) on the
shuffles written into the fixture. The script also checks itself against permutation_importance by feeding it a
RandomState whose shuffles are recorded, so the fixture is sklearn's own computation, not a re-implementation.
For MAE and log-loss (losses) the score is their negative, as sklearn's neg_mean_absolute_error and neg_log_loss
scorers: the importance is then permuted loss - baseline loss, the drop in quality; the fixture states the
baseline loss itself (positive), as the model card does.

    python3 -m venv /tmp/venv-art && /tmp/venv-art/bin/pip install scikit-learn numpy
    /tmp/venv-art/bin/python scripts/reference/permutation-importance.py
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, make_scorer, mean_absolute_error, r2_score, roc_auc_score

OUT = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "permutation-importance.json"
REPEATS = 4


def f32(a):
    """Values as float32 holds them (the model's input and weights), back in float64 for the libraries."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


class SoftmaxModel(ClassifierMixin, BaseEstimator):
    """What the ONNX softmax-regression graph computes: softmax(x W + b), W [features, classes]."""

    def __init__(self, weights, bias):
        self.weights = weights
        self.bias = bias
        self.W = weights
        self.b = bias
        self.classes_ = np.arange(weights.shape[1])

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        z = X @ self.W + self.b
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


class LinearModel(RegressorMixin, BaseEstimator):
    def __init__(self, coef, intercept):
        self.coef = coef
        self.intercept = intercept

    def fit(self, X, y):
        return self

    def predict(self, X):
        return X @ self.coef + self.intercept


def score(metric, model, X, y):
    if metric == "accuracy":
        return accuracy_score(y, model.predict(X))
    if metric == "macroF1":
        return f1_score(y, model.predict(X), average="macro")
    if metric == "logLoss":
        return -log_loss(y, model.predict_proba(X), labels=model.classes_)
    if metric == "rocAuc":
        return roc_auc_score(y, model.predict_proba(X)[:, 1])
    if metric == "r2":
        return r2_score(y, model.predict(X))
    if metric == "mae":
        return -mean_absolute_error(y, model.predict(X))
    raise ValueError(metric)


SCORERS = {
    "accuracy": make_scorer(accuracy_score),
    "macroF1": make_scorer(f1_score, average="macro"),
    "rocAuc": make_scorer(roc_auc_score, response_method="predict_proba"),
    "r2": make_scorer(r2_score),
    "mae": make_scorer(mean_absolute_error, greater_is_better=False),
}


class RecordingState(np.random.RandomState):
    """A RandomState whose shuffles are taken, in turn, from a shared list: permutation_importance applies ours."""

    def __init__(self, orders):
        super().__init__(0)
        self.orders = orders

    def shuffle(self, x):
        x[:] = self.orders.pop(0)

    def randint(self, *args, **kwargs):  # permutation_importance draws one seed for the per-feature states
        return 0


def importances(metric, model, X, y, perms):
    """perms[r][j][i]: row of column j that row i of the copy takes in repeat r. Returns sklearn's layout."""
    baseline = score(metric, model, X, y)
    repeats, features = len(perms), X.shape[1]
    drops = np.zeros((features, repeats))
    for r in range(repeats):
        for j in range(features):
            Xp = X.copy()
            Xp[:, j] = X[perms[r][j], j]
            drops[j, r] = baseline - score(metric, model, Xp, y)
    return baseline, drops


def check_with_sklearn(metric, model, X, y, perms, drops):
    """permutation_importance itself, its shuffles replaced by ours. It shuffles one index array in place and
    permutes the already permuted column again each repeat (features outer, repeats inner), so repeat r is fed
    the order that turns perms[r-1] into perms[r]: order[i] = inverse(perms[r-1])[perms[r][i]]."""
    features, repeats = X.shape[1], len(perms)
    orders = []
    for j in range(features):
        previous = np.arange(X.shape[0])
        for r in range(repeats):
            inverse = np.argsort(previous)
            orders.append(inverse[perms[r][j]])
            previous = perms[r][j]
    import sklearn.inspection._permutation_importance as pi

    original = pi.check_random_state
    pi.check_random_state = lambda _seed: RecordingState(orders)
    try:
        scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=list(model.classes_)) if metric == "logLoss" else SCORERS[metric]
        got = permutation_importance(model, X, y, scoring=scorer, n_repeats=repeats, random_state=0)
    finally:
        pi.check_random_state = original
    assert not orders, "every shuffle used"
    np.testing.assert_allclose(got.importances, drops, rtol=0, atol=1e-12)
    return got


def permutations(rng, repeats, features, n):
    return [[rng.permutation(n) for _ in range(features)] for _ in range(repeats)]


def classifier_case(name, classes, n, features, ignored, metrics, seed):
    X, y = make_classification(n_samples=n, n_features=features, n_informative=features - 2, n_redundant=1, n_classes=classes, n_clusters_per_class=1, random_state=seed)
    X = f32(X)
    fitted = LogisticRegression(max_iter=2000).fit(X, y)
    if classes == 2:
        weights = np.stack([np.zeros(features), fitted.coef_[0]], axis=1)
        bias = np.array([0.0, fitted.intercept_[0]])
    else:
        weights = fitted.coef_.T.copy()
        bias = fitted.intercept_.copy()
    weights[ignored, :] = 0.0
    model = SoftmaxModel(f32(weights), f32(bias))
    rng = np.random.default_rng(seed)
    perms = permutations(rng, REPEATS, features, n)
    out = {"name": name, "task": "binary" if classes == 2 else "multiclass", "classes": classes, "ignoredFeature": ignored, "x": X.tolist(), "y": y.tolist(), "weights": model.W.ravel().tolist(), "bias": model.b.tolist(), "permutations": [[p.tolist() for p in per] for per in perms], "metrics": {}}
    for metric in metrics:
        baseline, drops = importances(metric, model, X, y, perms)
        got = check_with_sklearn(metric, model, X, y, perms, drops)
        out["metrics"][metric] = {"baseline": -baseline if metric == "logLoss" else baseline, "importances": drops.tolist(), "mean": got.importances_mean.tolist(), "std": got.importances_std.tolist()}
    return out


def regression_case(name, n, features, ignored, seed):
    X, y = make_regression(n_samples=n, n_features=features, n_informative=features - 1, noise=5.0, shuffle=False, random_state=seed)  # the last column is noise
    X = f32(X)
    fitted = LinearRegression().fit(X, y)
    coef = fitted.coef_.copy()
    coef[ignored] = 0.0
    model = LinearModel(f32(coef), float(np.float32(fitted.intercept_)))
    rng = np.random.default_rng(seed)
    perms = permutations(rng, REPEATS, features, n)
    out = {"name": name, "task": "regression", "ignoredFeature": ignored, "x": X.tolist(), "y": y.tolist(), "coef": model.coef.tolist(), "intercept": model.intercept, "permutations": [[p.tolist() for p in per] for per in perms], "metrics": {}}
    for metric in ("r2", "mae"):
        baseline, drops = importances(metric, model, X, y, perms)
        got = check_with_sklearn(metric, model, X, y, perms, drops)
        # Our report for MAE is the MAE itself, so the baseline is stated positive; the drops are sklearn's.
        out["metrics"][metric] = {"baseline": -baseline if metric == "mae" else baseline, "importances": drops.tolist(), "mean": got.importances_mean.tolist(), "std": got.importances_std.tolist()}
    return out


cases = [
    classifier_case("three-class logistic regression", 3, 60, 5, 4, ("accuracy", "logLoss", "macroF1"), 7),
    classifier_case("binary logistic regression", 2, 50, 4, 1, ("accuracy", "logLoss", "rocAuc"), 11),
    regression_case("linear regression", 40, 4, 3, 13),
]
OUT.write_text(json.dumps({"generator": "scripts/reference/permutation-importance.py", "sklearn": sklearn.__version__, "numpy": np.__version__, "repeats": REPEATS, "cases": cases}, indent=1) + "\n")
print(f"wrote {OUT}")
