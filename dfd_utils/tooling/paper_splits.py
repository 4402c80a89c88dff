"""The paper profile's split sizes, by the study's own splitter (``make paper-check`` prints them).

The paper split its 825 clips 80/10/10 into 660 / 82 / 83 videos (section 3.1). This plans
the resolved ``paper`` profile's clips as the synthetic source plans them and splits them as
stage 02 does, so the profile's shares are checked against the paper's counts, not just stated.
"""

from __future__ import annotations

from pathlib import Path

PAPER = "paper"  # the profile whose split sizes the check reports
PAPER_SIZES = {"train": 660, "val": 82, "test": 83}  # the paper's section 3.1, of 825 videos


def split_sizes(name: str = PAPER) -> dict:
    """The videos per split that profile ``name`` gives its ``data.num_videos`` clips, by the study's own splitter.

    The clips are planned as the synthetic source plans them (``data.fake_share`` FAKE, each fake
    under an original, one or two fakes per original) and split as stage 02 splits them
    (``splits`` of the resolved profile, grouped by family, the profile's seed). Returns
    ``{"clips", "fake", "families", "train", "val", "test", "families_crossing"}``; the last
    counts the families found in more than one split (0 when the split is grouped).
    """
    from dfd_utils import profiles
    from dfd_utils.config import parse
    from dfd_utils.sources.metadata import VideoRecord
    from dfd_utils.sources.synthetic import SyntheticConfig, plan_dataset
    from dfd_utils.splits import SPLITS, split_videos

    study = parse(profiles.resolve(name), f"profiles/{name}.yaml")
    plans = plan_dataset(SyntheticConfig(num_videos=study.data.num_videos, fake_share=study.data.fake_share,
                                         seed=study.seed))
    records = [VideoRecord(p.name, Path(p.name), int(p.label == "FAKE"), p.original) for p in plans]
    assignment = split_videos(records, study.splits.fractions, study.seed)
    where: dict[str, set[str]] = {}
    for r in records:
        where.setdefault(r.family, set()).add(assignment[r.name])
    counts = {s: sum(1 for r in records if assignment[r.name] == s) for s in SPLITS}
    return {"profile": name, "clips": len(records), "fake": sum(r.label for r in records), "families": len(where),
            **counts, "families_crossing": sum(len(s) > 1 for s in where.values())}


def split_line(sizes: dict) -> str:
    """One line of :func:`split_sizes`, beside the paper's."""
    paper = " / ".join(str(PAPER_SIZES[s]) for s in ("train", "val", "test"))
    return (f"{sizes['profile']} profile splits of {sizes['clips']} clips ({sizes['fake']} FAKE, {sizes['families']} "
            f"families, {sizes['families_crossing']} across splits): train {sizes['train']} / val {sizes['val']} / "
            f"test {sizes['test']} (the paper: {paper})")
