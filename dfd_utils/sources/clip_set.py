"""What the two generators of a DFDC-format set share: its settings and its output folder.

``synthetic`` renders its clips and ``faces`` cuts them from real recordings, but
both make ``num_videos`` clips of one size, rate and length, a ``fake_share`` of them
fakes drawn with the same artifact model (:mod:`dfd_utils.sources.artifacts`), and
both keep their folder resumable through a :class:`~dfd_utils.ledger.Ledger`:
a clip is remade only when what reaches its pixels changed.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from pathlib import Path

from dfd_utils.config.data import ARTIFACT_KNOBS, ClipSetConfig  # noqa: F401 (re-exported: a set's settings)
from dfd_utils.io import write_json_atomic
from dfd_utils.ledger import Ledger
from dfd_utils.lock import held_for_reading
from dfd_utils.provenance import Redone


def render_settings(cfg: ClipSetConfig, planned: tuple[str, ...], fake: bool) -> dict:
    """The settings that reach one clip's pixels, for its stamp: ``cfg`` less what the plan holds.

    A real clip is drawn without the artifact model, so the knobs do not reach it:
    changing ``seam`` remakes the fakes and keeps the reals (and their frames and flow).
    """
    return {k: v for k, v in asdict(cfg).items() if k not in planned and (fake or k not in ARTIFACT_KNOBS)}


class ClipFolder:
    """A generator's output folder: which planned clips must be made, and the DFDC index written at the end.

    ``stamps`` (name -> stamp) is the plan: clips of an earlier plan are removed, a
    clip whose stored stamp matches is kept, one that a ``donors`` folder made by the same
    stamp is linked from there (``stale`` holds the others).
    """

    def __init__(self, folder: str | Path, stamps: dict[str, dict], what: str, donors: tuple[Path, ...] = ()):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stamps = stamps
        self.ledger = Ledger(self.folder)
        self.redone = Redone(what)
        with contextlib.ExitStack() as held:  # a donor being written is left out, never read half made
            donor_ledgers = tuple(Ledger(d) for d in held_for_reading(held, donors) if (d / Ledger.FILE).is_file())
            self.stale = set(self.ledger.to_make(stamps, self.redone, donor_ledgers))

    def made(self, name: str) -> None:
        """Record that clip ``name`` was written, by the code and settings of its stamp."""
        self.ledger.record(name, self.stamps[name])

    def drop(self, name: str) -> None:
        """A planned clip that cannot be made: no record, and no older file of that name."""
        self.ledger.forget(name)
        (self.folder / name).unlink(missing_ok=True)

    def close(self, metadata: dict, legacy: str) -> dict:
        """Log what was redone, write ``checksums.json`` and ``metadata.json``; remove the ``legacy`` stamp file."""
        self.redone.log()
        self.ledger.write_checksums(metadata)
        write_json_atomic(self.folder / "metadata.json", metadata)
        (self.folder / legacy).unlink(missing_ok=True)  # the folder-wide stamp of older versions
        return metadata
