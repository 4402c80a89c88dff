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

import cv2
import numpy as np
import torch

from dfd_utils.calibration import apply_temperature
from dfd_utils.evaluate import FRAME_RULES, video_scores
from dfd_utils.explain import strip_path, write_strip
from dfd_utils.face_tracking import FaceTrack, track_clip
from dfd_utils.flow import video_flow
from dfd_utils.frame_store import FrameConfig
from dfd_utils.frames import model_view
from dfd_utils.models import Detector, load_checkpoint
from dfd_utils.sources.metadata import VIDEO_SUFFIXES
from dfd_utils.video import VideoError, VideoInfo, check_decoded, probe, sample_indices

MAX_FRAME = (7680, 4320)  # 8K: a larger frame is refused with its reason before any is decoded
DECODE_SIDE = 1920  # frames are downscaled while read to at most this longer side (a face crop keeps its detail)


def frame_limit_reason(width: int, height: int, limit: tuple[int, int] | None = None) -> str | None:
    """Why a ``width`` x ``height`` frame is too large for ``dfd predict`` (either orientation), or None."""
    long, short = limit or MAX_FRAME
    if max(width, height) > long or min(width, height) > short:
        return (f"frame {width}x{height} is larger than the {long}x{short} (8K) limit of dfd predict: not decoded "
                "(downscale it first, e.g. ffmpeg -vf scale=1920:-2)")
    return None


def fit_within(frame: np.ndarray, max_side: int) -> np.ndarray:
    """``frame`` area-downscaled so that its longer side is at most ``max_side`` (aspect kept)."""
    h, w = frame.shape[:2]
    if max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _grab_small(path: Path, wanted: set[int], max_side: int) -> tuple[dict[int, np.ndarray], int]:
    """One sequential pass (as :func:`dfd_utils.video.read_sampled_frames`): every frame grabbed, the ``wanted``
    ones retrieved and downscaled at once, so that only frames of at most ``max_side`` are ever held."""
    cap = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    count = 0
    try:
        while cap.grab():
            if count in wanted:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise VideoError(path, f"frame {count} decodes but cannot be retrieved")
                frames[count] = fit_within(frame, max_side)
            count += 1
    finally:
        cap.release()
    return frames, count


def read_small(path: Path, num_samples: int, info: VideoInfo, max_side: int = DECODE_SIDE
               ) -> tuple[np.ndarray, int]:
    """``num_samples`` equally spaced RGB frames (short clips repeat theirs), each downscaled while it is read:
    the sampling of :func:`dfd_utils.video.read_sampled_frames` (``allow_short``), its memory bounded.
    Returns ``(frames, num_decoded)``."""
    header = info.header_frames
    guess = sample_indices(header, num_samples) if header >= num_samples else []
    frames, decoded = _grab_small(path, set(guess), max_side)
    if decoded == 0:
        raise VideoError(path, "no frame could be decoded (corrupt or truncated)")
    indices = ([i * decoded // num_samples for i in range(num_samples)] if decoded < num_samples
               else sample_indices(decoded, num_samples))
    if decoded != header or any(i not in frames for i in indices):
        frames, again = _grab_small(path, set(indices), max_side)  # the header lied: an exact pass
        if again != decoded:
            raise VideoError(path, f"decodes to {decoded} then {again} frames")
    return np.stack([cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB) for i in indices]), decoded


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot be read as a video file before opening it: a broken link, a device, a FIFO; else None."""
    if path.is_symlink() and not path.exists():
        return "a symbolic link that is broken or loops: not read"
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        return f"{kind}: not read"
    return None


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
    face: dict | None = None  # face-crop models: whether a face was found, by which detector, and its box per
    # sampled frame (x, y, w, h in the video's own pixels); full-frame models look for none
    explanation: str | None = None  # --explain: the PNG of the clip's Grad-CAM strip
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
        where = "--threshold" if threshold is not None else f"{checkpoint}: its threshold"
        if isinstance(chosen, bool) or not isinstance(chosen, (int, float)) or not math.isfinite(chosen):
            raise ValueError(f"{where} must be a finite number, got {chosen!r}")
        if not 0 <= chosen <= 1:
            raise ValueError(f"{where} must be within [0, 1] (it is compared with a probability or a share), "
                             f"got {chosen!r}")
        self.threshold = float(chosen)
        self.rule = self.payload.get("rule", "share")  # how frame probabilities become the video's score
        self.temperature = temperature_of(self.payload, checkpoint)  # None: probabilities reported as they are
        self._strips: set[str] = set()  # --explain: the PNG names written so far (a repeated stem gets -2)
        if self.model.level == "frame" and self.rule not in FRAME_RULES:
            raise ValueError(f"{checkpoint}: unknown frame-to-video rule {self.rule!r}; expected one of "
                             f"{', '.join(FRAME_RULES)}")

    def _inputs(self, frames: np.ndarray, face: FaceTrack | None
                ) -> tuple[np.ndarray, torch.Tensor, torch.Tensor | None]:
        """RGB frames (T, H, W, 3) -> what the model sees ``(T, h, w, 3)`` uint8 and its tensors, cropped and
        resized as in training: ``x`` ``(T, 3, h, w)`` uint8 and, for the two-stream models, flow ``(T, 2, h, w)``."""
        cfg = self.frames
        size = (cfg.size_3d, cfg.size_3d) if self.model.three_d else (cfg.height, cfg.width)
        small = model_view(frames, *size, face, cfg.crop_margin)  # (T, h, w, 3)
        x = torch.from_numpy(small).permute(0, 3, 1, 2).contiguous()  # (T, 3, h, w) uint8
        flows = torch.from_numpy(video_flow(small)).float() if self.model.uses_flow else None  # (T, 2, h, w)
        return small, x, flows

    def predict(self, path: str | Path, explain: Path | None = None) -> Prediction:
        """One clip's prediction; whatever goes wrong with this clip is its error, never the other clips'.
        ``explain``: a folder for the clip's Grad-CAM strip (:mod:`dfd_utils.explain`), written once it is scored."""
        start = time.perf_counter()
        try:
            result = self._predict(path, start)
            if explain is not None and result.ok:
                self._explain(result, path, explain)
            return result
        except MemoryError:
            reason = "ran out of memory scoring it (the other inputs are scored)"
        except (RuntimeError, OSError, cv2.error) as err:
            reason = f"cannot be scored ({type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]})"
        return Prediction(str(path), threshold=self.threshold, error=reason,
                          seconds=round(time.perf_counter() - start, 3))

    def _explain(self, result: Prediction, path: str | Path, folder: Path) -> None:
        """The scored clip's Grad-CAM strip into ``folder``; a strip that cannot be drawn or written is a note on
        the clip, never the loss of its verdict."""
        view, x, flows = self._view
        title = f"{self.payload['model']}: {result.verdict} (prob_fake {result.prob_fake:.2f})"
        try:
            result.explanation = str(write_strip(self.model, view, x, flows, strip_path(folder, path, self._strips),
                                                 title))
        except Exception as err:  # noqa: BLE001 (the verdict stands whatever the figure does)
            result.warnings.append(f"no explanation written ({type(err).__name__}: "
                                   f"{(str(err).splitlines() or [''])[0][:160]})")

    @torch.inference_mode()
    def _predict(self, path: str | Path, start: float) -> Prediction:
        result = Prediction(str(path), threshold=self.threshold)
        try:
            reason = unreadable_reason(Path(path))
            if reason:
                raise VideoError(path, reason)
            info = probe(path)
            reason = frame_limit_reason(info.width, info.height)
            if reason:
                raise VideoError(path, reason)
            frames, decoded = read_small(Path(path), self.frames.num_frames, info)
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
        face = None
        if self.frames.crop == "face":
            face = track_clip(frames)
            result.face = face.report(info.width / frames.shape[2])  # frames were downscaled while read
            if face.fallback:
                result.error = (f"no face found in any of the {len(frames)} sampled frames ({face.detector}): no "
                                "verdict (this model judges face crops)")
                result.seconds = round(time.perf_counter() - start, 3)
                return result
        view, x, flows = self._inputs(frames, face)
        self._view = (view, x, flows)  # --explain draws what the model saw
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
    A video-named symbolic link that is broken or loops is kept, so that it is reported
    as a failure with its reason rather than left out unseen.
    """
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in (p.rglob("*") if recursive else p.iterdir())
                           if (f.is_file() or (f.is_symlink() and not f.exists()))
                           and not f.name.startswith(".") and f.suffix.lower() in VIDEO_SUFFIXES
                           and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1]))
            if not found:
                hint = "" if recursive else " (--no-recursive: subfolders were not searched)"
                raise FileNotFoundError(f"{p}: no video files found ({', '.join(sorted(VIDEO_SUFFIXES))}){hint}")
            out.extend(found)
        else:
            out.append(p)
    return out
