"""Every figure of the study, so a figure looks the same in every notebook and the book."""

from __future__ import annotations

from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dfd_utils.flow import flow_to_color

sns.set_theme(style="whitegrid", context="notebook")


def class_balance(metadata: dict, ax=None):
    """Bar chart of REAL and FAKE counts in a DFDC metadata dict."""
    counts = Counter(entry["label"] for entry in metadata.values())
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    labels = ["REAL", "FAKE"]
    sns.barplot(x=labels, y=[counts.get(k, 0) for k in labels], hue=labels, palette=["tab:blue", "tab:red"], ax=ax)
    for i, k in enumerate(labels):
        ax.text(i, counts.get(k, 0), str(counts.get(k, 0)), ha="center", va="bottom")
    ax.set(ylabel="videos", title=f"{sum(counts.values())} videos")
    return ax


def frame_rows(rows: dict[str, np.ndarray], max_cols: int = 6, height: float = 1.6):
    """One row of frames per entry: ``{"REAL abc.mp4": (T, H, W, 3) uint8, ...}``."""
    n_cols = min(max_cols, max(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(n_cols * height * 16 / 9, len(rows) * height),
                             squeeze=False)
    for r, (title, frames) in enumerate(rows.items()):
        picks = np.linspace(0, len(frames) - 1, n_cols).round().astype(int)
        for c, i in enumerate(picks):
            ax = axes[r, c]
            ax.imshow(frames[i])
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"frame {i}", fontsize=8)
        axes[r, 0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    return fig


def flow_pairs(frames: np.ndarray, flows: np.ndarray, positions=(1, 5, 9), title: str = ""):
    """The paper's Figure 1: consecutive frames and the flow between them, colour-coded."""
    fig, axes = plt.subplots(len(positions), 3, figsize=(9, 1.9 * len(positions)), squeeze=False)
    scale = float(np.abs(flows.astype(np.float32)).max()) or 1.0
    for r, t in enumerate(positions):
        for ax, img, name in zip(axes[r], (frames[t - 1], frames[t], flow_to_color(flows[t], scale)),
                                 (f"frame {t - 1}", f"frame {t}", f"flow {t - 1}->{t}")):
            ax.imshow(img)
            ax.set_title(name, fontsize=8)
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def split_bars(table: dict, ax=None):
    """Stacked REAL/FAKE bars per split."""
    ax = ax or plt.subplots(figsize=(4.5, 3))[1]
    names = list(table)
    real = [table[s]["REAL"] for s in names]
    fake = [table[s]["FAKE"] for s in names]
    ax.bar(names, real, label="REAL", color="tab:blue")
    ax.bar(names, fake, bottom=real, label="FAKE", color="tab:red")
    ax.set(ylabel="videos")
    ax.legend()
    return ax
