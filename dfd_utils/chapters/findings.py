"""What the study found, written from the committed results into the README and the book's front page.

A reader should see the findings before installing 7 GB, and those findings must be the results, not a
copy typed once and left to go stale. This module reads ``metrics/*.json`` (written by ``dvc repro``) and
writes three things from them:

* the README's findings block, between ``<!-- findings:start -->`` and ``<!-- findings:end -->``;
* ``book/images/findings.svg``, the headline figure (test video AUC per model with its interval and the
  spread over seeds), drawn deterministically so the same metrics give the same bytes;
* ``findings.md`` in the book being built, the same prose and table for its front page (``intro.md`` includes
  it), written by each book build from that run's own metrics (``write_book_page``), so never stale.

``python -m dfd_utils.chapters.findings`` rewrites the README block and the figure (``make repro`` runs it after the
study); ``--check`` exits 1, naming the file, when one of them no longer matches the metrics (the test suite
runs it on the committed files). Nothing here ranks models by
point estimate: which differences are real is decided by paired intervals in chapter 10, and the prose says so.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections import Counter
from pathlib import Path

from dfd_utils.config.training import MODEL_NAMES

START, END = "<!-- findings:start -->", "<!-- findings:end -->"
FIGURE = Path("book/images/findings.svg")
BOOK_PAGE = "findings.md"  # in the book's source folder; written at each build, not in git
README = Path("README.md")

SEES = {  # what each detector is given, in the paper's order (the book's intro has the same table)
    "baseline": "one frame",
    "two_stream_frame": "one frame + its optical flow",
    "two_stream_video": "16 frames + 16 flows",
    "cnn_rnn": "16 frames in order (CNN + LSTM)",
    "cnn3d": "a 16-frame clip (inflated 3D CNN)",
}
VERDICT_ORDER = ("holds", "contradicted", "not shown", "not tested")


def _get(data, path: Path, *keys):
    """``data[k1][k2]...``, or a ValueError naming the file and the missing key."""
    for depth, key in enumerate(keys):
        if not isinstance(data, dict) or key not in data:
            raise ValueError(f"{path}: no {'.'.join(keys[: depth + 1])}; rerun the stage that writes it")
        data = data[key]
    return data


def _finite(value, path: Path, name: str) -> float:
    """``value`` as a float if it is a finite number: a NaN or a string would print as a result, so it is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{path}: {name} is {value!r}, not a finite number")
    return float(value)


def _number(data, path: Path, *keys) -> float:
    """The finite number at ``keys`` of ``data``."""
    return _finite(_get(data, path, *keys), path, ".".join(keys))


def load(metrics: Path) -> dict:
    """The numbers the findings are written from, checked: a missing file, a missing key or a value that is not a
    finite number is named (file and key) instead of being printed as a finding."""
    def read(name: str) -> tuple[dict, Path]:
        path = metrics / f"{name}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: missing; run `make repro` (or `dvc pull`) to write the results") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a JSON object")
        return data, path

    rows = []
    for model in MODEL_NAMES:
        m, path = read(model)
        interval = _get(m, path, "video_ci", "roc_auc")
        if not isinstance(interval, list) or len(interval) != 2:
            raise ValueError(f"{path}: video_ci.roc_auc is {interval!r}, not a [low, high] pair")
        low, high = (_finite(bound, path, f"video_ci.roc_auc[{i}]") for i, bound in enumerate(interval))
        runs = _get(m, path, "seeds", "runs")
        rows.append({
            "model": model, "sees": SEES[model],
            "auc": _number(m, path, "video", "roc_auc"),
            "ci": (low, high),
            "ci_method": str(_get(m, path, "video_ci_method", "roc_auc")),
            "seeds": len(runs) if isinstance(runs, list) else 0,
            "seed_min": _number(m, path, "seeds", "spread", "roc_auc", "min"),
            "seed_max": _number(m, path, "seeds", "spread", "roc_auc", "max"),
            "accuracy": _number(m, path, "video", "accuracy"),
            "test_videos": int(_number(m, path, "videos_per_split", "test")),
        })
    claims, path = read("claims")
    verdicts = {}
    for claim, entry in claims.items():
        verdicts[claim] = _get(entry, path, "verdict") if isinstance(entry, dict) else None
        if verdicts[claim] not in VERDICT_ORDER:
            raise ValueError(f"{path}: {claim}.verdict is {verdicts[claim]!r}, not one of {VERDICT_ORDER}")
    if not verdicts:
        raise ValueError(f"{path}: no claims")
    faces, path = read("real_faces")
    face_rows = {model: {"face": _number(faces, path, "models", model, "face"),
                         "full": _number(faces, path, "models", model, "full")} for model in MODEL_NAMES}
    return {"rows": rows, "verdicts": verdicts, "faces": face_rows}


def headline_rows(results: dict) -> list[dict]:
    """One row per model: test video AUC of seed 0 with its interval and method, the seeds' range, accuracy."""
    return results["rows"]


def verdict_tally(verdicts: dict) -> Counter:
    """How many of chapter 10's claims each verdict got."""
    unknown = set(verdicts.values()) - set(VERDICT_ORDER)
    if unknown:
        raise ValueError(f"metrics/claims.json: verdicts {sorted(unknown)} are not among {VERDICT_ORDER}")
    return Counter(verdicts.values())


def _f(x: float) -> str:
    return f"{x:.3f}"


def _count(values: list[int], noun: str) -> str:
    low, high = min(values), max(values)
    return f"{low} {noun}" if low == high else f"{low}-{high} {noun}"


def findings_markdown(results: dict, figure: str = str(FIGURE), chapter_link=lambda n, title: title) -> str:
    """The findings as Markdown: prose computed from the results, the table, the figure.

    ``chapter_link(number, title)`` turns a chapter reference into a link (plain text in the README, a
    ``{doc}`` role in the book). Nothing names the data: the README and the book say which run this is.
    """
    rows = headline_rows(results)
    tally = verdict_tally(results["verdicts"])
    low, high = min(rows, key=lambda r: r["auc"]), max(rows, key=lambda r: r["auc"])
    faces = results["faces"]
    best_face = max(faces[m]["face"] for m in MODEL_NAMES)
    at_best = [m for m in MODEL_NAMES if faces[m]["face"] == best_face]
    counts = ", ".join(f"{tally[v]} {v}" for v in VERDICT_ORDER)
    lines = [
        f"Over the run's {_count([r['test_videos'] for r in rows], 'test videos')}, the five detectors' test video "
        f"ROC AUCs (first seed) range from {_f(low['auc'])} (`{low['model']}`) to {_f(high['auc'])} "
        f"(`{high['model']}`). Point estimates do not rank models: which differences are real is decided by "
        f"paired intervals in {chapter_link('10', 'chapter 10')}, where the paper's {sum(tally.values())} claims "
        f"come out {counts}.",
        "",
        f"On real talking faces ({chapter_link('09', 'chapter 09')}: a person never seen in training), the best "
        f"face-crop test AUC of the first seed is {_f(best_face)}, reached by "
        + " and ".join(f"`{m}` ({_f(faces[m]['full'])} on full frames)" for m in at_best)
        + "; the chapter gives the intervals and the paired face-against-full comparison over its seeds, on one "
        "test person: too few to speak for faces in general.",
        "",
        "| model | sees | test video AUC | 95 % interval | AUC over seeds (n) | accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| `{r['model']}` | {r['sees']} | {_f(r['auc'])} | {_f(r['ci'][0])}–{_f(r['ci'][1])} | "
                     f"{_f(r['seed_min'])}–{_f(r['seed_max'])} ({r['seeds']}) | {_f(r['accuracy'])} |")
    by_method: dict[str, list[str]] = {}
    for r in rows:
        by_method.setdefault(r["ci_method"], []).append(r["model"])
    methods = by_method.popitem()[0] if len(by_method) == 1 else "; ".join(
        f"{method} ({', '.join(models)})" for method, models in by_method.items())
    lines += [
        "",
        f"AUC and accuracy of the first seed; interval: {methods}; accuracy at the threshold chosen on validation, "
        "by each model's rule. Written from `metrics/*.json` by `python -m dfd_utils.chapters.findings`.",
        "",
        f"![Test video ROC AUC per model with its interval and the seeds' range]({figure})",
    ]
    return "\n".join(lines) + "\n"


def draw_figure(results: dict) -> bytes:
    """The headline figure as SVG bytes, the same for the same metrics (no date, fixed ids)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = headline_rows(results)
    # matplotlib's defaults, whatever style the process set before (dfd_utils.plots sets seaborn's theme): the
    # same metrics must give the same bytes in any process
    with plt.style.context("default"), matplotlib.rc_context({"svg.hashsalt": "dfd-findings",
                                                              "svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        ys = range(len(rows))[::-1]
        for y, r in zip(ys, rows):
            ax.plot([r["ci"][0], r["ci"][1]], [y, y], color="#4c72b0", lw=2, solid_capstyle="butt")
            ax.plot([r["seed_min"], r["seed_max"]], [y - 0.22, y - 0.22], color="#999999", lw=1)
            ax.plot(r["auc"], y, "o", color="#1f3b73", ms=6)
        ax.axvline(0.5, color="#bbbbbb", lw=0.8, ls="--")
        ax.set_yticks(list(ys), [r["model"] for r in rows])
        lowest = min(min(r["ci"][0], r["seed_min"], r["auc"]) for r in rows)
        ax.set_xlim(min(0.4, math.floor((lowest - 0.02) * 10) / 10), 1.0)  # every value shown, however low
        ax.set_xlabel("test video ROC AUC (dot: first seed; blue: 95 % interval; grey: range over seeds)")
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    return buffer.getvalue().encode()


def readme_with(readme_text: str, block: str, path: Path = README) -> str:
    """``readme_text`` with the findings block replaced. The markers must each be a whole line of their own,
    once, outside fenced code, the start before the end; line endings are kept as the file has them."""
    newline = "\r\n" if "\r\n" in readme_text else "\n"
    lines = readme_text.split(newline)
    fenced, found = False, {START: [], END: []}
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.strip() in found:
            found[line.strip()].append(i)
    if len(found[START]) != 1 or len(found[END]) != 1 or found[START][0] > found[END][0]:
        raise ValueError(f"{path}: needs one {START} line, then one {END} line, around the findings "
                         f"(outside code blocks); found them on lines {[n + 1 for n in found[START]]} and "
                         f"{[n + 1 for n in found[END]]}")
    first, last = found[START][0], found[END][0]
    return newline.join(lines[: first + 1] + block.rstrip("\n").split("\n") + lines[last:])


def book_page(results: dict) -> str:
    """The book's front-page section (``intro.md`` includes it)."""
    titles = {"09": "notebooks/09_real_faces", "10": "notebooks/10_claims"}
    body = findings_markdown(results, figure="images/findings.svg",
                             chapter_link=lambda n, title: f"{{doc}}`{title} <{titles[n]}>`")
    return "## What the study found\n\n" + body


def write_book_page(metrics: Path, book: Path) -> Path:
    """The front page's findings and their figure, in the book source folder ``book``, from ``metrics``."""
    results = load(metrics)
    (book / "images").mkdir(exist_ok=True)
    (book / "images" / FIGURE.name).write_bytes(draw_figure(results))
    page = book / BOOK_PAGE
    page.write_text(book_page(results))
    return page


def expected_files(root: Path) -> dict[Path, bytes]:
    """The committed files this module writes (README block, figure), with the bytes the metrics give."""
    results = load(root / "metrics")
    readme = root / README
    return {
        readme: readme_with(readme.read_text(), findings_markdown(results), readme).encode(),
        root / FIGURE: draw_figure(results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dfd_utils.chapters.findings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: here)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a written file differs from the metrics")
    args = parser.parse_args(argv)
    stale = []
    for path, content in expected_files(args.root).items():
        if path.exists() and path.read_bytes() == content:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_bytes(content)
            print(f"wrote {path}")
    for path in stale:
        print(f"{path}: does not match metrics/*.json; run `python -m dfd_utils.chapters.findings`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
