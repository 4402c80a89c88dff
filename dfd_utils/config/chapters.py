"""Chapter 00's and chapter 13's settings (``difficulty``, ``frames_per_video``), checked like every section.

Kept apart from :mod:`dfd_utils.config` (which imports them: ``from dfd_utils.config import
DifficultyConfig`` keeps working) so that each module stays short.
"""

from __future__ import annotations

from dataclasses import dataclass

from dfd_utils.config.checks import check_range


@dataclass(frozen=True)
class DifficultyConfig:
    """Chapter 00: how strong the synthetic fakes' artifacts are, set from the data alone (no model, no training).

    Each kind of artifact gets its own strength: the spatial knobs (seam, colour and
    resolution mismatch) and the temporal ones (jitter, flicker). A strength is the
    one of ``strengths`` whose measured change inside the face is nearest ``share`` of
    what changes naturally there between two sampled frames of the original (pixels
    for the spatial knobs, Farneback flow for the temporal ones):
    :mod:`dfd_utils.chapters.difficulty`.
    """

    strengths: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0)
    num_videos: int = 12  # fakes measured per strength (with their originals), rendered at the study's size
    share: float = 0.25  # the rule's target: the artifact's change as this share of the natural change

    def __post_init__(self):
        object.__setattr__(self, "strengths", tuple(self.strengths))
        if not self.strengths or len(set(self.strengths)) != len(self.strengths):
            raise ValueError(f"strengths must list distinct values, got {list(self.strengths)}")
        for s in self.strengths:
            check_range("strengths", s, 0, 1, low_open=True)
        check_range("num_videos", self.num_videos, 1, kind=int)
        check_range("share", self.share, 0, 1, low_open=True)


PER_FRAME_MODELS = ("baseline", "two_stream_frame")  # the models that score each frame, the video by the mean


@dataclass(frozen=True)
class FramesPerVideoConfig:
    """Chapter 13: the per-frame models' test video AUC with fewer or more sampled frames (beyond the paper)."""

    counts: tuple[int, ...] = (4, 8, 16, 32)  # frames sampled per test video, each count directly (sample_indices)
    models: tuple[str, ...] = PER_FRAME_MODELS  # checkpoints of chapters 04 and 05, scored as they are

    def __post_init__(self):
        object.__setattr__(self, "counts", tuple(self.counts))
        object.__setattr__(self, "models", tuple(self.models))
        if not self.counts or list(self.counts) != sorted(set(self.counts)):
            raise ValueError(f"counts must list distinct frame counts in increasing order, got {list(self.counts)}")
        for count in self.counts:
            check_range("counts", count, 2, 512, kind=int)  # the flow of two-stream needs two frames
        unknown = sorted(set(self.models) - set(PER_FRAME_MODELS))
        if unknown or not self.models or len(set(self.models)) != len(self.models):
            raise ValueError(f"models must name distinct per-frame models of {', '.join(PER_FRAME_MODELS)}, "
                             f"got {list(self.models)}")
