"""Stage 03 (notebook 03): Farneback optical flow for every extracted video."""

from __future__ import annotations

from pathlib import Path

from dfd_utils.config import build
from dfd_utils.flow import FlowConfig, compute_all
from dfd_utils.io import read_json, worker_count
from dfd_utils.lock import writing
from dfd_utils.paths import Paths, require


def optical_flow(flow: dict, root: str | Path = ".", workers: int = 0, donors: tuple[str | Path, ...] = ()
                 ) -> list[str]:
    """Stage 03: Farneback flow for every extracted video (``donors``: other study roots, as in stage 02)."""
    paths = Paths.at(root)
    cfg = build(FlowConfig, flow, "flow")
    names = sorted(read_json(require(paths.splits, "frames")))
    with writing(paths.flow):
        compute_all(names, paths.frames, paths.flow, cfg, workers=worker_count(workers),
                    donors=tuple(Paths.at(d).flow for d in donors))
    return names
