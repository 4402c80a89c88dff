"""The README's findings and the book's front page are the committed results, not a copy typed once."""

import json
import re
import shutil
from pathlib import Path

import pytest

from dfd_utils import findings
from dfd_utils.settings import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]


def _table(readme: str) -> dict[str, list[str]]:
    block = readme.split(findings.START)[1].split(findings.END)[0]
    rows = [line.split("|")[1:-1] for line in block.splitlines() if line.startswith("| `")]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells] for cells in rows}


def test_the_committed_readme_and_figure_match_the_committed_metrics():
    assert findings.main(["--root", str(ROOT), "--check"]) == 0


def test_the_readme_table_holds_each_models_test_auc_and_interval_from_its_metrics_file():
    table = _table((ROOT / "README.md").read_text())
    assert list(table) == list(MODEL_NAMES)
    for model in MODEL_NAMES:
        m = json.loads((ROOT / "metrics" / f"{model}.json").read_text())
        low, high = m["video_ci"]["roc_auc"]
        _, _, auc, interval, _, accuracy = table[model]
        assert auc == f"{m['video']['roc_auc']:.3f}"
        assert interval == f"{low:.3f}–{high:.3f}"
        assert accuracy == f"{m['video']['accuracy']:.3f}"


def test_the_verdict_counts_in_the_prose_are_those_of_the_claims_file():
    claims = json.loads((ROOT / "metrics" / "claims.json").read_text())
    readme = (ROOT / "README.md").read_text()
    n_holds = sum(c["verdict"] == "holds" for c in claims.values())
    n_contradicted = sum(c["verdict"] == "contradicted" for c in claims.values())
    assert f"the paper's {len(claims)} claims come out {n_holds} holds, {n_contradicted} contradicted" in readme


def test_the_findings_open_the_readme_and_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines.index(findings.START) < 15, "the findings are on the README's first screen"
    assert len(lines) <= 150


def _copy_study(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    shutil.copytree(ROOT / "metrics", root / "metrics")
    (root / "book" / "images").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copy(ROOT / findings.FIGURE, root / findings.FIGURE)
    return root


def test_a_changed_result_makes_the_check_fail_naming_the_stale_files(tmp_path, capsys):
    root = _copy_study(tmp_path)
    path = root / "metrics" / "cnn3d.json"
    m = json.loads(path.read_text())
    m["video"]["roc_auc"] = 0.7
    path.write_text(json.dumps(m))
    assert findings.main(["--root", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert "README.md: does not match metrics/*.json" in err and "findings.svg: does not match" in err
    assert findings.main(["--root", str(root)]) == 0  # rewritten ...
    assert _table((root / "README.md").read_text())["cnn3d"][2] == "0.700"
    assert findings.main(["--root", str(root), "--check"]) == 0  # ... and then current


def test_the_figure_is_the_same_bytes_for_the_same_metrics_and_differs_for_others():
    results = findings.load(ROOT / "metrics")
    first, second = findings.draw_figure(results), findings.draw_figure(results)
    assert first == second and b"<svg" in first
    results["models"]["baseline"]["video"]["roc_auc"] = 0.5
    assert findings.draw_figure(results) != first


def test_a_readme_without_its_markers_and_a_missing_metrics_file_are_named(tmp_path):
    root = _copy_study(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace(findings.END, ""))
    with pytest.raises(ValueError, match=re.escape(f"{readme}: needs one {findings.START} and one {findings.END}")):
        findings.main(["--root", str(root)])
    (root / "metrics" / "claims.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"claims\.json: missing; run `make repro`"):
        findings.load(root / "metrics")


def test_an_unknown_verdict_is_refused_rather_than_left_out_of_the_count():
    with pytest.raises(ValueError, match="verdicts \\['maybe'\\]"):
        findings.verdict_tally({"a": {"verdict": "holds"}, "b": {"verdict": "maybe"}})


def test_the_book_page_links_the_chapters_and_shows_the_figure(tmp_path):
    page = findings.write_book_page(ROOT / "metrics", tmp_path)
    text = page.read_text()
    assert text.startswith("## What the study found")
    assert "{doc}`chapter 10 <notebooks/10_claims>`" in text and "![" in text and "images/findings.svg" in text
    assert (tmp_path / "images" / "findings.svg").read_bytes() == (ROOT / findings.FIGURE).read_bytes()
    assert "```{include} findings.md" in (ROOT / "book" / "intro.md").read_text()
