"""Where every stage reads and writes, relative to one ``root``.

The DVC pipeline runs with ``root="."``; the notebooks' defaults (the smoke
profile that the tests run) use ``root="build/smoke"``, so tests never touch the
study's own artifacts. Relative roots resolve against the project folder, so a
notebook finds the same files whatever its working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``pyproject.toml`` and ``dvc.yaml`` (this checkout)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "dfd_utils").is_dir():
            return folder
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path = ".") -> Paths:
        root = Path(root)
        return cls(root if root.is_absolute() else project_root() / root)

    @property
    def external(self) -> Path:  # hand-made inputs (a DFDC copy, downloads): tracked by data.dvc
        return self.root / "data"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def subset(self) -> Path:  # 01: mp4 + metadata.json
        return self.artifacts / "subset"

    @property
    def frames(self) -> Path:  # 02: jpg + labels.json + manifest.csv
        return self.artifacts / "frames"

    @property
    def splits(self) -> Path:  # 02
        return self.artifacts / "splits.json"

    @property
    def flow(self) -> Path:  # 03: (16, 2, H, W) float16 per video
        return self.artifacts / "flow"

    @property
    def models(self) -> Path:  # 04-07: best checkpoints
        return self.artifacts / "models"

    @property
    def runs(self) -> Path:  # 04-07: resumable training state (last checkpoint)
        return self.artifacts / "runs"

    @property
    def predictions(self) -> Path:  # 04-07: frame and video CSVs
        return self.artifacts / "predictions"

    @property
    def figures(self) -> Path:
        return self.artifacts / "figures"

    @property
    def metrics(self) -> Path:  # 04-08: JSON metrics (dvc metrics show)
        return self.root / "metrics"

    @property
    def dvclive(self) -> Path:
        return self.root / "dvclive"
