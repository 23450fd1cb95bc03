"""``attr_agreement``: a second opinion on attributes -- two classifiers score the same run, and agree or not.

Why (issue "Attribute-bias statistics a reviewer accepts", item 7)
------------------------------------------------------------------
``gender_err`` / ``age_err`` of ``attr`` are measured by one classifier ``C``: a finding ("the method
turns women into men") may be the classifier's rather than the method's.  ``attr_agreement`` scores one
run with two independent classifiers ``A`` (option ``first``) and ``B`` (``second``) and reports how far
they agree, on the HQ faces, on the restored faces, and on *which faces the method changed*.

Definitions (shares in [0, 1], kappas in [-1, 1]; ``y`` the HQ face, ``ŷ`` its restoration)
------------------------------------------------------------------------------------------
* **Cohen's kappa** (Cohen 1960, "A coefficient of agreement for nominal scales", Educ. Psychol. Meas. 20)
  of a ``K x K`` table ``n_jk`` (faces that ``A`` put in class ``j`` and ``B`` in class ``k``), over the
  ``n`` faces where **both** classifiers gave a prediction (no face, classifier failure or no HQ: left
  out; ``n_<table>`` reports ``n``):
  ``p_o = Σ_k n_kk / n`` (observed agreement, ``agree_*``), ``p_e = Σ_k n_k. n_.k / n²`` (agreement
  expected if the two were independent with their own marginals), ``κ = (p_o - p_e) / (1 - p_e)``.
  1 = perfect agreement, 0 = chance level, < 0 = worse than chance; ``nan`` when ``n = 0`` or
  ``p_e = 1`` (both classifiers put every face in the same single class: agreement is undefined).
* ``kappa_gender_hq`` / ``kappa_gender_restored``: kappa of the predicted gender (2 classes) of ``A`` and
  ``B`` on the HQ faces / on the restored faces; ``kappa_age_hq`` / ``kappa_age_restored``: the same for
  the 10 FFHQ-Aging age bins (unweighted: any two different bins disagree).  ``kappa_age_*_linear``:
  **linearly weighted** kappa (Cohen 1968, Psychol. Bull. 70) of the age bins, agreement weights
  ``w_jk = 1 - |j - k| / 9``: ``κ_w = (Σ w_jk p_jk - Σ w_jk p_j. p_.k) / (1 - Σ w_jk p_j. p_.k)`` (bins
  one apart agree partly; the bins are ordered but of unequal width: a reading aid, the unweighted kappa
  is the headline).  ``agree_*``: the raw agreement ``p_o`` of the same table.
* **Flip** of a classifier ``C`` on a face (the per-face event behind ``attr``'s ``gender_err``):
  ``flip`` if ``C(ŷ) != C(y)`` or ``ŷ`` has no face (face status 1), ``kept`` if ``C(ŷ) = C(y)``,
  ``undefined`` if ``C(y)`` is unknown (no HQ, no face on HQ, failure) or ``C`` failed on ``ŷ``.
  ``kappa_gender_flip`` / ``kappa_age_flip``: kappa of the 2x2 table (flip / kept) of ``A`` vs ``B`` over
  the faces where both flips are defined -- do the two classifiers agree *which* faces the method
  changed?  ``agree_*_flip``: its raw agreement.
* ``gender_err_first`` / ``gender_err_second`` (and ``age_err_*``): each classifier's own reference
  error ``#flip / #(flip or kept)``, exactly ``attr``'s ``gender_err`` / ``age_err`` with that
  classifier (each over the faces where its own flip is defined).  Side by side: if the two errors agree
  and ``kappa_*_flip`` is high the finding is the method's; if they differ, the classifier's.
* Counts: ``n`` (faces), ``n_gender_hq`` ... ``n_age_flip`` (faces entering each kappa).

Every kappa, agreement and error has a bootstrap 95 % interval (``_lo`` / ``_hi``; percentile, 1000
image-bootstrap replicates).  Each statistic is a function of one count table over all ``n`` faces (code
"no prediction" included), so its image bootstrap is exactly a multinomial resampling of that table's
cells (:func:`metrics.bootstrap.bootstrap_linear`; kappa is a non-linear function of the resampled cell
sums, which the percentile bootstrap allows).

State
-----
Count tables, int64, merged by element-wise sum (exact for any split of the faces):
``gender_hq`` / ``gender_restored`` ``[3, 3]`` (A's gender, B's gender; code 2 = no prediction),
``age_hq`` / ``age_restored`` ``[11, 11]`` (code 10 = no prediction), ``gender_flip`` / ``age_flip``
``[3, 3]`` (A's flip, B's flip; 0 kept, 1 flip, 2 undefined).

Vectors: those of ``attr`` for each classifier (``AttributeBias(backend, **options).channels()``'s
``restored`` and ``hq`` channel keys): a run with ``attr`` and ``attr_agreement`` stores each
classifier's predictions once, HQ predictions already stored by any run are never recomputed, and
within a process both metrics share the loaded classifier and its prediction caches.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from bench.core.types import SetMetric
from metrics.attribute_error import (AttributeBias, _safe_predict, _StoredPrediction, prediction_vector,
                                     shared_classifier)
from metrics.bootstrap import DEFAULT_REPLICATES, bootstrap_linear, ratio

NG, NB = 2, 10
KEPT, FLIP, UNDEFINED = 0, 1, 2
#: state tables: name -> (attribute, side); ``flip`` tables compare restored with HQ for each classifier
TABLES = {"gender_hq": (NG + 1, "gender"), "gender_restored": (NG + 1, "gender"),
          "age_hq": (NB + 1, "age"), "age_restored": (NB + 1, "age"),
          "gender_flip": (3, "gender"), "age_flip": (3, "age")}
ROLES = ("first", "second")


# -- kappa (vectorised over bootstrap replicates) ---------------------------------------------------

def kappa_from_tables(tables: np.ndarray, weights: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa and raw agreement of ``[R, K, K]`` count tables (or one ``[K, K]`` table).

    ``weights=None``: unweighted (``p_o = Σ n_kk / n``); ``"linear"``: agreement weights
    ``1 - |j - k| / (K - 1)``.  Returns ``(kappa, p_o)`` (``nan`` where ``n = 0``; kappa ``nan`` where
    ``p_e = 1``).
    """
    t = np.asarray(tables, np.float64)
    single = t.ndim == 2
    t = t[None] if single else t
    k = t.shape[-1]
    j = np.arange(k)
    w = np.eye(k) if weights is None else 1.0 - np.abs(j[:, None] - j[None, :]) / max(1, k - 1)
    if weights not in (None, "linear"):
        raise ValueError(f"weights must be None or 'linear', got {weights!r}")
    n = t.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = t / np.where(n > 0, n, 1)[:, None, None]
        po = (w * p).sum(axis=(1, 2))
        pe = np.einsum("jk,rj,rk->r", w, p.sum(axis=2), p.sum(axis=1))
        kappa = np.where((n > 0) & (pe < 1 - 1e-12), (po - pe) / (1 - pe), np.nan)
    po = np.where(n > 0, po, np.nan)
    return (kappa[0], po[0]) if single else (kappa, po)


# -- per-face codes -----------------------------------------------------------------------------------

def _class_codes(values: np.ndarray, k: int) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where((values < 0) | (values >= k), k, values)


def _flip_codes(hq: np.ndarray, restored: np.ndarray, no_face: np.ndarray, k: int) -> np.ndarray:
    """0 kept, 1 flip (different class, or no face on the restored image), 2 undefined."""
    hq, restored = _class_codes(hq, k), _class_codes(restored, k)
    flip = np.where(restored == hq, KEPT, FLIP)
    flip = np.where(restored == k, UNDEFINED, flip)          # classifier failure on the restored image
    flip = np.where(np.asarray(no_face, bool), FLIP, flip)   # no face on the restored image: an error
    return np.where(hq == k, UNDEFINED, flip)


def _role_options(backend: Any, options: Mapping[str, Any] | None, prefixed: Mapping[str, Any],
                  role: str) -> tuple[str, dict[str, Any]]:
    """Backend name and options of one classifier: ``first="dlib_onnx"`` or ``first={"classifier": ...}``,
    plus ``first_options={...}`` and flat ``first_<option>=...`` (the form ``--metric-option`` gives)."""
    merged: dict[str, Any] = {}
    if isinstance(backend, Mapping):
        merged.update(backend)
        backend = merged.pop("classifier", merged.pop("backend", None))
    if not isinstance(backend, str) or not backend:
        raise ValueError(f"attr_agreement: {role} must name a classifier backend, got {backend!r}")
    merged.update(options or {})
    merged.update({k[len(role) + 1:]: v for k, v in prefixed.items() if k.startswith(role + "_")})
    return backend, merged


class AttributeAgreement(SetMetric):
    """Agreement (Cohen's kappa) of two attribute classifiers on HQ and restored faces and on the flips."""
    description = (
        "Second opinion on attribute errors: Cohen's kappa of two classifiers (gender, age bin) on HQ and "
        "restored faces and on which faces flipped, with each classifier's gender/age error; 95% CIs."
    )
    citation = (
        "Cohen, A coefficient of agreement for nominal scales, Educ. Psychol. Meas. 1960; weighted kappa: "
        "Cohen, Psychol. Bull. 1968; attribute error as in Li et al., IJCAI 2023; classifiers: those of attr"
    )
    licence = ("MIT (frbench code); classifiers: those chosen (dlib-models weights CC0-1.0; a `trained` "
               "checkpoint: trained here)")
    #: kappas lie in [-1, 1], shares and errors in [0, 1] (``n_*`` are counts)
    value_range = (-1.0, 1.0)

    name = "attr_agreement"
    higher_is_better = False
    leaderboard_headline = ("kappa_gender_hq", "kappa_gender_restored", "kappa_gender_flip", "gender_err_first",
                            "gender_err_second", "kappa_age_hq", "kappa_age_restored", "kappa_age_flip",
                            "age_err_first", "age_err_second")
    leaderboard_counts = ("n", "n_*")
    #: the errors rank methods as attr's do; agreement describes the evaluators (informational)
    outputs = {"*_err_first": "lower", "*_err_second": "lower", "*": "info"}
    needs_reference = False  # without HQ only the restored-side kappas are defined
    unit = ""

    #: the runner passes ``framing`` (the frame of the scored images) on to both classifiers' chips
    follows_framing = True

    def __init__(self, first: Any = "dlib_onnx", second: Any = "trained",
                 first_options: Mapping[str, Any] | None = None, second_options: Mapping[str, Any] | None = None,
                 replicates: int = DEFAULT_REPLICATES, framing: str | None = None, **options: Any) -> None:
        unknown = sorted(k for k in options if not k.startswith(("first_", "second_")))
        if unknown:
            raise ValueError(f"attr_agreement: unknown option(s) {', '.join(unknown)} (classifier options "
                             "are given as first_<option> / second_<option>, or first_options={...})")
        self.replicates = int(replicates)
        # the attr metric of each classifier: its channels, options and defaults (constructing loads nothing)
        self._bias = {}
        for role, backend, opts in (("first", first, first_options), ("second", second, second_options)):
            name, merged = _role_options(backend, opts, options, role)
            if framing is not None:  # the frame of the scored images reaches both classifiers' chips
                merged.setdefault("framing", framing)
            self._bias[role] = AttributeBias(name, **merged)
        a, b = (self._bias[r] for r in ROLES)
        if (a.classifier_name, a.classifier_options) == (b.classifier_name, b.classifier_options):
            raise ValueError("attr_agreement: first and second are the same classifier (agreement would be 1)")

    # -- vectors: attr's, for each classifier -----------------------------------------------------------
    def _shared(self, role: str):
        bias = self._bias[role]
        return shared_classifier(bias.classifier_name, bias.classifier_options)

    def prepare(self) -> None:
        for role in ROLES:
            self._bias[role].prepare()

    def channels(self) -> dict[str, tuple[str, str]]:
        out = {}
        for role in ROLES:
            attr = self._bias[role].channels()
            out[f"{role}_restored"], out[f"{role}_hq"] = attr["restored"], attr["hq"]
        return out

    def restored_vectors(self, restored, samples) -> dict[str, np.ndarray]:
        return {f"{role}_restored": _predict_vectors(self._shared(role)[2], restored) for role in ROLES}

    def reference_vectors(self, reference, samples) -> dict[str, np.ndarray]:
        return {f"{role}_hq": _predict_vectors(self._shared(role)[1], reference) for role in ROLES}

    # -- aggregation ----------------------------------------------------------------------------------
    def fold(self, vectors: Mapping[str, np.ndarray], samples: Sequence[Any]) -> dict[str, np.ndarray]:
        n = len(samples)
        pred = {}
        for role in ROLES:
            for side in ("restored", "hq"):
                key = f"{role}_{side}"
                if key in vectors:
                    pred[key] = _StoredPrediction(vectors[key])
                    if len(pred[key]) != n:
                        raise ValueError(f"attr_agreement: {len(pred[key])} {key} rows for {n} samples")
        missing = np.full(n, -1, np.int64)
        state = {}
        for attr, k, column in (("gender", NG, "gender"), ("age", NB, "age_bin")):
            codes = {}
            for role in ROLES:
                r, h = pred[f"{role}_restored"], pred.get(f"{role}_hq")
                hq = getattr(h, column) if h is not None else missing
                codes[role, "restored"] = _class_codes(getattr(r, column), k)
                codes[role, "hq"] = _class_codes(hq, k)
                codes[role, "flip"] = _flip_codes(hq, getattr(r, column), np.asarray(r.status) == 1, k)
            for side, size in (("hq", k + 1), ("restored", k + 1), ("flip", 3)):
                table = np.zeros((size, size), np.int64)
                np.add.at(table, (codes["first", side], codes["second", side]), 1)
                state[f"{attr}_{side}"] = table
        return state

    def compute(self, state: Mapping[str, np.ndarray]) -> dict[str, float]:
        out: dict[str, float] = {"n": float(np.asarray(state["gender_hq"]).sum()) if "gender_hq" in state else 0.0}
        for seed, (table_name, (size, attr)) in enumerate(TABLES.items()):
            table = np.asarray(state.get(table_name, np.zeros((size, size), np.int64)), np.int64)
            side = table_name.split("_", 1)[1]
            k = size - 1 if side != "flip" else 2
            out[f"n_{table_name}"] = float(table[:k, :k].sum())
            cells = np.flatnonzero(table)
            weights = np.zeros((len(cells), size * size))
            weights[np.arange(len(cells)), cells] = 1.0

            def stats(sums: np.ndarray, size=size, k=k, table_name=table_name, side=side, attr=attr):
                t = sums.reshape(-1, size, size)
                both = t[:, :k, :k]
                kappa, po = kappa_from_tables(both)
                s = {f"kappa_{table_name}": kappa, f"agree_{table_name}": po}
                if attr == "age" and side != "flip":
                    s[f"kappa_{table_name}_linear"] = kappa_from_tables(both, "linear")[0]
                if side == "flip":  # each classifier's own error: its marginal over the other's codes
                    rows, cols = t.sum(axis=2), t.sum(axis=1)
                    s[f"{attr}_err_first"] = ratio(rows[:, FLIP], rows[:, KEPT] + rows[:, FLIP])
                    s[f"{attr}_err_second"] = ratio(cols[:, FLIP], cols[:, KEPT] + cols[:, FLIP])
                return s

            intervals = bootstrap_linear(table.ravel()[cells], weights, stats, replicates=self.replicates,
                                         seed=30_300 + seed)
            for key, ci in intervals.items():
                out[key], out[key + "_lo"], out[key + "_hi"] = ci.value, ci.lo, ci.hi
        return out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update({"bootstrap_replicates": self.replicates,
                  "kappa": "Cohen 1960 over faces both classifiers predicted; age also linear-weighted"})
        for role in ROLES:
            bias = self._bias[role].describe()
            d[role] = {k: bias.get(k) for k in ("classifier", "classifier_options", "backend", "evaluator",
                                                 "framing", "chips_from")}
        return d


def _predict_vectors(cache, images) -> np.ndarray:
    """Stored prediction vectors of a batch; a classifier failure becomes an empty row, never a crash."""
    return prediction_vector(_safe_predict(cache, images))
