"""The README's findings and the book's front page are the committed results, not a copy typed once."""

import json
import re
import shutil
from pathlib import Path

import pytest

from dfd_utils.chapters import findings
from dfd_utils.config.training import MODEL_NAMES

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
    results["rows"][0]["auc"] = 0.5
    assert findings.draw_figure(results) != first


def test_a_low_auc_widens_the_axis_instead_of_leaving_the_figure(tmp_path):
    import matplotlib.pyplot as plt

    results = findings.load(ROOT / "metrics")
    results["rows"][4].update(auc=0.30, ci=(0.20, 0.38), seed_min=0.25)
    captured = {}
    real_close = plt.close
    plt.close = lambda fig: captured.setdefault("xlim", fig.axes[0].get_xlim()) and real_close(fig)
    try:
        findings.draw_figure(results)
    finally:
        plt.close = real_close
    assert captured["xlim"][0] <= 0.18 and captured["xlim"][1] == 1.0


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["video"].update(roc_auc=float("nan")), "cnn3d.json: video.roc_auc is nan, not a finite number"),
    (lambda m: m.pop("seeds"), "cnn3d.json: no seeds; rerun the stage"),
    (lambda m: m["video_ci"].update(roc_auc=[0.5]), "cnn3d.json: video_ci.roc_auc is [0.5], not a [low, high]"),
    (lambda m: m["video"].update(accuracy="0.9"), "cnn3d.json: video.accuracy is '0.9', not a finite number"),
])
def test_a_bad_metrics_file_is_named_with_its_key_never_printed(tmp_path, edit, message):
    root = _copy_study(tmp_path)
    path = root / "metrics" / "cnn3d.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))
    with pytest.raises(ValueError, match=re.escape(message)):
        findings.main(["--root", str(root)])
    assert (root / "README.md").read_text() == (ROOT / "README.md").read_text()  # nothing written


def test_claims_and_real_faces_files_are_checked_too(tmp_path):
    root = _copy_study(tmp_path)
    (root / "metrics" / "claims.json").write_text("{}")
    with pytest.raises(ValueError, match="claims.json: no claims"):
        findings.load(root / "metrics")
    (root / "metrics" / "claims.json").write_text(json.dumps({"a": {"verdict": "probably"}}))
    with pytest.raises(ValueError, match="claims.json: a.verdict is 'probably'"):
        findings.load(root / "metrics")
    shutil.copy(ROOT / "metrics" / "claims.json", root / "metrics" / "claims.json")
    faces = json.loads((root / "metrics" / "real_faces.json").read_text())
    del faces["models"]["cnn3d"]
    (root / "metrics" / "real_faces.json").write_text(json.dumps(faces))
    with pytest.raises(ValueError, match="real_faces.json: no models.cnn3d"):
        findings.load(root / "metrics")


@pytest.mark.parametrize("text", [
    f"a\n{findings.END}\nb\n{findings.START}\nc\n",  # swapped
    f"a\n```\n{findings.START}\n{findings.END}\n```\nb\n",  # only inside a code block
    f"a\n{findings.START} text after it\nb\n{findings.END}\n",  # not a line of its own
])
def test_markers_must_be_whole_lines_in_order_outside_code(text):
    with pytest.raises(ValueError, match="needs one <!-- findings:start --> line, then one"):
        findings.readme_with(text, "block\n")


def test_a_crlf_readme_keeps_its_line_endings_and_the_text_around_the_block():
    text = f"top\r\n{findings.START}\r\nold\r\n{findings.END}\r\nbottom\r\n"
    assert findings.readme_with(text, "new\nlines\n") == \
        f"top\r\n{findings.START}\r\nnew\r\nlines\r\n{findings.END}\r\nbottom\r\n"


def test_a_readme_without_its_markers_and_a_missing_metrics_file_are_named(tmp_path):
    root = _copy_study(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace(findings.END, ""))
    with pytest.raises(ValueError, match=re.escape(f"{readme}: needs one {findings.START} line, then one")):
        findings.main(["--root", str(root)])
    (root / "metrics" / "claims.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"claims\.json: missing; run `make repro`"):
        findings.load(root / "metrics")


def test_an_unknown_verdict_is_refused_rather_than_left_out_of_the_count():
    with pytest.raises(ValueError, match="verdicts \\['maybe'\\]"):
        findings.verdict_tally({"a": "holds", "b": "maybe"})


def test_the_book_page_links_the_chapters_and_shows_the_figure(tmp_path):
    page = findings.write_book_page(ROOT / "metrics", tmp_path)
    text = page.read_text()
    assert text.startswith("## What the study found")
    assert "{doc}`chapter 10 <notebooks/10_claims>`" in text and "![" in text and "images/findings.svg" in text
    assert (tmp_path / "images" / "findings.svg").read_bytes() == (ROOT / findings.FIGURE).read_bytes()
    assert "```{include} findings.md" in (ROOT / "book" / "intro.md").read_text()


def test_the_figure_does_not_depend_on_the_style_a_process_set_before():
    import seaborn as sns

    results = findings.load(ROOT / "metrics")
    plain = findings.draw_figure(results)
    sns.set_theme(style="darkgrid", font_scale=1.4)  # what a notebook or dfd_utils.plots may have done
    try:
        assert findings.draw_figure(results) == plain
    finally:
        sns.reset_orig()
