"""Stage 01 (notebook 01): the DFDC-format subset from the chosen source.

Takes the plain dictionaries of ``params.yaml`` (so DVC, papermill and the tests pass
the same values) and returns what the notebook shows.
"""

from __future__ import annotations

from pathlib import Path

from dfd_utils.config import data_config
from dfd_utils.io import worker_count
from dfd_utils.lock import writing
from dfd_utils.paths import Paths, project_root
from dfd_utils.sources import dfdc, faces, kaggle
from dfd_utils.sources.synthetic import generate


def make_subset(data: dict, root: str | Path = ".", seed: int = 0, workers: int = 0,
                donors: tuple[str | Path, ...] = ()) -> dict:
    """Stage 01: the DFDC-format subset (mp4 + metadata.json + checksums.json) from the chosen source.

    ``donors``: other study roots; a synthetic clip one of their subsets made by the same stamp is linked.
    """
    paths = Paths.at(root)
    cfg = data_config(data)
    with writing(paths.subset):
        if cfg.source == "synthetic":
            return generate(cfg.generator(seed), paths.subset, workers=worker_count(workers),
                            donors=tuple(Paths.at(d).subset for d in donors))
        if cfg.source == "faces":
            return faces.generate(cfg.generator(seed), paths.subset)
        folder = Path(cfg.dfdc_path or paths.external / "dfdc")
        folder = folder if folder.is_absolute() else project_root() / folder
        if cfg.source == "kaggle":
            folder = kaggle.download(paths.external / "kaggle")
        metadata, _ = dfdc.select_subset(folder, paths.subset, cfg.num_videos, cfg.fake_share, seed)
        return metadata
