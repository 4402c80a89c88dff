"""The claims chapter's verdicts, on hand-made metrics and predictions whose verdict is known by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dfd_utils.chapters import claims
from dfd_utils.chapters.claims import Evidence, Results, decide


def ev(effect, low, high, seeds, direction=1, bound=0.0, against=None):
    return Evidence("effect", effect, low, high, tuple(seeds), direction, bound, against)


# ----------------------------------------------------------------------------------------------- decide, by hand


def test_a_claim_holds_when_the_interval_and_every_seed_are_on_its_side():
    v = decide(ev(0.10, 0.03, 0.18, [0.10, 0.07, 0.12]))
    assert (v.verdict, v.agree, v.seeds, v.seeds_text) == ("holds", 3, 3, "3/3")
    assert "above 0.00" in v.why


def test_a_claim_is_contradicted_when_interval_and_seeds_point_the_other_way():
    v = decide(ev(-0.10, -0.18, -0.03, [-0.10, -0.05, -0.2]))
    assert (v.verdict, v.seeds_text) == ("contradicted", "3/3")
    assert "below 0.00" in v.why


def test_an_interval_that_includes_no_effect_shows_nothing():
    v = decide(ev(0.04, -0.02, 0.10, [0.04, 0.01, -0.01]))
    assert (v.verdict, v.seeds_text) == ("not shown", "2/3")  # two seeds lean the claim's way; the interval decides
    assert "includes 0.00" in v.why


def test_seeds_that_disagree_keep_a_clear_interval_from_a_verdict():
    v = decide(ev(0.10, 0.03, 0.18, [0.10, 0.05, -0.02]))
    assert (v.verdict, v.seeds_text) == ("not shown", "2/3")
    assert "only 2 of 3 seeds" in v.why
    v = decide(ev(-0.10, -0.18, -0.03, [-0.10, 0.01, -0.02]))  # contradicted by the interval, not by every seed
    assert (v.verdict, v.seeds_text) == ("not shown", "2/3")


def test_one_seed_decides_alone_and_says_so():
    v = decide(ev(0.10, 0.03, 0.18, [0.10]))
    assert (v.verdict, v.seeds_text) == ("holds", "1/1")
    assert decide(ev(-0.1, -0.2, -0.01, [-0.1])).verdict == "contradicted"


def test_a_claim_that_the_effect_drops_holds_below_its_bound():
    assert decide(ev(-0.2, -0.3, -0.1, [-0.2, -0.25, -0.1], direction=-1)).verdict == "holds"
    assert decide(ev(0.2, 0.1, 0.3, [0.2, 0.25, 0.1], direction=-1)).verdict == "contradicted"


def test_an_undefined_effect_or_no_seed_shows_nothing():
    assert decide(ev(float("nan"), float("nan"), float("nan"), [])).verdict == "not shown"
    assert decide(ev(0.1, 0.05, 0.2, [])).verdict == "not shown"


@pytest.mark.parametrize(("tost", "ci", "seeds", "verdict"), [
    ((0.43, 0.56), (0.41, 0.58), [0.50, 0.52, 0.45], "holds"),  # the 90 % interval inside 0.5 ± 0.1: TOST rejects
    ((0.64, 0.88), (0.62, 0.90), [0.70, 0.80, 0.65], "contradicted"),  # wholly beyond the margin: it learned
    ((0.53, 0.57), (0.52, 0.58), [0.55, 0.56, 0.54], "holds"),  # above chance, but by less than the margin fixed
    ((0.47, 0.73), (0.45, 0.75), [0.60, 0.62, 0.55], "not shown"),  # could be chance, could be 0.75
    ((0.43, 0.56), (0.41, 0.58), [0.50, 0.65, 0.45], "not shown"),  # one seed learned beyond the margin
    ((0.20, 0.33), (0.18, 0.35), [0.30, 0.25, 0.30], "contradicted"),  # below chance beyond the margin: inverted
])
def test_no_better_than_chance_is_a_tost_within_the_margin_fixed_in_advance(tost, ci, seeds, verdict):
    e = Evidence("AUC", np.mean(ci), *ci, tuple(seeds), 0, 0.5, difference=False, kind="equivalence",
                 margin=claims.PRIOR_MARGIN, tost=tost)
    v = decide(e)
    assert v.verdict == verdict
    if verdict == "holds":
        assert "90 % interval" in v.why and "TOST" in v.why and "0.50 ± 0.10" in v.why
    if verdict == "not shown" and seeds[1] < 0.65:
        assert "detects an effect of" in v.why  # the smallest effect the test set can detect, stated


def test_a_verdict_that_shows_nothing_states_the_smallest_detectable_effect():
    e = ev(0.04, -0.02, 0.10, [0.04])
    se = 0.12 / (2 * 1.959963984540054)
    assert e.detectable == pytest.approx((1.959963984540054 + 0.8416212335729143) * se)
    assert f"detects an effect of {e.detectable:.2f} or more" in decide(e).why


@pytest.mark.parametrize(("low", "high", "seeds", "verdict"), [
    (0.90, 0.98, [0.95, 0.93], "holds"),  # reaches the paper's 0.97: consistent with it
    (0.70, 0.85, [0.80, 0.78], "contradicted"),  # wholly below it
    (0.70, 0.85, [0.80, 0.98], "not shown"),  # below it, but a seed reaches it
])
def test_detecting_single_frames_is_judged_against_the_papers_frame_accuracy(low, high, seeds, verdict):
    e = Evidence("frame accuracy", (low + high) / 2, low, high, tuple(seeds), 1, claims.PAPER_FRAME_ACCURACY,
                 difference=False, kind="reaches")
    assert claims.PAPER_FRAME_ACCURACY == 0.97 and decide(e).verdict == verdict


# ---------------------------------------------------------------------------------------------- the statistics


def test_auc_by_ranks_is_sklearns_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    s = np.round(rng.random(50), 1)  # many ties
    assert claims.auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(claims.auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_the_family_bootstrap_keeps_families_whole_and_pairs_tables():
    t = pd.DataFrame({"family": np.repeat(np.arange(10), 2), "x": np.arange(20.0)})
    sizes = []

    def stat(tables):
        sizes.append(len(tables["a"]))
        assert len(tables["a"]) == len(tables["b"])  # one draw, both tables
        return float(tables["a"].x.sum() - tables["b"].x.sum())

    point, low, high = claims.family_bootstrap({"a": t, "b": t.copy()}, stat, n_boot=50)
    assert (point, low, high) == (0.0, 0.0, 0.0)
    assert all(n % 2 == 0 for n in sizes)  # whole families of two rows


def test_too_few_families_give_no_interval_and_no_verdict():
    t = pd.DataFrame({"family": np.repeat(np.arange(claims.MIN_FAMILIES - 1), 2), "x": np.arange(14.0)})
    point, low, high = claims.family_bootstrap({"a": t}, lambda d: float(d["a"].x.mean()), n_boot=20)
    assert point == pytest.approx(6.5) and np.isnan(low) and np.isnan(high)
    v = decide(ev(point, low, high, [point]))
    assert v.verdict == "not shown" and "original families" in v.why


# --------------------------------------------------------------------------------------- hand-made study results


N_FAMILIES = 30  # each family: one REAL original and one FAKE


def videos(scores_real, scores_fake) -> pd.DataFrame:
    fam = [f"o{i}.mp4" for i in range(N_FAMILIES)]
    rows = [{"split": "test", "video": f, "family": f, "label": 0, "prob": p, "decision": p}
            for f, p in zip(fam, scores_real)]
    rows += [{"split": "test", "video": f"f{i}.mp4", "family": f, "label": 1, "prob": p, "decision": p}
             for i, (f, p) in enumerate(zip(fam, scores_fake))]
    return pd.DataFrame(rows)


def metrics(table: pd.DataFrame, seed_aucs=None, accuracy=None) -> dict:
    auc = claims.auc(table.label, table.prob)
    acc = float(((table.decision >= 0.5).astype(int) == table.label).mean()) if accuracy is None else accuracy
    m = {"video": {"roc_auc": auc, "accuracy": acc}, "video_ci": {"roc_auc": [auc - 0.1, min(auc + 0.1, 1.0)],
                                                                  "accuracy": [acc - 0.1, acc + 0.1]},
         "confusion": [[N_FAMILIES, 0], [0, N_FAMILIES]], "threshold": 0.5, "test_videos": len(table)}
    if seed_aucs is not None:
        runs = [{"seed": s, "roc_auc": a, "accuracy": acc} for s, a in enumerate([auc, *seed_aucs])]
        m["seeds"] = {"runs": runs, "spread": {}}
    return m


def results(strong_seeds=None, weak_seeds=None) -> Results:
    rng = np.random.default_rng(1)
    strong = videos(rng.uniform(0.0, 0.4, N_FAMILIES), rng.uniform(0.6, 1.0, N_FAMILIES))  # AUC 1
    weak = videos(rng.uniform(0.0, 1.0, N_FAMILIES), rng.uniform(0.0, 1.0, N_FAMILIES))  # AUC near 0.5
    return Results({"strong": metrics(strong, strong_seeds), "weak": metrics(weak, weak_seeds)},
                   {"strong": strong, "weak": weak}, n_boot=300)


def test_a_model_that_ranks_every_video_beats_one_that_guesses_over_three_seeds():
    r = results(strong_seeds=[0.97, 0.99], weak_seeds=[0.55, 0.48])
    e = claims.auc_difference(r, "strong", "weak")
    assert e.effect == pytest.approx(1 - claims.auc(r.videos["weak"].label, r.videos["weak"].prob))
    assert e.low > 0 and len(e.seeds) == 3
    assert (decide(e).verdict, decide(e).seeds_text) == ("holds", "3/3")
    reverse = decide(claims.auc_difference(r, "weak", "strong"))
    assert (reverse.verdict, reverse.seeds_text) == ("contradicted", "3/3")


def test_a_seed_where_the_weaker_model_wins_withholds_the_verdict():
    r = results(strong_seeds=[0.97, 0.60], weak_seeds=[0.55, 0.70])  # seed 2: weak 0.70 > strong 0.60
    v = decide(claims.auc_difference(r, "strong", "weak"))
    assert (v.verdict, v.seeds_text) == ("not shown", "2/3")


def test_metrics_without_seeds_count_as_one_seed():
    r = results()  # no "seeds" key: metrics written before seeds were kept
    v = decide(claims.auc_difference(r, "strong", "weak"))
    assert (v.verdict, v.seeds_text) == ("holds", "1/1")


def test_a_model_missing_leaves_its_claims_not_shown():
    r = results()
    assert decide(claims.auc_difference(r, "strong", "absent")).verdict == "not shown"
    decided = claims.decide_all(r)  # the real claims name models this study lacks
    assert {d.verdict.verdict for d in decided} <= {"not shown", "not tested"}


def test_a_random_scorer_is_at_chance_and_a_perfect_one_is_not():
    rng = np.random.default_rng(4)
    n = 200  # 400 videos: enough for the 90 % interval to fit inside 0.5 ± 0.1
    fam = np.repeat([f"o{i}" for i in range(n)], 2)
    labels = np.tile([0, 1], n)
    tables = {"guess": pd.DataFrame({"video": [f"v{i}" for i in range(2 * n)], "family": fam, "label": labels,
                                     "prob": rng.random(2 * n), "split": "test"}),
              "perfect": pd.DataFrame({"video": [f"v{i}" for i in range(2 * n)], "family": fam, "label": labels,
                                       "prob": labels * 0.5 + rng.random(2 * n) * 0.4, "split": "test"})}
    for t in tables.values():
        t["decision"] = t.prob
    r = Results({k: metrics(t) for k, t in tables.items()}, tables, n_boot=300)
    guess = claims.auc_at_chance(r, "guess")
    assert guess.tost[0] > 0.4 and guess.tost[1] < 0.6 and guess.tost[1] - guess.tost[0] < guess.high - guess.low
    assert decide(guess).verdict == "holds" and "BCa" in guess.method and "TOST" in guess.method
    perfect = decide(claims.auc_at_chance(r, "perfect"))
    assert perfect.verdict == "contradicted"


def test_a_model_that_calls_every_video_fake_sits_at_the_class_split():
    table = videos(np.linspace(0.6, 0.9, N_FAMILIES), np.linspace(0.6, 0.9, N_FAMILIES))
    table = pd.concat([table, table[table.label == 1].assign(video=lambda t: "g" + t.video)], ignore_index=True)
    m = metrics(table)  # 60 FAKE, 30 REAL: every video called FAKE, accuracy = the majority rate on every draw
    m["confusion"] = [[0, 30], [0, 60]]
    assert claims.majority_rate(m) == pytest.approx(2 / 3)
    r = Results({"fake": m}, {"fake": table}, n_boot=200)
    e = claims.accuracy_over_majority(r, "fake")
    assert (e.effect, e.low, e.high, e.tost) == (0.0, 0.0, 0.0, (0.0, 0.0))
    assert decide(e).verdict == "holds"


def frames_for(table: pd.DataFrame, correct_per_video: int, num_frames: int = 4) -> pd.DataFrame:
    """Frames whose first ``correct_per_video`` of ``num_frames`` are called right, the rest wrong."""
    rows = []
    for v in table.itertuples():
        for i in range(num_frames):
            right = i < correct_per_video
            rows.append({"split": "test", "video": v.video, "family": v.family, "position": i, "label": v.label,
                         "prob": float(v.label if right else 1 - v.label)})
    return pd.DataFrame(rows)


def test_video_accuracy_above_frame_accuracy_contradicts_the_drop():
    r = results()
    r.frames["strong"] = frames_for(r.videos["strong"], 3)  # 3 of 4 frames right: frame accuracy 0.75
    e = claims.frame_to_video_accuracy(r, "strong")  # every video right at 0.5: video accuracy 1.0
    assert e.effect == pytest.approx(0.25) and e.low == pytest.approx(0.25)  # no family varies: all are alike
    v = decide(e)
    assert (v.verdict, v.seeds_text) == ("contradicted", "1/1") and "seed 0 only" in v.why


def test_flow_adds_frame_auc_when_the_two_stream_frames_rank_better():
    r = results()
    r.frames["good"] = frames_for(r.videos["strong"], 4)  # every frame right: frame AUC 1
    r.frames["half"] = frames_for(r.videos["strong"], 2)  # half of the frames wrong
    e = claims.frame_auc_difference(r, "good", "half")
    assert e.effect > 0.4 and e.low > 0
    assert decide(e).verdict == "holds"
    assert decide(claims.frame_auc(r, "half")).verdict == "not shown"  # frame AUC 0.5 on the nose
    assert e.method.startswith("paired cluster bootstrap BCa")


def test_the_baseline_detects_frames_when_its_frame_accuracy_reaches_the_papers():
    r = results()
    r.frames["baseline"] = frames_for(r.videos["strong"], 4)  # every frame right: 1.0 reaches 0.97
    assert decide(claims.frame_accuracy(r, "baseline")).verdict == "holds"
    r.frames["baseline"] = frames_for(r.videos["strong"], 3)  # 0.75 on every draw: wholly below 0.97
    e = claims.frame_accuracy(r, "baseline")
    assert e.effect == pytest.approx(0.75) and e.kind == "reaches"
    assert (decide(e).verdict, decide(e).seeds_text) == ("contradicted", "1/1")


# ------------------------------------------------------------------------------------------ from files on disk


def write_study(root, seeds: int = 3) -> None:
    """The five models' metrics and predictions under ``root``, as the detector stages write them."""
    rng = np.random.default_rng(2)
    (root / "metrics").mkdir(parents=True)
    for k, name in enumerate(("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d")):
        spread = 0.1 * (k + 1)
        table = videos(rng.uniform(0, 0.5 + spread, N_FAMILIES), rng.uniform(0.5 - spread, 1, N_FAMILIES))
        m = metrics(table, seed_aucs=list(rng.uniform(0.5, 1.0, seeds - 1)) if seeds > 1 else None)
        out = root / "artifacts" / "predictions" / name
        out.mkdir(parents=True)
        table.to_csv(out / "videos.csv", index=False)
        if name in ("baseline", "two_stream_frame"):
            m["frame"] = {"accuracy": 0.8, "roc_auc": 0.9}
            frames_for(table, 3).drop(columns="family").to_csv(out / "frames.csv", index=False)
        (root / "metrics" / f"{name}.json").write_text(json.dumps(m))


@pytest.mark.parametrize("seeds", [1, 3])
def test_the_chapter_tables_from_a_study_on_disk(tmp_path, seeds):
    write_study(tmp_path, seeds)
    r = claims.load(tmp_path, n_boot=100)
    assert set(r.frames) == {"baseline", "two_stream_frame"} and "family" in r.frames["baseline"]
    decided = claims.decide_all(r)
    table = claims.verdict_table(decided)
    assert list(table.index) == [c.short for c in claims.CLAIMS]
    assert set(table.verdict) <= set(claims.VERDICTS)
    tested = table[table.verdict != "not tested"]
    assert all(s.endswith(f"/{seeds}") or s.endswith("/1") for s in tested["seeds agreeing"])
    assert claims.seed_counts(r.metrics) == (seeds, seeds)
    values = claims.glue_values(decided, r)
    assert values["n_claims"] == len(claims.CLAIMS)
    assert sum(values[f"n_{v.replace(' ', '_')}"] for v in claims.VERDICTS) == len(claims.CLAIMS)
    for c in claims.CLAIMS:
        assert {f"{c.id}_verdict", f"{c.id}_seeds", f"{c.id}_evidence", f"{c.id}_why"} <= set(values)
    assert claims.verdict_sentence(decided).startswith(f"Of the paper's {len(claims.CLAIMS)} findings")
    seeds_shown = claims.seed_table(r.metrics)
    assert (seeds_shown.seeds == seeds).all() and "±" in seeds_shown.iloc[0, 2]
    assert values["seeds_text"] == ("1 seed" if seeds == 1 else f"{seeds} seeds")
    assert "why" in claims.verdict_table(decided, why=True)
    shown = table[table.verdict != "not tested"]
    assert shown["interval method"].str.contains("BCa").all()  # every interval names its method
    assert {"decided by", "detectable effect (80% power)"} <= set(table.columns)
    for c in claims.CLAIMS:
        assert {f"{c.id}_method", f"{c.id}_detectable", f"{c.id}_data", f"{c.id}_cites"} <= set(values)


def test_every_claim_says_on_which_data_it_was_decided_and_cites_the_chapters_bearing_on_it():
    table = claims.data_table(claims.CLAIMS)
    assert table.notna().all().all() and (table["decided on"].str.len() > 0).all()
    by_id = {c.id: c for c in claims.CLAIMS}
    for temporal in ("flow_carries_temporal_signal", "two_stream_frame_beats_baseline", "whole_video_beats_per_frame",
                     "cnn3d_at_prior_auc"):
        assert "12" in by_id[temporal].cites, temporal
    assert "09" in by_id["two_stream_video_beats_cnn3d"].cites
    flow = table.loc["optical flow adds signal within each frame", "also bearing on it"]
    assert "chapter 12 (12_spatial_temporal)" in flow
    assert all(c.can and c.cannot for c in claims.CLAIMS)


def test_every_claim_is_stated_with_its_place_test_and_dfdc_condition():
    table = claims.statements()
    assert len(table) == len(claims.CLAIMS) == len({c.id for c in claims.CLAIMS})
    for c in claims.CLAIMS:
        assert c.where and c.words and c.test and c.dfdc, c.id
    ids = {c.id for c in claims.CLAIMS}
    for needed in ("two_stream_frame_beats_baseline", "two_stream_video_beats_baseline", "whole_video_beats_per_frame",
                   "frame_to_video_drop_baseline", "cnn_rnn_at_prior_auc", "cnn3d_at_prior_auc",
                   "flow_carries_temporal_signal"):
        assert needed in ids


def test_the_published_context_cites_a_source_and_protocol_for_every_number():
    table = claims.published_context()
    assert {"detector", "trained → tested", "metric", "value", "protocol", "source"} <= set(table.columns)
    assert (table.source.str.len() > 0).all() and (table.protocol.str.len() > 0).all()
    values = " ".join(table.value)
    for number in ("0.42798", "0.6518", "0.636", "0.7301", "0.951"):  # REFERENCES.md: winner, black-box, DFB, SBI, ViT
        assert number in values


def test_the_verdicts_file_holds_every_claim_with_its_interval_and_method(tmp_path):
    from dfd_utils.chapters.claims import CLAIMS, Decided, Evidence, Verdict, write_verdicts

    evidence = Evidence("video AUC, a - b", 0.1234567, 0.05, 0.2, (0.1, 0.12), 1, method="paired BCa")
    decided = [Decided(CLAIMS[0], evidence, Verdict("holds", 2, 2, "why")),
               Decided(CLAIMS[1], None, Verdict("not tested", 0, 0, "qualitative"))]
    record = write_verdicts(tmp_path / "claims.json", decided)
    assert record[CLAIMS[0].id] == {"verdict": "holds", "seeds_agree": 2, "seeds": 2, "effect": 0.123457,
                                    "low": 0.05, "high": 0.2, "method": "paired BCa"}
    assert record[CLAIMS[1].id] == {"verdict": "not tested", "seeds_agree": 0, "seeds": 0}
    import json

    assert json.loads((tmp_path / "claims.json").read_text()) == record
