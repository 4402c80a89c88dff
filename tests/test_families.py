"""Chapter 12's fake families: same originals, one kind of artifact each, and readings computed from intervals."""

import numpy as np
import pandas as pd
import pytest

from dfd_utils.chapters import families
from dfd_utils.config import ConfigError, load, parse
from dfd_utils.pipeline import load_params
from dfd_utils.sources.artifacts import draw_schedule
from dfd_utils.sources.synthetic import SyntheticConfig, generate, head_schedule
from dfd_utils.video import read_sampled_frames


def small(**knobs) -> SyntheticConfig:
    return SyntheticConfig(num_videos=4, fake_share=0.5, height=72, width=128, fps=10.0, duration_s=0.8, seed=3,
                           **{"jitter": 0.0, "flicker": 0.0, "unaltered_share": 0.0, **knobs})


def test_each_family_turns_on_only_its_own_artifacts():
    study = load("profiles/demo.yaml")
    spatial, temporal, both = (families.family_knobs(study, f) for f in ("spatial", "temporal", "both"))
    for knobs in (spatial, temporal, both):
        assert knobs["jitter"] == knobs["flicker"] == knobs["unaltered_share"] == 0.0  # no patch-level time cue
        for k in families.SPATIAL_KNOBS:  # the strength chapter 00 chose, as the study's own fakes have it
            assert knobs[k] == study.data.synthetic[k]
    assert spatial["swap"] and not temporal["swap"] and both["swap"]
    assert spatial["head_jitter"] == spatial["head_flicker"] == 0.0
    assert temporal["head_jitter"] == temporal["head_flicker"] == both["head_jitter"] == study.families.temporal


def test_the_families_share_their_originals_bit_for_bit_and_differ_only_in_the_fakes(tmp_path):
    sets = {name: generate(cfg, tmp_path / name, workers=1) for name, cfg in {
        "spatial": small(), "temporal": small(swap=False, head_jitter=1.0, head_flicker=1.0),
        "none": small(swap=False)}.items()}
    assert sets["spatial"] == sets["temporal"] == sets["none"]  # the same names, labels and originals
    fake = next(n for n, e in sets["spatial"].items() if e["label"] == "FAKE")
    real = sets["spatial"][fake]["original"]
    frames = {name: read_sampled_frames(tmp_path / name / real, 8)[0] for name in sets}
    assert np.array_equal(frames["spatial"], frames["temporal"]) and np.array_equal(frames["spatial"],
                                                                                   frames["none"])
    fakes = {name: read_sampled_frames(tmp_path / name / fake, 8)[0].astype(int) for name in sets}
    # no swap and no head knob: the "fake" is its original, pixel for pixel (the control, AUC 0.5 by construction)
    assert np.array_equal(fakes["none"], frames["none"])
    # the temporal fake moves the head: it differs from its original, but only around the head, never everywhere
    moved = np.abs(fakes["temporal"] - frames["none"]).max(axis=-1) > 24  # (T, H, W)
    assert moved.any() and moved.mean() < 0.2


def test_head_draws_leave_the_swap_and_its_patch_draws_unchanged():
    """The head knobs draw from their own generator: with them at 0 nothing is drawn, the overlay as before."""
    assert head_schedule(small(), 8, 123) is None
    head = head_schedule(small(head_jitter=0.5, head_flicker=1.0), 8, 123)
    assert head.offsets.shape == (8, 2) and head.gains.shape == (8,)
    assert np.all(np.abs(head.gains - 1) <= 0.15 + 1e-9)
    patch = draw_schedule(small(seam=0.4), 8, np.random.default_rng(123))
    again = draw_schedule(small(seam=0.4, head_jitter=1.0), 8, np.random.default_rng(123))
    assert np.array_equal(patch.offsets, again.offsets) and np.array_equal(patch.weights, again.weights)


def test_bad_head_knobs_are_refused_by_name():
    with pytest.raises(ValueError, match="head_jitter"):
        small(head_jitter=1.5)
    with pytest.raises(ValueError, match="swap must be true or false"):
        small(swap="yes")


@pytest.mark.parametrize("section, message", [
    ({"temporal": 0}, "temporal"),
    ({"models": ["baseline", "transformer"]}, "models must name distinct models"),
    ({"num_videos": 8, "splits": [0.9, 0.05, 0.05]}, "leave a split empty"),
    ({"train": {"epoch": 3}}, "unknown key families.train.epoch"),
    ({"strength": 1}, "families.strength"),
])
def test_bad_families_settings_are_refused_by_name(section, message):
    params = load_params("profiles/demo.yaml")
    params["families"] = {**params["families"], **section}
    with pytest.raises((ConfigError, ValueError), match=message):
        parse(params)


PAIRS = 12  # test families: one real and its fake each, the same videos for every model and set


def video_scores(kind: str, seed: int) -> pd.DataFrame:
    """One model's scores on the test videos: ``seen`` (every fake above every real), ``chance`` (every video the
    same score: AUC 0.5 in every draw), ``inverted`` (every fake below) or ``noise`` (unrelated to the label)."""
    rng = np.random.default_rng(seed)
    label = np.tile([0, 1], PAIRS)
    jitter = rng.uniform(0, 0.05, 2 * PAIRS)
    prob = {"seen": 0.2 + 0.6 * label + jitter, "inverted": 0.8 - 0.6 * label + jitter,
            "chance": np.full(2 * PAIRS, 0.5), "noise": rng.uniform(0, 1, 2 * PAIRS)}[kind]
    return pd.DataFrame({"video": [f"{'fake' if y else 'real'}{i // 2:02}.mp4" for i, y in enumerate(label)],
                         "family": [f"real{i // 2:02}.mp4" for i in range(2 * PAIRS)], "label": label, "prob": prob})


def scored(cells: dict[tuple[str, str, str], str]) -> pd.DataFrame:
    """Per-video scores of every (model, trained on, tested on), as ``cross_scores`` gives them."""
    return pd.concat([video_scores(kind, i).assign(model=m, trained_on=a, tested_on=b)[families.SCORE_COLUMNS]
                      for i, ((m, a, b), kind) in enumerate(cells.items())], ignore_index=True)


def diagonal(model: str, spatial: str, temporal: str, both: str) -> dict:
    return {(model, f, f): v for f, v in zip(("spatial", "temporal", "both"), (spatial, temporal, both))}


def read(cells: dict) -> str:
    scores = scored(cells)
    return families.reading(families.cross_rows(scores, n_boot=200), scores, n_boot=200)


def test_the_premise_holds_when_the_baseline_is_shown_at_chance_and_a_temporal_model_beats_it_paired():
    text = read({**diagonal("baseline", "seen", "chance", "seen"),
                 **diagonal("two_stream_frame", "seen", "seen", "seen"),
                 **diagonal("cnn3d", "chance", "chance", "inverted")})
    assert "**baseline** sees spatial, both." in text
    assert "**two_stream_frame** sees spatial, temporal, both." in text
    assert "**cnn3d** sees none of the families. It scores below chance on both (interval wholly below 0.5)." in text
    # both ways against the baseline, paired over the same videos
    assert "above on temporal +0.5" in text and "below on spatial -0.5" in text
    assert "**The premise holds here**" in text and "equivalent to 0.5 by TOST" in text
    assert "0.5 ± 0.1 fixed in advance" in text and "while two_stream_frame beats it" in text
    assert "Paired against it (AUC difference, 95 %): above: two_stream_frame +0.500 [+0.50, +0.50]" in text
    assert "; below: cnn3d" not in text  # cnn3d is at chance on temporal, as the baseline: neither above nor below


def test_the_premise_is_contradicted_unshown_or_undecided_from_equivalence_not_from_an_interval_holding_half():
    assert "**The premise is contradicted here**" in read({**diagonal("baseline", "seen", "seen", "seen"),
                                                          **diagonal("cnn_rnn", "seen", "seen", "seen")})
    blind = read({**diagonal("baseline", "seen", "chance", "seen"), **diagonal("cnn_rnn", "seen", "chance", "seen")})
    assert "**The premise is not shown here**" in blind and "no model that reads more than one frame" in blind
    # an interval that holds 0.5 but is too wide to be within 0.5 +- 0.1: absence of evidence, not at chance
    wide = read({**diagonal("baseline", "seen", "noise", "seen"), **diagonal("cnn_rnn", "seen", "seen", "seen")})
    assert "**The premise is not decided here**" in wide and "this test set detects AUC differences of" in wide
    assert "above: cnn_rnn" in wide


def test_the_cross_reading_compares_each_pair_with_the_model_trained_on_the_test_kind_paired():
    cells = {**diagonal("baseline", "seen", "seen", "seen"),
             ("baseline", "spatial", "temporal"): "chance",  # below baseline temporal -> temporal, at chance
             ("baseline", "temporal", "spatial"): "seen"}  # as good as the spatial model itself
    scores = scored(cells)
    cross = families.cross_rows(scores, n_boot=200)
    assert set(cross.method) == {"cluster bootstrap BCa over original families (200 draws)"}
    text = families.cross_reading(cross, scores, n_boot=200)
    assert text.startswith("Of 2 train -> test pairs whose test fakes are of another kind than the training ones, "
                           "1 score demonstrably below the same model trained on the test kind itself and "
                           "0 demonstrably above it")
    assert "and 1 are not shown above chance" in text and "baseline: spatial -> temporal 0.500 (-0.500" in text
    grid = families.auc_grid(cross)
    assert grid.loc["baseline", "temporal"] == "1.000 [1.00, 1.00]"
    few = scored(diagonal("baseline", "seen", "seen", "seen"))
    few = few[few.family.isin(few.family.unique()[:5])]  # 5 families: too few to resample
    assert families.auc_grid(families.cross_rows(few, n_boot=200)).loc["baseline", "both"] == "1.000 [no interval]"
    assert families.verdict(float("nan"), float("nan")) == "no interval"


def test_the_metrics_keep_each_interval_with_its_method_and_the_frame_order_drops(tmp_path):
    import json

    from dfd_utils.chapters.frame_order import ORDER_COLUMNS

    scores = scored(diagonal("baseline", "seen", "seen", "seen"))
    order = pd.DataFrame([{"model": "cnn_rnn", "family": "temporal", "perturbation": p, "videos": 24,
                           "auc_in_order": 0.9, "auc": 0.6, "drop": 0.3, "low": 0.1 if p == "shuffled" else np.nan,
                           "high": 0.5 if p == "shuffled" else np.nan, "level": 0.95, "method": "paired m",
                           "equivalent": False, "eq_low": 0.15, "eq_high": 0.45, "margin": 0.05, "detectable": 0.2,
                           "max_score_change": 0.4} for p in ("shuffled", "repeated")], columns=ORDER_COLUMNS)
    path = families.write_metrics(tmp_path, {"synthetic": families.cross_rows(scores, n_boot=200)}, order)
    kept = json.loads(path.read_text())  # strict JSON: no NaN
    assert kept["synthetic"]["baseline"]["temporal"]["temporal"]["method"].startswith("cluster bootstrap BCa")
    entry = kept["frame_order"]["cnn_rnn"]["temporal"]
    assert entry["verdict"] == "uses frame order" and entry["shuffled"]["drop_ci"] == [0.1, 0.5]
    assert entry["repeated"]["drop_ci"] == [None, None] and entry["shuffled"]["verdict"] == "loses"


def test_a_kind_view_holds_the_reals_and_one_kind_of_fake_linked_not_copied(tmp_path):
    """Chapter 09's inputs restricted to one kind of fake: manifest and labels filtered, files hard-linked."""
    import json
    import os

    from dfd_utils.chapters.real_faces import variant_root
    from dfd_utils.paths import Paths

    source = Paths.at(variant_root(tmp_path, "full"))
    meta = {"r.mp4": {"label": "REAL", "original": None}, "o.mp4": {"label": "FAKE", "fake_type": "overlay"},
            "s.mp4": {"label": "FAKE", "fake_type": "self_blended"}}
    source.subset.mkdir(parents=True)
    (source.subset / "metadata.json").write_text(json.dumps(meta))
    rows = []
    for name, split in (("r.mp4", "test"), ("o.mp4", "test"), ("s.mp4", "train")):
        stem = name[0]
        (source.frames / stem / "3d").mkdir(parents=True)
        (source.frames / stem / "00.jpg").write_bytes(b"jpeg " + stem.encode())
        (source.frames / stem / "3d" / "00.jpg").write_bytes(b"3d")
        source.flow.mkdir(parents=True, exist_ok=True)
        (source.flow / f"{stem}.npy").write_bytes(b"flow")
        (source.flow / f"{stem}.json").write_text("{}")
        rows.append(f"{name},{int(stem != 'r')},,0,0,{split}")
    (source.frames / "manifest.csv").write_text("video,label,original,position,frame_index,split\n" + "\n".join(rows))
    (source.frames / "labels.json").write_text(json.dumps({"r/00.jpg": 0, "o/00.jpg": 1, "s/00.jpg": 1}))

    assert families.kind_view(tmp_path, "overlay") == {"test": {"REAL": 1, "FAKE": 1}}
    view = Paths.at(families.kind_root(tmp_path, "overlay"))
    assert sorted(p.name for p in view.frames.iterdir() if p.is_dir()) == ["o", "r"]
    assert json.loads((view.frames / "labels.json").read_text()) == {"r/00.jpg": 0, "o/00.jpg": 1}
    assert os.path.samefile(view.frames / "o" / "3d" / "00.jpg", source.frames / "o" / "3d" / "00.jpg")
    assert os.path.samefile(view.flow / "o.npy", source.flow / "o.npy") and not (view.flow / "s.npy").exists()
    views = {kind: families.kind_view(tmp_path, kind) for kind in families.KINDS}  # each remade whole, on its own
    assert views["self_blended"] == {"test": {"REAL": 1, "FAKE": 0}, "train": {"REAL": 0, "FAKE": 1}}
    assert families.usable_kinds(views) == []  # no split holds both labels in train, val and test
    assert "Not every kind can train: overlay (test: {'REAL': 1, 'FAKE': 1})" in families.views_note(views)
    assert families.train_kinds(None, tmp_path, []) == {} and families.cross_table(None, tmp_path, []).empty
    with pytest.raises(ValueError, match="unknown kind of fake 'swap'"):
        families.kind_root(tmp_path, "swap")


def test_a_linked_tree_is_made_anew_and_a_missing_source_is_named(tmp_path):
    """Links never go stale: a writer replaces a file (a new inode), and linking again follows it."""
    import os

    from dfd_utils.io import link_or_copy, link_tree

    source, target = tmp_path / "part" / "v", tmp_path / "merged" / "v"
    source.mkdir(parents=True)
    (source / "00.jpg").write_bytes(b"old")
    link_tree(source, target)
    assert os.path.samefile(source / "00.jpg", target / "00.jpg")
    (source / "00.jpg").unlink()  # stage 02 writes a video's frames anew: new files under the old names
    (source / "00.jpg").write_bytes(b"new")
    (target / "stale.jpg").write_bytes(b"left from before")
    link_tree(source, target)
    assert (target / "00.jpg").read_bytes() == b"new" and not (target / "stale.jpg").exists()
    with pytest.raises(FileNotFoundError, match=r"part/gone: missing \(the stage that writes it has not run"):
        link_tree(tmp_path / "part" / "gone", target)
    with pytest.raises(FileNotFoundError, match=r"flow/v.npy: missing"):
        link_or_copy(tmp_path / "flow" / "v.npy", tmp_path / "x.npy")
