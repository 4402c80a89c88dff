"""Chapter 10's tables and sentences, computed from the decided claims (never typed by hand).

Every verdict table names the method of each interval and the smallest effect the test
set could detect; the data table says on which data each claim was decided, which other
chapters bear on it, and what those data can and cannot show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dfd_utils.chapters.claims_verdicts import (
    MIN_FAMILIES,
    PAPER_FRAME_ACCURACY,
    POWER,
    PRIOR_MARGIN,
    VERDICTS,
    Evidence,
    seed_runs,
)
from dfd_utils.report import interval

if TYPE_CHECKING:
    from dfd_utils.chapters.claims import Decided

CHAPTERS = {  # the chapters a claim may cite, as the book names them
    "04": "04_baseline", "05": "05_two_stream", "06": "06_cnn_rnn", "07": "07_3d_cnn", "08": "08_compare_models",
    "09": "09_real_faces", "12": "12_spatial_temporal", "13": "13_frames_per_video",
}


def evidence_text(e: Evidence | None) -> str:
    """``+0.03 [-0.05, 0.10]`` (the book's interval format), ``n/a`` where undefined; an equivalence check adds its
    90 % interval (``; 90 %: [..]``), the one its TOST reads."""
    if e is None or not np.isfinite(e.effect):
        return "n/a"
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return f"{e.effect:+.2f}" if e.difference else f"{e.effect:.2f}"
    text = (f"{e.effect:+.2f} [{e.low:+.2f}, {e.high:+.2f}]" if e.difference
            else interval(e.effect, e.low, e.high))
    if e.kind == "equivalence" and e.tost is not None and np.all(np.isfinite(e.tost)):
        sign = "+" if e.difference else ""
        text += f"; 90 %: [{e.tost[0]:{sign}.2f}, {e.tost[1]:{sign}.2f}]"
    return text


def decision_rule(e: Evidence | None) -> str:
    """The test that decided, in words: "paired difference > 0", "TOST within 0.50 ± 0.10", ..."""
    if e is None:
        return "–"
    if e.kind == "equivalence":
        return f"TOST: 90 % interval within {e.bound:.2f} ± {e.margin:.2f} (margin fixed in advance)"
    if e.kind == "reaches":
        return f"95 % interval reaches the paper's {e.bound:.2f}"
    return f"95 % interval {'above' if e.direction > 0 else 'below'} {e.bound:.2f}"


def detectable_text(e: Evidence | None) -> str:
    d = e.detectable if e is not None else float("nan")
    return f"{d:.2f}" if np.isfinite(d) else "n/a"


def verdict_table(decided: list[Decided], why: bool = False) -> pd.DataFrame:
    """One row per claim (its few words): what was measured, the effect with its 95 % interval, the method that
    made the interval, the rule that decided, the smallest effect detectable (80 % power), the seeds agreeing and
    the verdict; ``why`` adds the verdict's reason in a sentence."""
    rows = []
    for d in decided:
        e = d.evidence
        row = {"measured": e.measure if e else "–", "effect [95 % interval]": evidence_text(e),
               "interval method": (e.method or "–") if e else "–", "decided by": decision_rule(e),
               f"detectable effect ({POWER:.0%} power)": detectable_text(e),
               "seeds agreeing": d.verdict.seeds_text, "verdict": d.verdict.verdict}
        if why:
            row["why"] = d.verdict.why
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index([d.claim.short for d in decided], name="claim"))


def chapter_links(chapters) -> str:
    return ", ".join(f"chapter {c} ({CHAPTERS.get(c, c)})" for c in chapters) or "–"


def data_table(claims) -> pd.DataFrame:
    """Per claim: the data it was decided on, the other chapters whose data bear on it, and what those data can and
    cannot show."""
    return pd.DataFrame([{"decided on": c.data, "also bearing on it": chapter_links(c.cites),
                          "what these data can show": c.can, "what they cannot show": c.cannot} for c in claims],
                        index=pd.Index([c.short for c in claims], name="claim"))


def glue_values(decided: list[Decided], r=None) -> dict[str, object]:
    """Every number and word the chapter's prose cites, by glue key (``<claim id>_<what>``, ``n_<verdict>``, and
    from ``r``: ``seeds_fewest``, ``seeds_most``, ``test_videos``, ``n_boot``, ``prior_margin``)."""
    values: dict[str, object] = {"prior_margin": PRIOR_MARGIN, "min_families": MIN_FAMILIES,
                                 "paper_frame_accuracy": PAPER_FRAME_ACCURACY, "power": f"{POWER:.0%}"}
    for d in decided:
        e, v, k = d.evidence, d.verdict, d.claim.id
        values[f"{k}_verdict"] = v.verdict
        values[f"{k}_seeds"] = v.seeds_text
        values[f"{k}_evidence"] = evidence_text(e)
        values[f"{k}_why"] = v.why
        values[f"{k}_method"] = (e.method or "–") if e else "–"
        values[f"{k}_detectable"] = detectable_text(e)
        values[f"{k}_data"] = d.claim.data
        values[f"{k}_cites"] = chapter_links(d.claim.cites)
    counts = pd.Series([d.verdict.verdict for d in decided]).value_counts()
    for name in VERDICTS:
        values[f"n_{name.replace(' ', '_')}"] = int(counts.get(name, 0))
    values["n_claims"] = len(decided)
    if r is not None:
        values["seeds_fewest"], values["seeds_most"] = fewest, most = seed_counts(r.metrics)
        values["seeds_text"] = (f"{most} seed{'s' * (most != 1)}" if fewest == most
                                else f"{fewest} to {most} seeds")
        videos = sorted({int(m["test_videos"]) for m in r.metrics.values() if m.get("test_videos") is not None})
        values["test_videos"] = " to ".join(map(str, videos[:: max(len(videos) - 1, 1)])) if videos else "n/a"
        values["n_boot"] = r.n_boot
    return values


def verdict_sentence(decided: list[Decided]) -> str:
    """The chapter's headline, computed: how many claims hold, are contradicted, are not shown, are not tested."""
    counts = pd.Series([d.verdict.verdict for d in decided], dtype=object).value_counts()
    plural = {"holds": "hold"}
    parts = [f"{n} {v if n == 1 else plural.get(v, v)}" for v in VERDICTS for n in [int(counts.get(v, 0))]]
    held = [f"*{d.claim.short}*" for d in decided if d.verdict.verdict == "holds"]
    against = [f"*{d.claim.short}*" for d in decided if d.verdict.verdict == "contradicted"]
    text = f"Of the paper's {len(decided)} findings listed here: {', '.join(parts)}."
    text += f" Held: {'; '.join(held)}." if held else " None held on this run."
    if against:
        text += f" Contradicted: {'; '.join(against)}."
    return text


def seed_table(metrics: dict[str, dict], keys=("roc_auc", "accuracy")) -> pd.DataFrame:
    """Per model: seed 0's test value with its interval beside the spread over seeds (mean±sd [min, max]), and the
    method of each interval (``video_ci_method`` of the metrics; older metrics do not say)."""
    rows = {}
    for name, m in metrics.items():
        runs = seed_runs(m)
        row = {"seeds": len(runs)}
        for k in keys:
            low, high = m.get("video_ci", {}).get(k, (float("nan"), float("nan")))
            row[f"{k}, seed 0 [95 % interval]"] = interval(m["video"][k], low, high)
            values = np.array([r[k] for r in runs if r.get(k) is not None], dtype=float)
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row[f"{k} over seeds: mean±sd [min, max]"] = (  # two lines in the book, as an interval is shown
                f"{values.mean():.2f}±{sd:.2f} [{values.min():.2f}, {values.max():.2f}]" if len(values) else "n/a")
            row[f"{k} interval method"] = m.get("video_ci_method", {}).get(k, "not recorded")
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def seed_counts(metrics: dict[str, dict]) -> tuple[int, int]:
    """The fewest and the most seeds any model was trained with."""
    n = [len(seed_runs(m)) for m in metrics.values()] or [0]
    return min(n), max(n)


# ------------------------------------------------------------------------------------------ the published context


PUBLISHED = (  # collected in the study's references (shared REFERENCES.md); each row keeps its own protocol
    ("This paper (Table 7)", "ResNet50 per frame (our baseline)", "DFDC subset, 825 clips; 83 test videos",
     "frame accuracy", "0.97",
     "one run; random 80/10/10 video split; frames treated as independent", "paper §5.1"),
    ("This paper (§5.2)", "3D CNN and CNN-RNN", "DFDC subset, 825 clips; 83 test videos", "video accuracy",
     "0.59 and 0.62", "one run each; said to be the class split; frame-to-video threshold chosen on test",
     "paper §4.2.2, §5.2"),
    ("DFDC winner (Seferbekov)", "EfficientNet-B7 NS per frame (nearest: baseline)",
     "DFDC train → private test (10,000 videos)", "log loss", "0.42798",
     "MTCNN face crops +30 %; 32 frames; 'confident strategy' aggregation; an ensemble", "SEL; Kaggle LB"),
    ("\\WM/ (2nd place)", "not recorded here", "DFDC train → public / private test", "log loss",
     "0.28680 / 0.42842", "Kaggle leaderboards; the test sets are degraded (frame rate, resolution, re-encoding)",
     "cuihaoleo/kaggle-dfdc"),
    ("DFDC top model", "(challenge report)", "DFDC public data → black-box test set", "accuracy",
     "0.8256 → 0.6518", "the same model on the public data and on the held-out black-box set",
     "DFDC challenge"),
    ("ryanwongsa (15th)", "EfficientNet-B6 + LSTM over 5 frames (nearest: CNN-RNN)",
     "DFDC train → public / private test", "log loss", "0.244 / 0.461", "Kaggle leaderboards",
     "Kaggle DFDC leaderboard"),
    ("Cross Efficient ViT", "EfficientNet + ViT", "DFDC → DFDC (in-domain)", "AUC", "0.951",
     "trained and tested within DFDC", "arXiv 2107.02612"),
    ("DeepfakeBench", "CNN-Aug, ResNet (nearest: baseline)", "FF++ c23 → FF++ / Celeb-DF-v2 / DFDC",
     "frame AUC", "0.849 / 0.703 / 0.636",
     "dlib crops, 32 frames, ACC at 0.5; cross-dataset except FF++", "DFB README"),
    ("DeepfakeBench", "Xception / EfficientNet-B4 / UCF (best)", "FF++ c23 → DFDC", "frame AUC",
     "0.708 / 0.696 / 0.719", "as above", "DFB README"),
    ("SBI", "EfficientNet-B4 on self-blended reals", "FF++ raw → Celeb-DF-v2 / DFDC", "video AUC",
     "0.9382 / 0.7301", "pseudo-fakes only; 32 frames; max over faces, mean over frames", "SBI README"),
    ("SBI", "EfficientNet-B4 on self-blended reals", "FF++ c23 → Celeb-DF-v2 / DFDC", "video AUC",
     "0.9287 / 0.7196", "as above", "SBI README"),
    ("FTCN", "temporal convolution (nearest: 3D CNN)", "FF++ → Celeb-DF-v2 / DFDC", "video AUC", "0.869 / 0.740",
     "cross-dataset", "FTCN paper"),
    ("de Lima et al. 2020", "R3D (nearest: 3D CNN) / RCN CNN+RNN (nearest: CNN-RNN)", "Celeb-DF → Celeb-DF",
     "video AUC", "0.9973 / 0.7487", "in-domain", "oidelima/Deepfake-Detection"),
    ("Saikia et al. 2022", "optical-flow CNN-LSTM (nearest: two-stream)", "→ DFDC", "accuracy", "0.6626",
     "flow features only", "Saikia et al. 2022"),
)


def published_context() -> pd.DataFrame:
    """Where the paper stands: published DFDC and cross-dataset results, each with its protocol and source.

    None is comparable to our demo numbers (other data, other protocol); they say what
    a detector of each kind reaches on DFDC when trained well.
    """
    columns = ["work", "detector", "trained → tested", "metric", "value", "protocol", "source"]
    return pd.DataFrame(PUBLISHED, columns=columns).set_index("work")
