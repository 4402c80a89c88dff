"""The frames a run reads must be the frames its settings describe: checked before training and before a checkpoint
records its input size.

Why: frames extracted at 108x192 and trained with ``frames.height: 96`` trained on 108x192
frames (the arrays hold what was extracted), while the checkpoint said 96x192, and
``dfd predict`` then fed the model 96x192 frames. Two checks, both naming the setting and the file:
the loaded tensors' shapes against ``height``, ``width``, ``size_3d`` and ``num_frames``, and
each video's ``info.json`` (the settings stage 02 stamped on its frames) against every frame setting.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from dfd_utils.frame_store import FrameConfig, video_stem


class FrameSettingsError(ValueError):
    """Frames made with settings other than the run's."""


def _shape_settings(data, cfg: FrameConfig) -> list[tuple[str, int, int]]:
    """``(setting, in the frames, in the run)`` for each shape the loaded split contradicts."""
    out = []
    for tensor, (h_key, w_key) in ((data.frames, ("height", "width")), (data.frames3d, ("size_3d", "size_3d"))):
        if tensor is None or tensor.dim() != 5:
            continue
        _, t, _, h, w = tensor.shape  # (V, T, 3, H, W)
        for key, found in (("num_frames", t), (h_key, h), (w_key, w)):
            if found != getattr(cfg, key):
                out.append((key, int(found), getattr(cfg, key)))
    return out


def check_frame_settings(frames_root: str | Path, data: dict, cfg: FrameConfig) -> None:
    """Refuse ``data`` (split -> ``SplitData``) unless its frames were made with ``cfg``.

    A video without ``info.json`` (frames not written by stage 02) is checked by its shape only.
    """
    frames_root = Path(frames_root)
    wanted = json.loads(json.dumps(asdict(cfg)))
    for split, d in data.items():
        first = frames_root / video_stem(d.videos[0]) if len(d.videos) else frames_root
        for key, found, asked in _shape_settings(d, cfg):
            raise FrameSettingsError(f"{first}: the {split} frames are {key} {found}, but the run's frames.{key} is "
                                     f"{asked}; extract the frames again with these settings, or set frames.{key}: "
                                     f"{found}")
        for name in d.videos:
            info = frames_root / video_stem(name) / "info.json"
            try:
                made = json.loads(info.read_text())["made_by"]["settings"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            changed = sorted(k for k in wanted if isinstance(made, dict) and k in made and made[k] != wanted[k])
            if changed:
                key = changed[0]
                raise FrameSettingsError(f"{info}: its frames were made with frames.{key} {made[key]!r}, but the "
                                         f"run's frames.{key} is {wanted[key]!r}; extract the frames again with "
                                         "these settings (stage 02)")
