"""Score any video with a trained detector: the engine behind ``dfd predict``.

A checkpoint carries everything needed (model, input size, face crop or full frame,
the threshold chosen on validation, the decision rule), so a video is read, sampled,
cropped and resized exactly as the training data was, whatever its resolution or
orientation.

A checkpoint that carries a ``temperature`` (fitted on the validation split when it was
trained: :mod:`dfd_utils.calibration`, chapter 11) has its reported probability of FAKE
calibrated by it. The verdict is not: it compares the checkpoint's score (the share of
FAKE frames, or a whole-video model's own probability) with the threshold that was chosen
on the raw scores, and the frame probabilities stay the model's own.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from dfd_utils.calibration import apply_temperature
from dfd_utils.evaluate import FRAME_RULES, video_scores
from dfd_utils.face_tracking import track_clip
from dfd_utils.flow import video_flow
from dfd_utils.frame_store import FrameConfig
from dfd_utils.frames import model_view
from dfd_utils.models import Detector, load_checkpoint
from dfd_utils.sources.metadata import VIDEO_SUFFIXES
from dfd_utils.video import VideoError, check_decoded, probe, read_sampled_frames


@dataclass
class Prediction:
    path: str
    prob_fake: float | None = None  # probability of FAKE (per-frame models: the mean of frame probabilities),
    # calibrated by the checkpoint's temperature when it carries one
    prob_raw: float | None = None  # the model's own probability when prob_fake is calibrated, else None
    share_fake: float | None = None  # per-frame models: the share of frames with p >= 0.5 (the paper's rule)
    verdict: str | None = None  # "FAKE" | "REAL": the checkpoint's rule (score) against its threshold
    score: float | None = None  # what the verdict thresholds: share_fake under the paper's rule, else prob_fake
    threshold: float | None = None
    frame_probs: list[float] | None = None  # per-frame models
    frames_decoded: int | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


def input_config(payload: dict, checkpoint: str | Path) -> FrameConfig:
    """The frame settings the model was trained on: the checkpoint's ``config.frames`` (older ones: ``input``)."""
    config = payload.get("config")
    values = (config.get("frames") if isinstance(config, dict) else None) or payload.get("input") or {}
    if not isinstance(values, dict):
        raise ValueError(f"{checkpoint}: its frame settings are not a mapping ({type(values).__name__})")
    known = {f.name for f in fields(FrameConfig)}
    try:
        return FrameConfig(**{k: v for k, v in values.items() if k in known})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{checkpoint}: its frame settings cannot be used ({err})") from None


def temperature_of(payload: dict, checkpoint: str | Path) -> float | None:
    """The temperature a checkpoint carries (fitted on validation), or None: older checkpoints have none."""
    t = payload.get("temperature")
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise ValueError(f"{checkpoint}: its temperature must be a finite number > 0, got {t!r}")
    return float(t)


class Predictor:
    def __init__(self, checkpoint: str | Path, threshold: float | None = None):
        self.model, self.payload = load_checkpoint(checkpoint)
        self.model: Detector
        self.frames = input_config(self.payload, checkpoint)
        chosen = threshold if threshold is not None else self.payload.get("threshold", 0.5)
        if not isinstance(chosen, (int, float)) or not math.isfinite(chosen):
            where = "--threshold" if threshold is not None else f"{checkpoint}: its threshold"
            raise ValueError(f"{where} must be a finite number, got {chosen!r}")
        self.threshold = float(chosen)
        self.rule = self.payload.get("rule", "share")  # how frame probabilities become the video's score
        self.temperature = temperature_of(self.payload, checkpoint)  # None: probabilities reported as they are
        if self.model.level == "frame" and self.rule not in FRAME_RULES:
            raise ValueError(f"{checkpoint}: unknown frame-to-video rule {self.rule!r}; expected one of "
                             f"{', '.join(FRAME_RULES)}")

    def _inputs(self, frames: np.ndarray, warnings: list[str] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """RGB frames (T, H, W, 3) -> the model's tensors, cropped and resized as in training."""
        cfg = self.frames
        size = (cfg.size_3d, cfg.size_3d) if self.model.three_d else (cfg.height, cfg.width)
        face = track_clip(frames) if cfg.crop == "face" else None
        if face is not None and face.fallback and warnings is not None:
            warnings.append("no face found: the model trained on face crops sees the full frame")
        small = model_view(frames, *size, face, cfg.crop_margin)  # (T, h, w, 3)
        x = torch.from_numpy(small).permute(0, 3, 1, 2).contiguous()  # (T, 3, h, w) uint8
        flows = torch.from_numpy(video_flow(small)).float() if self.model.uses_flow else None  # (T, 2, h, w)
        return x, flows

    @torch.inference_mode()
    def predict(self, path: str | Path) -> Prediction:
        start = time.perf_counter()
        result = Prediction(str(path), threshold=self.threshold)
        try:
            info = probe(path)
            frames, _, decoded = read_sampled_frames(path, self.frames.num_frames, allow_short=True, info=info)
            check_decoded(path, decoded, info.header_frames)
        except VideoError as err:
            result.error = err.reason
            result.seconds = round(time.perf_counter() - start, 3)
            return result
        result.frames_decoded = decoded
        if decoded < self.frames.num_frames:
            result.warnings.append(f"only {decoded} frames: frames repeated to make {self.frames.num_frames}")
        if frames.shape[1] > frames.shape[2]:
            result.warnings.append("portrait video: resized to the landscape training size")
        x, flows = self._inputs(frames, result.warnings)
        if self.model.level == "frame":
            probs = torch.sigmoid(self.model(x, flows)).numpy()  # (T,)
            result.frame_probs = [round(float(p), 4) for p in probs]
            prob = float(video_scores(probs[None], "mean")[0])  # (1, T) -> one probability
            result.share_fake = round(float(video_scores(probs[None], "share")[0]), 4)
            score = float(video_scores(probs[None], self.rule)[0])  # the rule the threshold was chosen for
        else:
            prob = score = float(torch.sigmoid(self.model(x[None], flows[None] if flows is not None else None))[0])
        if not all(map(math.isfinite, (prob, score, *(result.frame_probs or ())))):
            result.error = "the model gave a non-finite score (NaN or infinity): no verdict"
            result.frame_probs = result.share_fake = None
            result.seconds = round(time.perf_counter() - start, 3)
            return result
        result.prob_fake, result.score = round(prob, 4), round(score, 4)
        if self.temperature is not None:  # the reported probability only: the verdict keeps the raw score
            result.prob_raw = result.prob_fake
            result.prob_fake = round(float(apply_temperature([prob], self.temperature)[0]), 4)
        result.verdict = "FAKE" if score >= self.threshold else "REAL"
        result.seconds = round(time.perf_counter() - start, 3)
        return result


def expand_paths(paths: list[str | Path], recursive: bool = True) -> list[Path]:
    """Files as given (each is tried); folders expand to their video files by extension, sorted.

    Folders are searched recursively unless ``recursive`` is False (DFDC parts nest
    their clips a level down). A DFDC folder holds metadata.json beside the clips:
    that is not a failure, just not a video. A folder with no video is an error.
    """
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in (p.rglob("*") if recursive else p.iterdir())
                           if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in VIDEO_SUFFIXES
                           and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1]))
            if not found:
                hint = "" if recursive else " (--no-recursive: subfolders were not searched)"
                raise FileNotFoundError(f"{p}: no video files found ({', '.join(sorted(VIDEO_SUFFIXES))}){hint}")
            out.extend(found)
        else:
            out.append(p)
    return out
