"""Chapter 03's reading of the flow: what a fake adds to its original's optical flow.

A synthetic fake and its original share the scene, the subject's motion and the sensor
noise, so the difference of their flows is what the fake's pasting adds: the jitter and
flicker of the pasted face as the temporal stream sees it. Kept apart from
:mod:`dfd_utils.flow`, whose code version keys every stored flow field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfd_utils.flow import load_flow

CHANGED_PX = 0.1  # a pixel whose flow moved by more than this counts as changed by the fake


def fake_flow_change(flow_root: str | Path, fakes, originals) -> dict[str, float]:
    """Over every fake and its original: the mean length of the flow difference where it exceeds
    :data:`CHANGED_PX`, the share of pixels it changes, and the originals' mean flow length (natural motion)."""
    changed, share, natural = [], [], []
    for fake, original in zip(fakes, originals):
        flow_original = load_flow(flow_root, original).astype(np.float32)  # (T, 2, H, W)
        delta = np.linalg.norm(load_flow(flow_root, fake).astype(np.float32) - flow_original, axis=1)  # (T, H, W)
        moved = delta > CHANGED_PX
        changed.append(float(delta[moved].mean()) if moved.any() else 0.0)
        share.append(float(moved.mean()))
        natural.append(float(np.linalg.norm(flow_original, axis=1).mean()))
    return {"fakes": len(changed), "changed_px": float(np.mean(changed)), "changed_share": float(np.mean(share)),
            "natural_px": float(np.mean(natural))}


def fake_flow_text(summary: dict[str, float]) -> str:
    """One sentence: how much and where the fakes change the flow, against the originals' own motion."""
    if not summary["fakes"]:
        return "No fake of this set has its original here: nothing to compare."
    return (f"Over the {summary['fakes']} fakes with their originals, the fake changes the flow by more than "
            f"{CHANGED_PX:g} px on {100 * summary['changed_share']:.1f} % of the pixels, by "
            f"{summary['changed_px']:.2f} px on average there; the originals' own motion is "
            f"{summary['natural_px']:.2f} px on average over the whole frame. Outside the face, the fake and its "
            f"original differ only by how the video encoder compressed each.")
