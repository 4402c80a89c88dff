"""The study's detector for real footage: one of chapter 09's ten, chosen on validation, kept for ``dfd predict``.

Chapter 09 trains the five detectors on real talking faces twice, on full frames and
on face crops. One of those ten becomes ``artifacts/models/real_faces.pt``, the
checkpoint ``dfd predict`` uses by default: the one with the best *validation* video
ROC AUC (first seed), ties broken by the lower validation log loss, then by the
paper's model order, then face crop before full frame. The validation person's few clips make AUC ties common (several
models reach 1.000), so the log loss, which still ranks confident right answers above
hesitant ones, decides between them. The test person is never looked at: the chosen
model's test AUC is reported beside the choice, not used for it.

``metrics/real_faces_detector.json`` keeps every candidate's numbers and the choice
(a design choice is made on validation data and its numbers kept in a results file).
The exported checkpoint is the chosen run's own, with what the choice was and which
method made each test interval added, so ``dfd info --card`` can say both.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch

from dfd_utils.chapters.real_faces import VARIANTS, variant_root
from dfd_utils.config.training import MODEL_NAMES
from dfd_utils.io import save_torch_atomic, write_json_atomic
from dfd_utils.paths import Paths

FILE = "real_faces.pt"  # under the study's artifacts/models, beside the synthetic-trained five
RULE = ("best validation video ROC AUC (first seed); ties: lower validation log loss, then the paper's model "
        "order, then face crop before full frame; the test person never looked at")


def candidates(results: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """One row per variant and model: validation AUC and log loss (what chooses), test AUC and its interval."""
    rows = []
    for variant in VARIANTS:
        for model in MODEL_NAMES:
            m = results.get(variant, {}).get(model)
            if m is None:
                continue
            low, high = (m.get("video_ci") or {}).get("roc_auc", (None, None))
            rows.append({"variant": variant, "model": model, "val_auc": m["val_video"]["roc_auc"],
                         "val_log_loss": m["val_video"]["log_loss"], "test_auc": m["video"]["roc_auc"],
                         "test_auc_low": low, "test_auc_high": high})
    if not rows:
        raise ValueError("no chapter 09 results to choose from: train the models first (chapter.train_all)")
    return pd.DataFrame(rows).set_index(["variant", "model"])


def choose(table: pd.DataFrame) -> tuple[str, str]:
    """``(variant, model)`` by :data:`RULE`; reads the validation columns only."""
    order = {name: i for i, name in enumerate(MODEL_NAMES)}

    def rank(key: tuple[str, str]) -> tuple:
        auc, loss = table.loc[key, "val_auc"], table.loc[key, "val_log_loss"]
        return (-auc if pd.notna(auc) else math.inf, loss if pd.notna(loss) else math.inf,  # NaN: last
                order[key[1]], key[0] != "face")

    return min(table.index, key=rank)


def export(root: str | Path, choice: tuple[str, str], results: dict[str, dict[str, dict]]) -> Path:
    """The chosen run's checkpoint as ``<root>/artifacts/models/real_faces.pt``, its choice and interval methods
    recorded in it; the weights, threshold, rule and temperature are the run's own."""
    variant, model = choice
    source = Paths.at(variant_root(root, variant)).models / f"{model}.pt"
    payload = torch.load(source, map_location="cpu", weights_only=True)
    payload["selection"] = {"variant": variant, "model": model, "rule": RULE, "from": "chapter 09",
                            "intended_for": "real talking-face video"}
    payload["video_ci_method"] = results[variant][model].get("video_ci_method")
    out = Paths.at(root).models / FILE
    save_torch_atomic(payload, out)
    return out


def write_choice(path: str | Path, table: pd.DataFrame, choice: tuple[str, str]) -> dict:
    """``metrics/real_faces_detector.json``: every candidate's validation and test numbers, the rule and the choice."""
    record = {"rule": RULE, "chosen": {"variant": choice[0], "model": choice[1]},
              "candidates": {f"{v}/{m}": {k: (None if pd.isna(x) else round(float(x), 6)) for k, x in row.items()}
                             for (v, m), row in table.iterrows()}}
    write_json_atomic(Path(path), record)
    return record


def reading(table: pd.DataFrame, choice: tuple[str, str]) -> str:
    """The choice in one paragraph, with the chosen model's test AUC and interval from the table."""
    row = table.loc[choice]
    tied = table[table.val_auc == row.val_auc]
    interval = (f" [{row.test_auc_low:.3f}, {row.test_auc_high:.3f}]"
                if pd.notna(row.test_auc_low) and pd.notna(row.test_auc_high) else "")
    how = (f"{len(tied)} of {len(table)} candidates reach it; the lowest validation log loss among them, "
           f"{row.val_log_loss:.3f}, decides" if len(tied) > 1 else f"the highest of the {len(table)} candidates")
    return (f"`dfd predict` uses `{choice[1]}` on {'face crops' if choice[0] == 'face' else 'full frames'} for real "
            f"footage: validation AUC {row.val_auc:.3f} ({how}). On the test person it scores "
            f"{row.test_auc:.3f}{interval}, a number the choice never saw. One validation person and one test "
            "person: its card (`dfd info --card artifacts/models/real_faces.pt`) says what that cannot show.")
