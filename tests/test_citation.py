"""The research staples at the top level: a licence that matches the package's, a citation that names the paper."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_licence_file_is_the_one_pyproject_declares():
    declared = next(line.split("=", 1)[1].strip().strip('"') for line in
                    (ROOT / "pyproject.toml").read_text().splitlines() if line.startswith("license ="))
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_citation_is_valid_cff_and_cites_the_paper_it_reproduces():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert {"message", "title", "authors", "type"} <= set(cff)
    paper = ROOT.parent / "shared" / "paper" / "deepfake-detection-paper.md"
    (reference,) = cff["references"]
    assert reference["title"] == "Deep Learning Deepfake Detection"
    if paper.is_file():  # the paper's own first line (the shared folder is beside a checkout, not in a clone)
        assert paper.read_text().splitlines()[0].strip() == reference["title"]
    assert [a["family-names"] for a in reference["authors"]] == ["Notshe", "Svoboda", "Xiao"]


def test_every_clip_source_in_the_notices_is_one_the_faces_source_fetches():
    from dfd_utils.sources.face_clips import CLIPS

    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    for clip in CLIPS:
        assert f"`{clip.file}`" in notices, clip.file
