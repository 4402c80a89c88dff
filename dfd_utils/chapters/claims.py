"""The paper's claims as data, and the verdict our results give each one (chapter 10).

Each :class:`Claim` keeps the paper's words, the check that decides it here, the data it
is decided on (and the other chapters whose data bear on it) and what those data can and
cannot show. The statistics are standard and named (``dfd_utils.stats``): paired
cluster-bootstrap BCa intervals over original families for every difference between
models, TOST equivalence with a margin fixed in advance (:data:`PRIOR_MARGIN`) for "at
chance" / "no better than the prior", the paper's own figure for "detects single frames",
and the smallest detectable effect beside every verdict that shows nothing. The rules
are in :mod:`dfd_utils.chapters.claims_verdicts`, the checks in :mod:`dfd_utils.chapters.claims_checks`,
the chapter's tables and sentences in :mod:`dfd_utils.chapters.claims_text`; every public name
of the three is importable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dfd_utils.chapters.claims_checks import (  # noqa: F401
    accuracy_over_majority,
    auc_at_chance,
    auc_difference,
    family_bootstrap,
    frame_accuracy,
    frame_auc,
    frame_auc_difference,
    frame_to_video_accuracy,
    majority_rate,
)
from dfd_utils.chapters.claims_text import (  # noqa: F401
    CHAPTERS,
    PUBLISHED,
    data_table,
    decision_rule,
    evidence_text,
    glue_values,
    published_context,
    seed_counts,
    seed_table,
    verdict_sentence,
    verdict_table,
)
from dfd_utils.chapters.claims_verdicts import (  # noqa: F401
    KINDS,
    MIN_FAMILIES,
    PAPER_FRAME_ACCURACY,
    POWER,
    PRIOR_MARGIN,
    VERDICTS,
    Evidence,
    Results,
    Verdict,
    decide,
    load,
    seed_runs,
    seed_values,
)
from dfd_utils.io import write_json_atomic
from dfd_utils.stats import Columns, auc  # noqa: F401


@dataclass(frozen=True)
class Claim:
    """One finding of the paper, in its words, with where it is stated, how and on which data it is decided here."""

    id: str  # short, also the prefix of the chapter's glue keys
    short: str  # the claim in a few words (the verdict table's row)
    words: str  # the paper's words
    where: str  # section of the paper
    test: str  # the check that decides it here
    dfdc: str  # what would have to hold on DFDC for the paper's conclusion to stand
    check: Callable[[Results], Evidence] | None = None  # None: not testable on these results (said why in test)
    data: str = ""  # the data it is decided on
    cites: tuple[str, ...] = ()  # other chapters whose data bear on it (keys of CHAPTERS)
    can: str = ""  # what those data can show
    cannot: str = ""  # and what they cannot


DEMO = ("the test split of chapters 04–07 (by default the synthetic overlay fakes, at the artifact strengths chapter "
        "00 states and chapter 03 shows in the flow)")
FRAMES = "the per-frame models' test frames of chapters 04–05 (frames of one video resampled together)"
PAIRED = "paired cluster-bootstrap BCa interval over original families"
COMPARE_CAN = "which model ranks these test videos better, paired over the same videos, at these artifact strengths"
COMPARE_CANNOT = ("a difference the demo's artifacts do not carry: a temporal model can only beat the baseline here "
                  "as far as the temporal artifact allows; chapter 12's temporal-only family has one by construction "
                  "and chapter 09 has real faces, cross-identity; neither is DFDC")
PRIOR_CAN = f"whether the model's ranking lies within {PRIOR_MARGIN} of chance on these videos (TOST)"
PRIOR_CANNOT = ("whether the architecture can learn: only that this training run did not, on these data (chapter 12 "
                "shows the same model on a temporal-only artifact)")


def _beats(a: str, b: str, words: str, where: str, dfdc: str, cites=("08", "09", "12"), short: str = "",
           cid: str = "") -> Claim:
    return Claim(cid or f"{a}_beats_{b}", short or f"{a.replace('_', '-')} beats {b.replace('_', ' ')}", words, where,
                 f"Video AUC difference {a} − {b} over the same test videos, {PAIRED} (> 0), every seed agreeing.",
                 dfdc, lambda r: auc_difference(r, a, b), DEMO, cites, COMPARE_CAN, COMPARE_CANNOT)


BETTER = ("we achieved considerable success with the Two-Stream Whole-Video model, which demonstrated enhanced "
          "resilience to the issues plaguing the other models")
CLAIMS: tuple[Claim, ...] = (
    _beats("two_stream_frame", "baseline", "The Two-Stream models, which concurrently process spatial and temporal "
           "features, demonstrate superior performance in identifying deepfake videos", "Abstract; §6",
           "The same paired interval above 0 on the paper's 83 test videos (or more), for at least three seeds; the "
           "paper reports no interval and one run.", short="two-stream per frame beats the spatial baseline"),
    _beats("two_stream_video", "baseline", "the TwoStream model incorporates both spatial and temporal information "
           "[...] which likely contributes to its superior performance in whole-video contexts", "§5.2",
           "An interval of the AUC difference above 0 over the DFDC test videos with the baseline scored by its "
           "continuous mean (not a test-chosen threshold), across seeds.",
           short="two-stream per video beats the spatial baseline"),
    Claim("flow_carries_temporal_signal", "optical flow adds signal within each frame",
          "Even if individual frames are not altered with deepfake masks, the temporal flow component of the "
          "Two-Stream model can still detect anomalies", "§5.2; §6",
          f"Frame-level AUC of two_stream_frame − baseline on the same test frames (the only difference between the "
          f"two models is the flow stream), {PAIRED} (> 0).",
          "On DFDC, whose fakes are not all temporally unstable and whose test videos are re-encoded, the flow stream "
          "must still add frame AUC beyond the interval; an ablation with the flow zeroed would show it directly.",
          lambda r: frame_auc_difference(r, "two_stream_frame", "baseline"), FRAMES, ("12",),
          "whether the flow stream adds frame-level ranking at the demo's temporal artifact strength",
          "whether flow detects a temporal artifact in general: where the demo's temporal artifact is weak a null "
          "says little; chapter 12's temporal-only family (a temporal artifact by construction) is the direct test"),
    _beats("two_stream_video", "two_stream_frame", "Analyzing whole batches of frames allows the model to establish "
           "longer-term dependencies, further improving its capability to discern genuine sequences from "
           "manipulated ones", "§5.2",
           "The per-video model's AUC interval above the per-frame model's mean-scored AUC on DFDC test videos.",
           ("08", "12", "13"), "whole-video two-stream beats per-frame two-stream", "whole_video_beats_per_frame"),
    _beats("two_stream_video", "cnn_rnn", BETTER, "§5.2", "The difference must survive the CNN-RNN being trained "
           "as well as it can be (the paper's did not learn).", ("06", "08", "09", "12"),
           "two-stream per video beats the CNN-RNN"),
    _beats("two_stream_video", "cnn3d", BETTER, "§5.2", "As for the CNN-RNN: against a 3D CNN that learns "
           "(DeepfakeBench's I3D is its nearest published relative).", ("07", "08", "09", "12"),
           "two-stream per video beats the 3D CNN"),
    Claim("frame_level_works", "the spatial baseline detects single frames",
          "employing a spatial-only approach allows for effective local detection of features within individual "
          "frames (Table 7: frame accuracy 0.97)", "§5.2; Table 7",
          f"Frame accuracy (p ≥ 0.5) of the baseline on its test frames, cluster-bootstrap BCa over families, against "
          f"the paper's {PAPER_FRAME_ACCURACY}: consistent if the 95 % interval reaches it, contradicted if it lies "
          f"wholly below.",
          "Frame accuracy near 0.97 on DFDC test frames, with frames of one video kept together in the interval "
          "(they are not independent); DeepfakeBench's cross-dataset frame AUCs on DFDC are 0.64–0.72.",
          lambda r: frame_accuracy(r, "baseline"), FRAMES, ("04", "09"),
          f"whether the baseline's frame accuracy here is consistent with the paper's {PAPER_FRAME_ACCURACY}",
          "the paper's figure on DFDC, nor how the demo's stated spatial artifact strength compares with DFDC's "
          "(chapter 09: the same detector on real faces)"),
    Claim("frame_to_video_drop_baseline", "frame accuracy does not carry over to videos (baseline)",
          "when these per-frame analyses are aggregated to represent entire video sequences, we observe a "
          "significant drop in accuracy, particularly evident in the baseline models", "§5.2; §6",
          "The baseline's video accuracy (share of FAKE frames at the validation threshold) minus its frame "
          "accuracy (p ≥ 0.5), paired cluster-bootstrap BCa over families: holds if the interval lies below 0.",
          "A drop beyond the interval on DFDC with the threshold chosen on validation (the paper chose it on test, "
          "which favours the video accuracy, so a drop there is conservative).",
          lambda r: frame_to_video_accuracy(r, "baseline"), FRAMES, ("13",),
          "whether the share rule loses accuracy from frames to videos on these clips",
          "a drop on DFDC, whose clips are longer and whose fakes are not altered in every frame alike"),
    Claim("frame_to_video_drop_two_stream_frame", "frame accuracy does not carry over to videos (two-stream per "
          "frame)", "when these per-frame analyses are aggregated to represent entire video sequences, we observe a "
          "significant drop in accuracy", "§5.2",
          "As for the baseline, for two_stream_frame: video minus frame accuracy, interval below 0.",
          "As for the baseline.", lambda r: frame_to_video_accuracy(r, "two_stream_frame"), FRAMES, ("13",),
          "as for the baseline", "as for the baseline"),
    Claim("cnn_rnn_at_prior_auc", "the CNN-RNN learns nothing beyond the class prior (AUC)",
          "We got very low precisions, which suggest that the model didn't learning the features", "§5.2",
          f"TOST on the video AUC of cnn_rnn: holds if its 90 % interval lies within 0.5 ± {PRIOR_MARGIN} (margin "
          "fixed in advance) and every seed does; contradicted if its 95 % interval lies wholly outside.",
          "An AUC interval near 0.5 for a CNN-RNN trained to convergence on DFDC; published CNN-LSTMs on DFDC "
          "(Kaggle, 15th place) scored well, so the paper's failure is more likely its training than the "
          "architecture.", lambda r: auc_at_chance(r, "cnn_rnn"), DEMO, ("06", "09", "12"), PRIOR_CAN, PRIOR_CANNOT),
    Claim("cnn3d_at_prior_auc", "the 3D CNN learns nothing beyond the class prior (AUC)",
          "We also noticed that our 3D CNN and CNN-RNN struggled", "§5.2",
          f"TOST on the video AUC of cnn3d within 0.5 ± {PRIOR_MARGIN}, as for the CNN-RNN.",
          "An AUC interval near 0.5 for an inflated-ResNet 3D CNN on DFDC; DeepfakeBench's I3D (its nearest "
          "relative) has no published table, so this would be new evidence.",
          lambda r: auc_at_chance(r, "cnn3d"), DEMO, ("07", "09", "12"), PRIOR_CAN, PRIOR_CANNOT),
    Claim("cnn_rnn_at_prior_accuracy", "the CNN-RNN's accuracy sits at the class split",
          "This is further backed by accuracy of these models sitting at 0.59 and 0.62 which is the rough class "
          "split of the dataset", "§5.2",
          f"TOST on video accuracy of cnn_rnn minus the majority-class rate (both per draw, cluster BCa): holds if "
          f"the 90 % interval lies within ± {PRIOR_MARGIN}, contradicted if the 95 % interval lies wholly outside.",
          "Accuracy within the margin of DFDC's majority rate (about 0.84 FAKE in the full training set; 0.5 in the "
          "balanced public and private test sets), where balanced accuracy is the fairer measure.",
          lambda r: accuracy_over_majority(r, "cnn_rnn"), DEMO, ("06",),
          f"whether the model's accuracy lies within {PRIOR_MARGIN} of always guessing the larger class",
          "whether that is the class split of the paper's data: the demo's share of fakes is its own"),
    Claim("cnn3d_at_prior_accuracy", "the 3D CNN's accuracy sits at the class split",
          "This is further backed by accuracy of these models sitting at 0.59 and 0.62 which is the rough class "
          "split of the dataset", "§5.2",
          f"TOST on video accuracy of cnn3d minus the majority-class rate within ± {PRIOR_MARGIN}, as for the CNN-RNN.",
          "As for the CNN-RNN.", lambda r: accuracy_over_majority(r, "cnn3d"), DEMO, ("07",),
          f"whether the model's accuracy lies within {PRIOR_MARGIN} of always guessing the larger class",
          "whether that is the class split of the paper's data: the demo's share of fakes is its own"),
    Claim("cnn3d_heat_follows_flow", "the 3D CNN attends to regions of high flow",
          "we can already see that the 3D model is picking up features extracted from areas of \"high\" temporal "
          "flow", "§5.2; Figure 3",
          "Not tested here: one example, judged by eye. Chapter 08 shows the same Grad-CAM beside flow; a test "
          "would correlate heat with flow magnitude over all test videos against a shuffled-flow baseline.",
          "The correlation above its shuffled baseline on DFDC videos, where most motion is the speaker's, not the "
          "forgery's.", None, "one figure (chapter 08)", ("08",), "what one example looks like",
          "anything over the test split"),
    Claim("frame_models_overfit", "per-frame models overfit",
          "our frame-by-frame analysis exposed potential vulnerabilities to overfitting, despite the implementation "
          "of high regularization and dropout layers", "§5.2",
          "Not tested here: the paper gives no numbers; the detector chapters show train and validation curves per "
          "epoch (DVCLive), which a reader can compare.",
          "A growing gap between training and validation loss on DFDC that more diverse data closes.", None,
          "the learning curves of chapters 04–05", ("04", "05"), "the gap between training and validation loss",
          "a verdict: no threshold for 'overfits' is fixed"),
)


def statements(claims=CLAIMS) -> pd.DataFrame:
    """The claims as the paper states them: where, in its words, how we test each, what DFDC would need."""
    return pd.DataFrame([{"where": c.where, "the paper's words": f"“{c.words}”", "decided here by": c.test,
                          "what would have to hold on DFDC": c.dfdc} for c in claims],
                        index=pd.Index([c.id for c in claims], name="claim"))


@dataclass(frozen=True)
class Decided:
    claim: Claim
    evidence: Evidence | None
    verdict: Verdict


def decide_all(r: Results, claims=CLAIMS) -> list[Decided]:
    out = []
    for c in claims:
        if c.check is None:
            out.append(Decided(c, None, Verdict("not tested", 0, 0, "qualitative in the paper; see the test column.")))
        else:
            e = c.check(r)
            out.append(Decided(c, e, decide(e)))
    return out


def write_verdicts(path: str | Path, decided: list[Decided]) -> dict:
    """``metrics/claims.json``: each claim's verdict, effect, interval, its method and the seeds that agree, so that
    two runs (another CPU, other kernels) are compared verdict by verdict (``dvc metrics diff --targets
    metrics/claims.json``); and ``metrics/headline/claims.json``, the verdicts counted, for ``dvc exp show``."""
    def number(x) -> float | None:
        return round(float(x), 6) if x is not None and np.isfinite(x) else None

    record = {d.claim.id: {"verdict": d.verdict.verdict, "seeds_agree": d.verdict.agree, "seeds": d.verdict.seeds,
                           **({"effect": number(d.evidence.effect), "low": number(d.evidence.low),
                               "high": number(d.evidence.high), "method": d.evidence.method}
                              if d.evidence is not None else {})}
              for d in decided}
    write_json_atomic(Path(path), record)
    counts = {v.replace(" ", "_"): sum(r["verdict"] == v for r in record.values()) for v in VERDICTS}
    write_json_atomic(Path(path).parent / "headline" / "claims.json", counts)
    return record

