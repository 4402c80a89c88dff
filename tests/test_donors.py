"""Linking what another folder made by the same stamp: clips, frames and flow (chapters 12 and 13).

The promise: a linked unit is the very file the folder would have made itself (same
stamp, so same bytes); nothing is linked whose stamp differs, no clip whose donor file is
not what the donor's ledger recorded (frames and flow are trusted on their stamps, as a
folder trusts its own), nothing from a folder being written; and a later rewrite of the
donor never reaches the linked copy (writers replace files, never write into them).
"""

import json
import os
from dataclasses import replace

import numpy as np

from conftest import SMALL
from dfd_utils.flow import FlowConfig, compute_all, flow_path
from dfd_utils.frame_store import FrameConfig, frame_name, video_stem
from dfd_utils.frames import extract_all
from dfd_utils.lock import writing
from dfd_utils.sources.metadata import load_subset
from dfd_utils.sources.synthetic import generate, plan_dataset

SET = replace(SMALL, num_videos=6)
CFG = FrameConfig(height=36, width=64, size_3d=32, num_frames=4)


def _same_file(a, b) -> bool:
    return os.stat(a).st_ino == os.stat(b).st_ino


def test_clips_made_by_the_same_stamp_are_linked_and_the_rest_rendered(tmp_path, caplog):
    spatial = tmp_path / "spatial"
    generate(SET, spatial, workers=1)
    temporal_cfg = replace(SET, swap=False, head_jitter=1.0)  # fake-only knobs: the reals' stamps are unchanged
    alone = generate(temporal_cfg, tmp_path / "alone", workers=1)
    with caplog.at_level("INFO"):
        linked = generate(temporal_cfg, tmp_path / "temporal", workers=1, donors=(spatial,))
    assert linked == alone
    reals = [p.name for p in plan_dataset(SET) if p.label == "REAL"]
    fakes = [p.name for p in plan_dataset(SET) if p.label == "FAKE"]
    for name in reals:  # the donor's file itself, and the bytes the folder would have rendered
        assert _same_file(spatial / name, tmp_path / "temporal" / name)
        assert (tmp_path / "temporal" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()
    for name in fakes:  # other stamps: rendered here, as alone
        assert not _same_file(spatial / name, tmp_path / "temporal" / name)
        assert (tmp_path / "temporal" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()
    assert f"{len(reals)} linked" in caplog.text
    ledger = json.loads((tmp_path / "temporal" / "provenance.json").read_text())
    assert set(ledger) >= set(reals)  # recorded: a rerun reuses them as its own
    again = generate(temporal_cfg, tmp_path / "temporal", workers=1, donors=(spatial,))
    assert again == alone


def test_a_donor_file_changed_by_hand_is_never_linked(tmp_path):
    spatial = tmp_path / "spatial"
    generate(SET, spatial, workers=1)
    real = next(p.name for p in plan_dataset(SET) if p.label == "REAL")
    (spatial / real).write_bytes(b"not a video")  # its ledger still records the rendered clip
    generate(SET, tmp_path / "other", workers=1, donors=(spatial,))
    assert not _same_file(spatial / real, tmp_path / "other" / real)
    assert (tmp_path / "other" / real).read_bytes() != b"not a video"


def test_frames_and_flow_with_the_same_stamp_are_linked_others_made(synthetic_subset, tmp_path):
    records, _ = load_subset(synthetic_subset)
    records = records[:4]
    donor, here, alone = tmp_path / "donor", tmp_path / "here", tmp_path / "alone"
    extract_all(records[:3], donor / "frames", CFG, workers=1)
    compute_all(sorted(r.name for r in records[:3]), donor / "frames", donor / "flow", FlowConfig(), workers=1)
    done, _ = extract_all(records, here / "frames", CFG, workers=1, donors=(donor / "frames",))
    compute_all(sorted(done), here / "frames", here / "flow", FlowConfig(), workers=1, donors=(donor / "flow",))
    extract_all(records, alone / "frames", CFG, workers=1)
    compute_all(sorted(done), alone / "frames", alone / "flow", FlowConfig(), workers=1)
    for i, r in enumerate(records):
        stem = video_stem(r.name)
        frame = here / "frames" / stem / frame_name(0)
        assert (i < 3 and _same_file(frame, donor / "frames" / stem / frame_name(0))) or i == 3
        assert frame.read_bytes() == (alone / "frames" / stem / frame_name(0)).read_bytes()
        flow = flow_path(here / "flow", r.name)
        assert (i < 3 and _same_file(flow, flow_path(donor / "flow", r.name))) or i == 3
        assert np.array_equal(np.load(flow), np.load(flow_path(alone / "flow", r.name)))
    other = replace(CFG, jpeg_quality=80)  # another stamp: nothing is linked
    extract_all(records[:1], tmp_path / "q80" / "frames", other, workers=1, donors=(donor / "frames",))
    stem = video_stem(records[0].name)
    assert not _same_file(tmp_path / "q80" / "frames" / stem / frame_name(0), donor / "frames" / stem / frame_name(0))


def test_a_rewritten_donor_leaves_the_linked_copy_as_it_was(tmp_path):
    spatial, temporal = tmp_path / "spatial", tmp_path / "temporal"
    generate(SET, spatial, workers=1)
    generate(replace(SET, swap=False, head_jitter=1.0), temporal, workers=1, donors=(spatial,))
    real = next(p.name for p in plan_dataset(SET) if p.label == "REAL")
    before = (temporal / real).read_bytes()
    generate(replace(SET, height=SET.height + 8), spatial, workers=1)  # every donor clip made anew, other pixels
    assert (spatial / real).read_bytes() != before and (temporal / real).read_bytes() == before
    assert not _same_file(spatial / real, temporal / real)
    stamp = json.loads((temporal / "provenance.json").read_text())[real]
    generate(replace(SET, swap=False, head_jitter=1.0), temporal, workers=1, donors=(spatial,))  # still its own
    assert json.loads((temporal / "provenance.json").read_text())[real] == stamp


def test_nothing_is_linked_from_a_folder_being_written(synthetic_subset, tmp_path):
    records, _ = load_subset(synthetic_subset)
    donor = tmp_path / "donor"
    extract_all(records[:2], donor / "frames", CFG, workers=1)
    compute_all(sorted(r.name for r in records[:2]), donor / "frames", donor / "flow", FlowConfig(), workers=1)
    with writing(donor / "frames"), writing(donor / "flow"):  # stage 02 and 03 running on the donor root
        extract_all(records[:2], tmp_path / "here" / "frames", CFG, workers=1, donors=(donor / "frames",))
        compute_all(sorted(r.name for r in records[:2]), tmp_path / "here" / "frames", tmp_path / "here" / "flow",
                    FlowConfig(), workers=1, donors=(donor / "flow",))
    stem = video_stem(records[0].name)
    assert not _same_file(tmp_path / "here" / "frames" / stem / frame_name(0), donor / "frames" / stem / frame_name(0))
    assert not _same_file(flow_path(tmp_path / "here" / "flow", records[0].name), flow_path(donor / "flow",
                                                                                              records[0].name))
    generate(SET, tmp_path / "spatial", workers=1)
    with writing(tmp_path / "spatial"):
        generate(SET, tmp_path / "other", workers=1, donors=(tmp_path / "spatial",))
    real = next(p.name for p in plan_dataset(SET) if p.label == "REAL")
    assert not _same_file(tmp_path / "spatial" / real, tmp_path / "other" / real)
