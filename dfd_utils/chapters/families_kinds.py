"""Chapter 12 on real faces: views of chapter 09's set holding its reals and one kind of fake each.

Chapter 09's set holds two kinds of fake, overlays (another person's face pasted in) and
self-blended ones (a person's own face, altered and blended back: Shiohara and Yamasaki
2022). Each kind gets a view of chapter 09's full-frame inputs holding its reals and that
kind's fakes only (:func:`kind_view`: the same files, hard-linked, nothing re-extracted).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from dfd_utils.chapters.real_faces import variant_root
from dfd_utils.io import link_or_copy, link_tree, read_json, write_csv_atomic, write_json_atomic
from dfd_utils.paths import Paths

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
    write_csv_atomic(manifest, target.frames / "manifest.csv")
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
