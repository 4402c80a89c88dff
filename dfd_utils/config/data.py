"""The data sections of ``params.yaml``: the generated sets' knobs and the split shares.

Settings only (the standard library and the range checks). The generators
(:mod:`dfd_utils.sources.synthetic`, :mod:`dfd_utils.sources.faces`) and the artifact
model (:mod:`dfd_utils.sources.artifacts`) read these; reading the configuration loads
none of them, so an edit to a generator reruns only the stages that generate data.
The classes keep their fields in the order the generators' stamps record them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from dfd_utils.config.checks import check_range


@dataclass(frozen=True)
class Artifacts:
    """The six artifact knobs of a fake, each in 0..1; the generators' configs inherit them (flat YAML keys)."""

    seam: float = 0.5  # 0: mask edge feathered invisibly .. 1: hard visible edge
    color_mismatch: float = 0.5  # 0: patch colour matched to the target .. 1: the patch's own colour
    resolution_mismatch: float = 0.5  # 0: none .. 1: patch at 1/MAX_DOWNSCALE resolution
    jitter: float = 0.5  # per-frame misalignment, in units of JITTER_STEP face widths (standard deviation)
    flicker: float = 0.5  # per-frame drop of the blend weight, up to this share
    unaltered_share: float = 0.1  # share of a fake's frames left unaltered

    def __post_init__(self):
        for name in ARTIFACT_KNOBS:
            check_range(name, getattr(self, name), 0, 1)


ARTIFACT_KNOBS = tuple(f.name for f in fields(Artifacts))  # a real clip is drawn without them



@dataclass(frozen=True)
class ClipSetConfig(Artifacts):
    """A generated set: the artifact knobs, then its size and clips; defaults are the paper's DFDC subset."""

    num_videos: int = 825  # the paper's subset size
    fake_share: float = 0.6  # the paper's subset was about 60 % FAKE
    height: int = 1080  # DFDC's horizontal clips are 1080x1920
    width: int = 1920
    fps: float = 30.0
    duration_s: float = 10.0
    seed: int = 0

    MIN_VIDEOS: ClassVar[int] = 2  # one REAL and one FAKE

    def __post_init__(self):
        super().__post_init__()
        check_range("num_videos", self.num_videos, self.MIN_VIDEOS, kind=int)
        check_range("fake_share", self.fake_share, 0, 1, high_open=True)  # at least one REAL

    @property
    def num_frames(self) -> int:
        return max(int(round(self.fps * self.duration_s)), 1)


@dataclass(frozen=True)
class SyntheticConfig(ClipSetConfig):
    """The synthetic set's settings: DFDC's size and rate and the artifact knobs (:class:`ClipSetConfig`).

    Three more knobs make the fakes of chapter 12's controlled families (:mod:`dfd_utils.chapters.families`):

    * ``swap``: whether a fake pastes another identity's face (the overlay); false, the fake
      keeps its original's own face and only the head knobs below make it a fake.
    * ``head_jitter`` and ``head_flicker`` (0..1): the whole head (face, hair and all) is
      drawn each frame ``head_jitter * JITTER_STEP`` face widths off its path (a standard
      deviation) and with its brightness scaled by up to ``+-head_flicker * HEAD_GAIN``.
      Every frame on its own is then a clean render of the scene (a head a few pixels
      elsewhere, a little brighter or darker: a frame some real video could hold); only
      across frames does the head shake and flicker against the smoothly panning background.
      The patch knobs ``jitter`` and ``flicker`` cannot do this: the patch moves but its
      mask does not, and a flickering blend shows a faint double face, both visible in one frame.
    """

    swap: bool = True
    head_jitter: float = 0.0
    head_flicker: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        check_range("head_jitter", self.head_jitter, 0, 1)
        check_range("head_flicker", self.head_flicker, 0, 1)
        if not isinstance(self.swap, bool):
            raise ValueError(f"swap must be true or false, got {self.swap!r}")


FAKE_ONLY = ("swap", "head_jitter", "head_flicker")  # settings that reach only a fake's pixels



@dataclass(frozen=True)
class FacesConfig(ClipSetConfig):
    """The ``faces`` set's settings: a small set of webcam-sized clips, and how its fakes are split by type."""

    num_videos: int = 120
    height: int = 216  # output size: DFDC's 16:9 landscape, at 1/5 of 1080x1920
    width: int = 384
    fps: float = 15.0
    duration_s: float = 2.0
    self_blended_share: float = 0.5  # share of fakes that are self-blended (the rest: overlays)
    min_clips_per_identity: int = 3  # short sources (carphone: 4 s) give overlapping windows

    MIN_VIDEOS: ClassVar[int] = 6  # a REAL and a FAKE in each split

    def __post_init__(self):
        super().__post_init__()
        check_range("self_blended_share", self.self_blended_share, 0, 1)
        check_range("min_clips_per_identity", self.min_clips_per_identity, 1, kind=int)


SPLITS = ("train", "val", "test")



@dataclass(frozen=True)
class SplitConfig:
    """Shares of the videos per split (the paper: 80/10/10)."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def __post_init__(self):
        for name in SPLITS:
            check_range(name, getattr(self, name), 0, 1, low_open=True, high_open=True)
        if abs(self.train + self.val + self.test - 1) > 1e-6:
            total = self.train + self.val + self.test
            raise ValueError(f"the shares must sum to 1, got train + val + test = {total:g}")

    @property
    def fractions(self) -> tuple[float, float, float]:
        return (self.train, self.val, self.test)

    def check_count(self, num_videos: int, where: str = "splits") -> None:
        """Every split must get at least one video of ``num_videos``."""
        smallest = min(self.fractions) * num_videos
        if smallest < 1:
            raise ValueError(f"{where}: {num_videos} videos at {self.train:g}/{self.val:g}/{self.test:g} leave a "
                             f"split empty ({smallest:.2f} videos); raise data.num_videos or the smallest share")
