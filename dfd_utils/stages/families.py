"""What each detector sees, and whether it sees fakes it never trained on (notebook 12, beyond the paper).

The paper's premise is that whole-video and two-stream models catch *temporal*
inconsistencies a per-frame model cannot; it never tests it. Here three families of
synthetic fakes are made from the same originals (the same real clips, names and
splits in every family), each with one kind of artifact
(:class:`dfd_utils.sources.synthetic.SyntheticConfig`):

* ``spatial``: the study's overlay with its spatial knobs (seam, colour and resolution
  mismatch at the strength chapter 00 chose) and no temporal one: every frame equally
  wrong, no frame different from its neighbours in any way a real video's is not;
* ``temporal``: the original's own face, the whole head shaken and re-lit a little
  each frame (``head_jitter``, ``head_flicker``): every frame on its own a clean render,
  only the sequence unnatural;
* ``both``: the spatial family's swap, shaken and re-lit as the temporal one.

Each detector trains and is tested on each family (a 5 x 3 table of test video AUCs
with 95 % family-bootstrap intervals), and each trained model is then scored on the
other families' test splits: generalization to a kind of fake it never saw.

The same question on real faces: chapter 09's set holds two kinds of fake, overlays
(another person's face pasted in) and self-blended ones (a person's own face, altered
and blended back: Shiohara and Yamasaki 2022). Each kind gets a view of chapter 09's
full-frame inputs holding its reals and that kind's fakes only (:func:`kind_view`: the
same files, hard-linked, nothing re-extracted), each model trains on one view and is
scored on both.

Layout under ``<root>/artifacts/``::

    families/<family>/artifacts/{subset,frames,flow,models,predictions}   one complete study root per family
    families/<family>/metrics/<model>.json
    families/faces_<kind>/artifacts/{frames,flow}                      chapter 09's reals and one kind of fake
    families_runs/<family>/<model>/                                     resumable training state
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dfd_utils.config import FAMILIES, StudyConfig
from dfd_utils.evaluate import binary_metrics, bootstrap_ci, score_table
from dfd_utils.features import FeatureCache
from dfd_utils.frame_store import load_video_frames
from dfd_utils.io import link_or_copy, link_tree, read_json, write_json_atomic
from dfd_utils.models import load_checkpoint
from dfd_utils.paths import Paths
from dfd_utils.precision import prepare, resolve_device
from dfd_utils.sources.artifacts import JITTER_STEP
from dfd_utils.sources.synthetic import HEAD_GAIN, SyntheticConfig
from dfd_utils.stages.detector import load_inputs, run_experiment
from dfd_utils.stages.flow import optical_flow
from dfd_utils.stages.frames import extract_frames
from dfd_utils.stages.real_faces import frames_for, variant_root
from dfd_utils.stages.subset import make_subset
from dfd_utils.train import predict

SPATIAL_KNOBS = ("seam", "color_mismatch", "resolution_mismatch")  # visible in one frame
PATCH_TEMPORAL_KNOBS = ("jitter", "flicker")  # the study's own temporal knobs: they leave one-frame traces too
TEMPORAL_MODELS = ("two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d")  # each reads more than one frame


def family_root(root: str | Path, family: str) -> Path:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    return Paths.at(root).artifacts / "families" / family


def runs_folder(root: str | Path, family: str) -> Path:
    return Paths.at(root).artifacts / "families_runs" / family


def family_knobs(study: StudyConfig, family: str) -> dict:
    """``data.synthetic`` for one family: the study's clips and spatial knobs, each family's artifacts on or off."""
    spatial, temporal = family in ("spatial", "both"), family in ("temporal", "both")
    knobs = {**study.data.synthetic, **dict.fromkeys(PATCH_TEMPORAL_KNOBS, 0.0), "unaltered_share": 0.0}
    strength = study.families.temporal if temporal else 0.0
    return {**knobs, "swap": spatial, "head_jitter": strength, "head_flicker": strength}


def temporal_magnitudes(study: StudyConfig) -> dict[str, float]:
    """What ``families.temporal`` means in the pixels: the head's offset (standard deviation, face widths) and the
    largest brightness change (per cent), each drawn anew every frame; and the spatial knobs' strength beside it."""
    strength = study.families.temporal
    return {"offset_sd": round(strength * JITTER_STEP, 4), "gain_pct": round(100 * strength * HEAD_GAIN, 1),
            "spatial": float(study.data.synthetic.get("seam", SyntheticConfig.seam))}


def family_data(study: StudyConfig, family: str) -> dict:
    """The ``data`` section of one family's set (stage 01's input)."""
    cfg = study.families
    return {"source": "synthetic", "num_videos": cfg.num_videos, "fake_share": cfg.fake_share,
            "synthetic": family_knobs(study, family)}


def settings_table(study: StudyConfig) -> pd.DataFrame:
    """Each family's artifact knobs, one row per family: what differs between them, from the settings."""
    shown = (*SPATIAL_KNOBS, *PATCH_TEMPORAL_KNOBS, "unaltered_share", "swap", "head_jitter", "head_flicker")
    return pd.DataFrame({f: {k: family_knobs(study, f).get(k, "") for k in shown} for f in FAMILIES}).T


def make_sets(study: StudyConfig, root: str | Path) -> dict[str, dict]:
    """Stage 01 for every family: ``{family: metadata}``. The same plan (names, originals) in each."""
    return {f: make_subset(family_data(study, f), family_root(root, f), seed=study.seed, workers=study.workers,
                           donors=_others(root, f))
            for f in FAMILIES}


def _others(root: str | Path, family: str) -> tuple[Path, ...]:
    """The other families' roots: their originals are this family's, by the same stamps, so linked, not redone."""
    return tuple(family_root(root, f) for f in FAMILIES if f != family)


def extract_all(study: StudyConfig, root: str | Path) -> dict[str, dict]:
    """Stages 02 and 03 for every family, with the same split shares: ``{family: extract_frames' result}``."""
    splits = dict(zip(("train", "val", "test"), study.families.splits))
    prepared = {}
    for family in FAMILIES:
        where = family_root(root, family)
        prepared[family] = extract_frames(asdict(study.frames), splits, where, seed=study.seed, workers=study.workers,
                                          donors=_others(root, family))
        optical_flow(asdict(study.flow), where, workers=study.workers, donors=_others(root, family))
    return prepared


def example_frames(metadata: dict[str, dict], root: str | Path, per_row: int = 4) -> dict[str, np.ndarray]:
    """One original and its fake in each family, as stage 02 sampled them: ``{title: (T, H, W, 3) uint8}``."""
    meta = metadata[FAMILIES[0]]
    fake = next(name for name, entry in sorted(meta.items()) if entry["label"] == "FAKE")
    original = meta[fake]["original"]
    rows = {f"REAL {original}": load_video_frames(Paths.at(family_root(root, FAMILIES[0])).frames, original)}
    for family in FAMILIES:
        rows[f"{family} fake of it"] = load_video_frames(Paths.at(family_root(root, family)).frames, fake)
    step = max(len(next(iter(rows.values()))) // per_row, 1)
    return {title: frames[::step][:per_row] for title, frames in rows.items()}


def train_all(study: StudyConfig, root: str | Path) -> dict[str, dict[str, dict]]:
    """Every model of ``families.models`` trained and tested on every family: ``{family: {model: metrics}}``.

    Training takes ``train``, the model's override in ``models``, then ``families.train``.
    """
    train = {**study.train, **study.families.train}
    return {family: {name: run_experiment(name, train, asdict(study.frames), asdict(study.evaluate),
                                          root=family_root(root, family), seed=study.seed, device=study.device,
                                          data_info={"source": "synthetic", "family": family,
                                                     "num_videos": study.families.num_videos},
                                          live=False, runs=runs_folder(root, family), models=study.models,
                                          feature_store=Paths.at(root).features).metrics
                     for name in study.families.models}
            for family in FAMILIES}


KINDS = ("overlay", "self_blended")  # chapter 09's two kinds of fake on real faces


def kind_root(root: str | Path, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of fake {kind!r}; expected one of {KINDS}")
    return Paths.at(root).artifacts / "families" / f"faces_{kind}"


def kind_view(root: str | Path, kind: str) -> dict[str, dict[str, int]]:
    """Chapter 09's full-frame frames and flow, restricted to its reals and its fakes of one ``kind``.

    Writes ``families/faces_<kind>/artifacts/{frames,flow}`` anew (the manifest and labels
    filtered, each kept video's files hard-linked) and returns the videos per split.
    Chapter 09 splits by person, so a kind's train, validation and test videos are those of
    chapter 09's, and no person is in two splits.
    """
    source, target = Paths.at(variant_root(root, "full")), Paths.at(kind_root(root, kind))
    manifest = pd.read_csv(source.frames / "manifest.csv", keep_default_na=False)
    meta = read_json(source.subset / "metadata.json")
    keep = {name for name, entry in meta.items() if entry["label"] == "REAL" or entry.get("fake_type") == kind}
    manifest = manifest[manifest.video.isin(keep)]
    for folder in (target.frames, target.flow):
        shutil.rmtree(folder, ignore_errors=True)  # a view is remade whole: it holds no work of its own
        folder.mkdir(parents=True)
    for name in sorted(set(manifest.video)):
        stem = Path(name).stem
        link_tree(source.frames / stem, target.frames / stem)
        for suffix in (".npy", ".json"):
            link_or_copy(source.flow / f"{stem}{suffix}", target.flow / f"{stem}{suffix}")
    stems = {Path(name).stem for name in manifest.video}
    labels = read_json(source.frames / "labels.json")  # "<stem>/00.jpg" -> 0/1
    write_json_atomic(target.frames / "labels.json", {k: v for k, v in labels.items() if k.split("/")[0] in stems})
    manifest.to_csv(target.frames / "manifest.csv", index=False)
    per_video = manifest.drop_duplicates("video")
    return {split: {label: int((rows.label == value).sum()) for label, value in (("REAL", 0), ("FAKE", 1))}
            for split, rows in per_video.groupby("split")}


def usable_kinds(views: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """The kinds whose view holds reals and fakes in each of train, validation and test: only those can train."""
    return [kind for kind, counts in views.items()
            if all(min(counts.get(split, {}).values(), default=0) > 0 for split in ("train", "val", "test"))]


def views_table(views: dict[str, dict[str, dict[str, int]]]) -> pd.DataFrame:
    """Videos per kind (rows), split and label (columns)."""
    return pd.DataFrame({kind: {(split, label): n for split in ("train", "val", "test")
                                for label, n in counts.get(split, {"REAL": 0, "FAKE": 0}).items()}
                         for kind, counts in views.items()}).T


def views_note(views: dict[str, dict[str, dict[str, int]]]) -> str:
    """What the views allow: every kind trained and crossed, or which kind lacks what (a small set's draw)."""
    usable = usable_kinds(views)
    if len(usable) == len(views):
        return "Every kind's view holds reals and fakes in each split: each model trains on each kind."
    lacking = [f"{kind} ({', '.join(f'{s}: {c}' for s, c in counts.items())})" for kind, counts in views.items()
               if kind not in usable]
    return (f"Not every kind can train: {'; '.join(lacking)} lacks reals or fakes in a split. Chapter 09's set is "
            "too small for this comparison (raise `real_faces.num_videos`): nothing is trained on real faces here.")


def train_kinds(study: StudyConfig, root: str | Path, kinds: list[str]) -> dict[str, dict[str, dict]]:
    """Every model trained on each of ``kinds``' views of chapter 09's set: ``{kind: {model: metrics}}``.

    Only with both kinds usable (:func:`usable_kinds`) is there anything to compare: else nothing trains.
    """
    if sorted(kinds) != sorted(KINDS):
        return {}
    train = {**study.train, **study.families.train}
    frames = frames_for(study, "full")
    return {kind: {name: run_experiment(name, train, frames, asdict(study.evaluate), root=kind_root(root, kind),
                                        seed=study.seed, device=study.device,
                                        data_info={"source": "faces", "variant": "full", "kind": kind},
                                        live=False, runs=runs_folder(root, f"faces_{kind}"), models=study.models,
                                        feature_store=Paths.at(root).features).metrics
                   for name in study.families.models}
            for kind in kinds}


def test_scores(model_path: Path, test_root: Path, store: Path, topk: int, loaded: dict | None = None
                ) -> pd.DataFrame:
    """A saved detector's scores on another root's test split: one row per video (``score_table``).

    A frozen trunk's features come from the shared store: the test videos went through the
    same pretrained trunk when that family's own models trained, so nothing runs twice.
    ``loaded``: test splits already decoded, by root and input kind, shared across calls.
    """
    model, info = load_checkpoint(model_path)
    train = info["config"]["train"]
    loaded = {} if loaded is None else loaded
    key = (str(test_root), model.three_d, model.uses_flow)  # what load_inputs decodes for this model
    if key not in loaded:
        loaded[key] = load_inputs(Paths.at(test_root), model, "test")
    data = {"test": loaded[key]}
    if train["trunk"] == "frozen":  # the trunk as training ran it (device, memory format): the store's own key
        model = prepare(model, resolve_device(train["device"]), train["channels_last"])
        data = FeatureCache(store)(model, data)
    model, test = model.float().to(memory_format=torch.contiguous_format).cpu(), data["test"]  # as train_seed scores
    probs = predict(model, test, 32, "cpu", "fp32")  # (V*T,) per-frame models, (V,) whole-video models
    per_frame = model.level == "frame"
    return score_table("test", test.videos, test.families, test.labels.numpy(), probs,
                       test.num_frames if per_frame else None, topk)


CROSS_COLUMNS = ["model", "trained_on", "tested_on", "videos", "roc_auc", "low", "high"]


def cross_table(study: StudyConfig, root: str | Path, kinds: list[str] | None = None) -> pd.DataFrame:
    """Every model trained on each family, scored on each family's test split: one row per (model, train, test).

    ``kinds``: chapter 09's kinds of fake in place of the synthetic families (none trained
    unless both are given: an empty table). The rows where the two are the same are the
    in-distribution AUCs of :func:`train_all` (:func:`train_kinds`).
    """
    if kinds is not None and sorted(kinds) != sorted(KINDS):
        return pd.DataFrame(columns=CROSS_COLUMNS)
    rows, loaded = [], {}
    store = Paths.at(root).features
    sets = {k: kind_root(root, k) for k in kinds} if kinds is not None else {f: family_root(root, f) for f in FAMILIES}
    for name in study.families.models:
        for trained, trained_root in sets.items():
            model_path = Paths.at(trained_root).models / f"{name}.pt"
            for tested, tested_root in sets.items():
                videos = test_scores(model_path, tested_root, store, study.evaluate.topk, loaded)
                auc = binary_metrics(videos.label, videos.prob)["roc_auc"]
                low, high = bootstrap_ci(videos.label, videos.prob, videos.family, n_boot=study.evaluate.bootstrap,
                                         seed=study.seed)["roc_auc"]
                rows.append({"model": name, "trained_on": trained, "tested_on": tested, "videos": len(videos),
                             "roc_auc": auc, "low": low, "high": high})
    return pd.DataFrame(rows, columns=CROSS_COLUMNS)


def verdict(low: float, high: float) -> str:
    """What an AUC interval says about the artifacts: seen (above chance), not shown (holds 0.5), or inverted."""
    return "sees it" if low > 0.5 else "inverted" if high < 0.5 else "at chance"


def auc_grid(cross: pd.DataFrame) -> pd.DataFrame:
    """The 5 x 3 table: in-distribution test video AUC [95 % interval], models by family."""
    same = cross[cross.trained_on == cross.tested_on]
    cells = {(r.model, r.tested_on): f"{r.roc_auc:.3f} [{r.low:.2f}, {r.high:.2f}]" for r in same.itertuples()}
    models, sets = list(dict.fromkeys(same.model)), list(dict.fromkeys(same.tested_on))
    return pd.DataFrame({f: [cells[(m, f)] for m in models] for f in sets}, index=pd.Index(models, name="model"))


def reading(cross: pd.DataFrame) -> str:
    """Which detectors see which artifacts, and whether the paper's premise holds, from the intervals alone."""
    same = cross[cross.trained_on == cross.tested_on].set_index(["model", "tested_on"])
    lines = []
    for model in dict.fromkeys(same.index.get_level_values(0)):
        seen = [f for f in FAMILIES if verdict(same.loc[(model, f), "low"], same.loc[(model, f), "high"]) == "sees it"]
        lines.append(f"**{model}** sees " + (", ".join(seen) if seen else "none of the families") + ".")
    premise = premise_verdict(same)
    return "\n\n".join(lines) + "\n\n" + premise


def premise_verdict(same: pd.DataFrame) -> str:
    """The paper's premise on the temporal family: a per-frame model cannot see it, a temporal model can."""
    if ("baseline", "temporal") not in same.index:
        return "The premise is not tested: the baseline was not trained on the temporal family."
    base = same.loc[("baseline", "temporal")]
    temporal = [m for m in TEMPORAL_MODELS if (m, "temporal") in same.index]
    seeing = [m for m in temporal if verdict(same.loc[(m, "temporal"), "low"], same.loc[(m, "temporal"), "high"])
              == "sees it"]
    base_says = verdict(base.low, base.high)
    if base_says == "sees it":
        return (f"**The premise is contradicted here**: the per-frame baseline sees the temporal-only fakes "
                f"(AUC {base.roc_auc:.3f} [{base.low:.2f}, {base.high:.2f}]), so they leave a trace in single frames.")
    if seeing:
        return (f"**The premise holds here**: the per-frame baseline is at chance on the temporal-only fakes "
                f"(AUC {base.roc_auc:.3f} [{base.low:.2f}, {base.high:.2f}]) while {', '.join(seeing)} "
                f"see{'s' if len(seeing) == 1 else ''} them (interval above 0.5).")
    return (f"**The premise is not shown here**: the per-frame baseline is at chance on the temporal-only fakes "
            f"(AUC {base.roc_auc:.3f} [{base.low:.2f}, {base.high:.2f}]), and so is every model that reads more "
            f"than one frame ({', '.join(temporal)}): none of them learned the temporal artifact either.")


def cross_grid(cross: pd.DataFrame) -> pd.DataFrame:
    """Test video AUC of every model (rows) trained on one family and tested on each (columns: train -> test)."""
    if cross.empty:
        return pd.DataFrame()
    table = cross.assign(pair=cross.trained_on + " -> " + cross.tested_on)
    sets = list(dict.fromkeys(cross.trained_on))
    return table.pivot(index="model", columns="pair", values="roc_auc").reindex(
        index=list(dict.fromkeys(cross.model)), columns=[f"{a} -> {b}" for a in sets for b in sets])


def cross_reading(cross: pd.DataFrame) -> str:
    """For every model and pair of different families: does the AUC on unseen fakes fall below the in-distribution
    interval of the family it was tested on? Computed from the intervals."""
    if cross.empty:
        return "Nothing was trained on these sets, so nothing is compared."
    same = cross[cross.trained_on == cross.tested_on].set_index(["model", "tested_on"])
    other = cross[cross.trained_on != cross.tested_on]
    drops = [r for r in other.itertuples() if r.roc_auc < same.loc[(r.model, r.tested_on), "low"]]
    chance = [r for r in other.itertuples() if verdict(r.low, r.high) != "sees it"]
    listed = "; ".join(f"{r.model}: {r.trained_on} -> {r.tested_on} {r.roc_auc:.3f}" for r in drops[:8])
    return (f"Of {len(other)} train -> test pairs whose test fakes are of another kind than the training ones, "
            f"{len(drops)} score below the interval of the same model trained on the test kind itself, and "
            f"{len(chance)} are not above chance (their interval holds 0.5 or lies below it). "
            + (listed + "." if drops else "")).strip()


def write_metrics(root: str | Path, tables: dict[str, pd.DataFrame]) -> Path:
    """``metrics/families.json``: per table (``synthetic``, ``faces``), model, train set and test set, the AUC and
    its interval."""
    metrics: dict = {}
    for table_name, cross in tables.items():
        for r in cross.itertuples():
            metrics.setdefault(table_name, {}).setdefault(r.model, {}).setdefault(r.trained_on, {})[r.tested_on] = {
                "roc_auc": r.roc_auc, "roc_auc_ci": [r.low, r.high], "videos": r.videos}
    path = Paths.at(root).metrics / "families.json"
    write_json_atomic(path, metrics)
    return path


def figure(cross: pd.DataFrame, ax=None):
    """In-distribution test video AUC per model (groups) and family (bars), the 95 % intervals as error bars."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    same = cross[cross.trained_on == cross.tested_on]
    models = list(dict.fromkeys(same.model))
    width = 0.8 / len(FAMILIES)
    for i, family in enumerate(FAMILIES):
        rows = same[same.tested_on == family].set_index("model").loc[models]
        x = np.arange(len(models)) + (i - (len(FAMILIES) - 1) / 2) * width
        ax.bar(x, rows.roc_auc, width, label=family,
               yerr=[rows.roc_auc - rows.low, rows.high - rows.roc_auc], capsize=2)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(models)), models, rotation=15)
    ax.set(ylabel="test video ROC AUC", ylim=(0, 1.05))
    ax.legend(frameon=False, ncols=len(FAMILIES), loc="lower right")
    return ax
