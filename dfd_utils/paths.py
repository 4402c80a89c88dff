"""Where every stage reads and writes, relative to one ``root``.

The DVC pipeline and a notebook opened by hand run with ``root="."`` (the study's
own files); the tests run the smoke profile under ``root="build/smoke"``, so they
never touch the study's artifacts. Relative roots resolve against the project
folder, so a notebook finds the same files whatever its working directory.
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


def shown(path: str | Path) -> str:
    """``path`` as a reader should see it: relative to the project (no machine's home folder in the book)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(project_root().resolve()))
    except ValueError:
        return str(path)


MADE_BY = {  # what makes each kind of input: the notebook and the DVC stage to run when it is missing
    "subset": ("01_download_subset", "download_subset"),
    "frames": ("02_extract_frames", "extract_frames"),
    "flow": ("03_optical_flow", "optical_flow"),
}


def require(path: str | Path, kind: str) -> Path:
    """``path``, or a FileNotFoundError that names the stage that makes it (a notebook opened before its inputs)."""
    path = Path(path)
    if not path.exists():
        notebook, stage = MADE_BY[kind]
        raise FileNotFoundError(f"{path}: not made yet; run notebook {notebook} first "
                                f"(or `dvc repro {stage}`, or `make repro` for the whole study)")
    return path


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
    def features(self) -> Path:  # 04-09: a frozen trunk's features, one file per key (dfd_utils.features)
        return self.artifacts / "features"

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
