"""Every figure of the study, so a figure looks the same in every notebook and the book."""

from __future__ import annotations

import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dfd_utils.flow import flow_to_color

# Legible in the book: a figure at most PAGE_WIDTH_IN wide at DPI is shown at >= 72 % of its size in the
# page's column (676 px), so the smallest text (SMALLEST_FONT_PT) is at least 8 CSS px (tests/test_book.py).
DPI = 100
PAGE_WIDTH_IN = 9.0
SMALLEST_FONT_PT = 8
sns.set_theme(style="whitegrid", context="notebook", rc={"figure.dpi": DPI})


def fit_page(fig):
    """Shrink a figure wider than the page to PAGE_WIDTH_IN (text keeps its size in points, so it grows
    relative to the picture), then lay it out again."""
    width, height = fig.get_size_inches()
    if width > PAGE_WIDTH_IN:
        fig.set_size_inches(PAGE_WIDTH_IN, height * PAGE_WIDTH_IN / width)
    fig.tight_layout()
    return fig


def shown_width_in(fig) -> float:
    """The width of the picture the notebook shows (``bbox_inches="tight"``: text outside the axes counts)."""
    fig.canvas.draw()
    return fig.get_tightbbox(fig.canvas.get_renderer()).width


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
    return fit_page(fig)


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
    return fit_page(fig)


def flow_difference(fake_frames: np.ndarray, flow_fake: np.ndarray, flow_original: np.ndarray, positions=(2, 6, 10)):
    """What a fake adds to the flow: the fake's frame and the length of its flow minus its original's, per pixel.

    A fake and its original share the scene, the motion and the noise, so everywhere the fake did not touch the
    difference is near 0: what lights up is the pasted face's jitter and flicker, as the temporal stream sees it.
    ``fake_frames``: ``(T, H, W, 3)`` uint8; flows ``(T, 2, H, W)``.
    """
    delta = np.linalg.norm(flow_fake.astype(np.float32) - flow_original.astype(np.float32), axis=1)  # (T, H, W)
    scale = float(np.quantile(delta, 0.999)) or 1.0
    fig, axes = plt.subplots(2, len(positions), figsize=(3 * len(positions), 3.6), squeeze=False)
    for c, t in enumerate(positions):
        axes[0, c].imshow(fake_frames[t])
        axes[0, c].set_title(f"fake, frame {t}", fontsize=8)
        shown_ = axes[1, c].imshow(delta[t], cmap="magma", vmin=0, vmax=scale)
        axes[1, c].set_title(f"|flow fake - flow original|, {t}->{t + 1}", fontsize=8)
        for ax in axes[:, c]:
            ax.axis("off")
    fig.colorbar(shown_, ax=axes[1, :].tolist(), label="px", shrink=0.8)
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


def learning_curves(history: list[dict], title: str = ""):
    """Training and validation loss, and validation ROC AUC, per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss")
    ax1.legend()
    ax2.plot(epochs, [h["val_auc"] for h in history], "o-", color="tab:green")
    ax2.set(xlabel="epoch", ylabel="validation ROC AUC", ylim=(0, 1.02))
    if title:
        fig.suptitle(textwrap.fill(title, 90), fontsize=11)
    return fit_page(fig)


def confusion_matrix(matrix, title: str = "", ax=None):
    """A 2x2 confusion matrix heatmap, rows true, columns predicted (the paper's Figure 2)."""
    ax = ax or plt.subplots(figsize=(3.2, 2.8))[1]
    sns.heatmap(np.asarray(matrix), annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=["REAL", "FAKE"], yticklabels=["REAL", "FAKE"])
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax


def roc_curves(curves: dict[str, tuple], ax=None):
    """ROC curves: ``{"baseline": (labels, scores), ...}``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    for name, (labels, scores) in curves.items():
        if len(np.unique(labels)) < 2:
            continue
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="video-level ROC (test)")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def flow_wheel(size: int = 64) -> np.ndarray:
    """The key to the flow pictures: a disc whose hue is the direction of motion, brightness the speed."""
    yy, xx = np.mgrid[-1:1:size * 1j, -1:1:size * 1j].astype(np.float32)
    wheel = flow_to_color(np.stack([xx, yy]), 1.0)  # (size, size, 3)
    wheel[xx ** 2 + yy ** 2 > 1] = 255  # white outside the disc
    return wheel


def _resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def heatmap_strip(frames: np.ndarray, cams: np.ndarray, flows: np.ndarray | None = None, positions=(2, 6, 10, 14),
                  title: str = ""):
    """Frames, their Grad-CAM over the frame in grey, and the flow of the same frames (the paper's Figure 3).

    ``frames`` (T, H, W, 3) uint8, ``cams`` (T, H, W) in [0, 1], ``flows`` (T, 2, h, w). Every row is
    drawn at the frames' aspect (a 3D model's square input and the 16:9 flow line up), rows are
    labelled, the heat has a colour bar and the flow its colour wheel; one speed scale for the strip.
    """
    height, width = frames.shape[1:3]
    rows = ["frame", "Grad-CAM"] + (["optical flow"] if flows is not None else [])
    fig, axes = plt.subplots(len(rows), len(positions) + 1, squeeze=False,
                             figsize=(2.0 * (len(positions) + 0.6) * max(width / height, 0.75), 2.0 * len(rows) + 0.5),
                             gridspec_kw={"width_ratios": [1] * len(positions) + [0.35]})
    scale = float(np.abs(flows.astype(np.float32)).max()) or 1.0 if flows is not None else 1.0
    heat = None
    for c, t in enumerate(positions):
        axes[0, c].imshow(frames[t])
        axes[0, c].set_title(f"frame {t}", fontsize=9)
        grey = frames[t].mean(axis=2)  # the heat reads on grey; a colour photo under jet does not
        axes[1, c].imshow(grey, cmap="gray", vmin=0, vmax=255)
        heat = axes[1, c].imshow(cams[t], cmap="inferno", alpha=0.55, vmin=0, vmax=1,
                                 extent=(0, width, height, 0))
        if flows is not None:
            axes[2, c].imshow(_resized(flow_to_color(flows[t], scale), height, width))
    for r, label in enumerate(rows):
        axes[r, 0].set_ylabel(label, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_aspect("equal")
    for ax in axes[:, -1]:
        ax.axis("off")
    fig.colorbar(heat, ax=axes[1, -1], fraction=0.9, label="Grad-CAM")
    if flows is not None:
        axes[2, -1].imshow(flow_wheel())
        axes[2, -1].set_title("direction", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fit_page(fig)


def comparison_bars(summary, metric: str = "roc_auc", ax=None):
    """One bar per model with its bootstrap 95 % interval."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    names = list(summary.index)
    values = summary[metric].to_numpy()
    # intervals contain their estimate (evaluate.bootstrap_ci); clip rounding noise only
    err = np.clip([values - summary[f"{metric}_low"].to_numpy(), summary[f"{metric}_high"].to_numpy() - values], 0,
                  None)
    ax.bar(names, values, yerr=err, capsize=4, color=sns.color_palette("deep", len(names)))
    ax.axhline(0.5, ls=":", color="grey")
    ax.set(ylabel=f"video {metric} (test)", ylim=(0, 1.05))
    ax.tick_params(axis="x", rotation=20)
    return ax


def variant_bars(table, variants=("full", "face"), ylabel: str = "test ROC AUC", ax=None):
    """Grouped bars: one group per model, one bar per input variant, each with its 95 % interval.

    ``table``: one row per model with columns ``<variant>``, ``<variant>_low``, ``<variant>_high``.
    """
    ax = ax or plt.subplots(figsize=(7, 3))[1]
    x = np.arange(len(table))
    width = 0.8 / len(variants)
    for i, v in enumerate(variants):
        values = table[v].to_numpy()
        err = np.clip([values - table[f"{v}_low"].to_numpy(), table[f"{v}_high"].to_numpy() - values], 0, None)
        ax.bar(x + (i - (len(variants) - 1) / 2) * width, values, width, yerr=err, capsize=3, label=v)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, table.index, rotation=20)
    ax.set(ylabel=ylabel, ylim=(0, 1.05))
    ax.legend(title="input")
    ax.figure.tight_layout()
    return ax


def difficulty_sweep(result: dict, ax=None):
    """Artifact strength against the measured change inside the face, as a share of the natural change (chapter 00):
    the spatial knobs' pixel change and the temporal knobs' flow change, the target share and the chosen strengths."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 3.6))
    sweep = result["sweep"]
    strengths = [row["strength"] for row in sweep]
    for kind, colour in (("spatial", "tab:blue"), ("temporal", "tab:orange")):
        ax.plot(strengths, [row[f"{kind}_ratio"] for row in sweep], "o-", color=colour,
                label=f"{kind}: {'pixels' if kind == 'spatial' else 'flow'}")
        ax.axvline(result["chosen"][kind], color=colour, linewidth=1.2, linestyle=":",
                   label=f"{kind} chosen {result['chosen'][kind]:g}")
    ax.axhline(result["share"], color="tab:red", linestyle="--", linewidth=1, label=f"target {result['share']:g}")
    ax.set(xlabel="knob strength", ylabel="change inside the face / natural change")
    ax.legend(loc="upper left", fontsize=SMALLEST_FONT_PT + 1)
    return fit_page(fig)


def reliability_diagrams(records: dict, columns: int = 3):
    """Reliability diagrams on the test split, one panel per model (chapter 11): for each equal-width bin of the
    probability of FAKE, the share of FAKE videos in it against the bin's mean probability, before (grey) and
    after (blue) temperature scaling; the diagonal is perfect calibration, a point's size its number of videos.

    ``records``: ``{model: dfd_utils.calibration.ModelCalibration}`` (its ``bins_before`` and ``bins_after``).
    """
    n = len(records)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax, (name, r) in zip(axes.flat, records.items()):
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
        after = f"after, T = {r.temperature:.2f} (ECE {r.ece_after:.2f})"
        for bins, colour, label in ((r.bins_before, "0.55", f"before (ECE {r.ece_before:.2f})"),
                                    (r.bins_after, "tab:blue", after)):
            used = bins[bins["count"] > 0]
            ax.plot(used["confidence"], used["observed"], "-", color=colour, lw=1)
            ax.scatter(used["confidence"], used["observed"], s=12 + 60 * used["count"] / used["count"].sum(),
                       color=colour, label=label, zorder=3)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=name)
        ax.title.set_fontsize(10)
        ax.legend(fontsize=SMALLEST_FONT_PT, loc="upper left")
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
        elif i + cols >= n:  # nothing drawn below it
            ax.set_xlabel("mean probability of FAKE")
    for ax in axes[:, 0]:
        ax.set_ylabel("share FAKE")
    return fit_page(fig)
