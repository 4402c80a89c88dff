"""DVC on a fresh clone, as a user (and CI) gets the repository: committed files only.

* two ``dvc exp run -S`` experiments are compared by ``dvc exp show`` (parameter and headline metric
  columns: ``metrics/headline/``, the only declared metrics) and ``dvc metrics diff``;
* ``dvc push`` then ``dvc pull`` in another clone restores the executed notebooks;
* plain ``dvc plots show`` writes a page that loads nothing from the network;
* ``dvc repro --dry`` cannot plan a fresh clone (treeverse/dvc#10135, #9818): ``dvc status`` and
  ``dvc dag`` can.

Each clone lives in a temporary folder and the ``dvc`` next to this Python runs there with
everything it could write kept inside that folder: the cache is the clone's own, the remote
is a temporary folder (``config.local`` overrides the committed ``../dfd-dvc-remote``), and
DVC's global, system and site directories, Matplotlib's and Jupyter's runtime folders are
temporary too. Stage commands (``python -m dfd_utils.pipeline``) run the clone's code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dfd_utils.tooling.vendor import VEGA

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STUDY_MODELS = ("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d")
LEARNING_RATES = (0.002, 0.0005)  # two experiments: train@baseline and what it needs, smoke profile


def loads_from_the_network(page: str) -> list[str]:
    """The tags of an HTML page that fetch something (``src``, ``href``), the code of inline scripts left out."""
    markup = re.sub(r"<script\b(?![^>]*\bsrc=)[^>]*>.*?</script>", "", page, flags=re.S)
    return re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[^>]*>", markup)


@dataclass
class Clone:
    path: Path
    env: dict

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(args, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "dvc"), *args, check=check)


def clone(source: Path, tmp: Path, remote: Path) -> Clone:
    """``git clone`` of ``source``'s HEAD (detached or not) into ``tmp/repo``, DVC confined to ``tmp``."""
    dest = tmp / "repo"
    keep = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    env = {**keep, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(dest),
           "DVC_NO_ANALYTICS": "1", "DVC_STUDIO_OFFLINE": "1", "DVC_GLOBAL_CONFIG_DIR": str(tmp / "dvc-global"),
           "DVC_SYSTEM_CONFIG_DIR": str(tmp / "dvc-system"), "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
           "MPLCONFIGDIR": str(tmp / "matplotlib"), "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True, env=env)
    repo = Clone(dest, env)
    repo.run("git", "fetch", "-q", "origin", "HEAD")  # the commit checked out at source, even a detached one
    repo.run("git", "checkout", "-q", "-B", "dvc-test", "FETCH_HEAD")
    repo.run("git", "config", "user.name", "dfd tests")
    repo.run("git", "config", "user.email", "dfd-tests@example.invalid")
    repo.dvc("config", "--local", "cache.dir", str(dest / ".dvc" / "cache"))
    repo.dvc("remote", "add", "--local", "--default", "--force", "scratch", str(remote))
    return repo


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Clone:
    tmp = tmp_path_factory.mktemp("fresh")
    return clone(ROOT, tmp, tmp / "remote")


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    """A clone on the smoke profile with two experiments of train@baseline: ``(clone, {name: lr}, outputs)``."""
    tmp = tmp_path_factory.mktemp("experiments")
    repo = clone(ROOT, tmp, tmp / "remote")
    (repo.path / "data").mkdir()  # what `make data` does: data.dvc tracks an empty folder
    repo.run(sys.executable, "-m", "dfd_utils.profiles", "smoke")
    repo.run("git", "commit", "-q", "-m", "smoke profile", "params.yaml")
    names, outputs = {}, []
    for lr in LEARNING_RATES:
        done = repo.dvc("exp", "run", "-S", f"train.lr={lr}", "train@baseline")
        names[re.search(r"Ran experiment\(s\): (\S+)", done.stdout).group(1)] = lr
        outputs.append(done.stdout + done.stderr)
    return repo, names, outputs


@pytest.mark.slow  # two experiments on the smoke profile: about 2.5 minutes on 2 cores
def test_two_experiments_are_compared_by_exp_show_and_metrics_diff(experiments):
    repo, names, outputs = experiments
    assert "Running stage 'optical_flow'" in outputs[0]
    assert "Stage 'optical_flow' didn't change, skipping" in outputs[1]  # only the changed stage reruns
    assert "Running stage 'train@baseline'" in outputs[1]

    shown = json.loads(repo.dvc("exp", "show", "--json").stdout)
    found = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            data = exp["revs"][0]["data"]
            lr = data["params"]["params.yaml"]["data"]["train"]["lr"]
            headline = data["metrics"]["metrics/headline/baseline.json"]["data"]
            found[exp["name"]] = (lr, headline["val_auc"], headline["test_auc"])
            # only the headline files are metrics: a few columns a model, not the 900 of every results file
            leaves = sum(len(f.get("data") or {}) for f in data["metrics"].values())
            assert set(data["metrics"]) <= {f"metrics/headline/{m}.json" for m in (*STUDY_MODELS, "claims")}
            assert leaves <= 30, leaves
    assert {name: lr for name, (lr, *_) in found.items()} == names
    for _, val_auc, test_auc in found.values():
        assert 0.0 <= val_auc <= 1.0 and 0.0 <= test_auc <= 1.0

    header = repo.dvc("exp", "show", "--csv").stdout.splitlines()[0].split(",")
    assert "train.lr" in header and any(h.endswith("test_auc") for h in header)
    baseline = json.loads((repo.path / "metrics" / "baseline.json").read_text())  # the full file, as written
    headline = json.loads((repo.path / "metrics" / "headline" / "baseline.json").read_text())
    assert headline["test_auc"] == baseline["video"]["roc_auc"]
    assert [headline["test_auc_low"], headline["test_auc_high"]] == baseline["video_ci"]["roc_auc"]

    first, second = names
    diff = json.loads(repo.dvc("metrics", "diff", "--all", "--json", first, second).stdout)
    auc = diff["metrics/headline/baseline.json"]["test_auc"]
    assert (auc["old"], auc["new"]) == (found[first][2], found[second][2])
    any_file = json.loads(repo.dvc("metrics", "diff", "--all", "--json", "--targets", "metrics/baseline.json",
                                   "--", first, second).stdout)  # any results file, named
    assert any_file["metrics/baseline.json"]["video.roc_auc"]["new"] == found[second][2]


# Warnings a run may print that are about the study itself: DVC on the empty data/ folder data.dvc tracks.
STUDY_WARNINGS = ("WARNING: 'data' is empty.",)


@pytest.mark.slow  # reads the two experiments above
def test_the_run_log_has_a_progress_line_per_stage_and_no_warning_that_is_not_about_the_study(experiments):
    """A `dvc exp run` of chapters 00-04 on the smoke profile: each notebook says how far it got, and nothing
    else warns (no kernel transport warning, no library deprecation, papermill's lines once)."""
    _, _, outputs = experiments
    log = outputs[0]
    for notebook in ("00_difficulty", "01_download_subset", "02_extract_frames", "03_optical_flow",
                     "04_baseline__baseline"):
        assert re.search(rf"^{notebook}: (\d+)/\1 cells, \d\d:\d\d$", log, re.MULTILINE), notebook
    warnings = [line for line in log.splitlines() if re.search(r"warn", line, re.IGNORECASE)
                and line.strip() not in STUDY_WARNINGS]
    assert warnings == [], "\n".join(warnings)
    assert "eavesdropping" not in log and "Input Notebook" not in log


@pytest.mark.slow  # reads the two experiments above
def test_a_learning_rate_reruns_no_data_stage(experiments):
    """``-S train.lr=...`` reruns training only: the data stages (chapter 00's measurement included) are skipped."""
    _, _, outputs = experiments
    for stage in ("choose_difficulty", "download_subset", "extract_frames", "optical_flow"):
        assert f"Running stage '{stage}'" in outputs[0]
        assert f"Stage '{stage}' didn't change, skipping" in outputs[1], outputs[1]


@pytest.mark.slow  # push, clone and pull of the experiment's outputs: about 15 s
def test_dvc_pull_restores_the_executed_notebooks(experiments, tmp_path):
    repo, names, _ = experiments
    repo.run("git", "add", "dvc.lock", "params.yaml", "metrics", "dvclive")
    repo.run("git", "commit", "-q", "-m", "the last experiment")
    repo.dvc("push", "--with-deps", "train@baseline")
    other = clone(repo.path, tmp_path, repo.path.parent / "remote")
    other.dvc("pull", "--with-deps", "train@baseline")
    executed = other.path / "artifacts" / "executed"
    for name in ("01_download_subset", "02_extract_frames", "03_optical_flow", "04_baseline__baseline"):
        cells = json.loads((executed / f"{name}.ipynb").read_text())["cells"]
        assert any(c.get("outputs") for c in cells if c["cell_type"] == "code"), f"{name}: no outputs"
    assert (other.path / "artifacts" / "models" / "baseline.pt").is_file()
    # nothing is left to run: the resumable training state is no output, so its absence reruns nothing
    status = other.dvc("status", "--with-deps", "train@baseline").stdout
    assert "Data and pipelines are up to date" in status, status
    # with the outputs in place, a dry run plans again (see the test below for a fresh clone)
    other.dvc("repro", "--dry", "train@baseline")


def test_committed_plots_template_inlines_vega():
    template = ROOT / ".dvc" / "plots" / "offline.html"
    assert "html_template = plots/offline.html" in (ROOT / ".dvc" / "config").read_text()
    text = template.read_text(encoding="utf-8")
    assert "{plot_divs}" in text and "{scripts}" not in text  # {scripts}: DVC's CDN tags would go there
    for package in VEGA:
        assert f"<script>/* {package} (npm) */" in text, f"{package}: run python -m dfd_utils.tooling.vendor --refresh"
    assert loads_from_the_network(text) == []


@pytest.mark.slow  # a clone and dvc plots show: about 5 s
def test_dvc_plots_show_on_a_fresh_clone_loads_nothing_from_the_network(fresh):
    fresh.dvc("plots", "show")
    page = (fresh.path / "dvc_plots" / "index.html").read_text(encoding="utf-8")
    for model in STUDY_MODELS:  # one chart per model, its training and validation loss overlaid
        assert f"{model}: training and validation loss by epoch" in page, model
        assert f"{model}/plots/metrics/val_auc.tsv" in page, model  # its curve in the five-model chart
    assert "validation ROC AUC by epoch, five models" in page  # the models against each other
    assert "val_auc" in page and "vegaEmbed" in page
    assert loads_from_the_network(page) == []
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
    body = page.split("<body>", 1)[1]  # the plots: their data are inline, no spec names a URL to load
    assert '"url"' not in body and "<script" in body


@pytest.mark.slow  # a few dvc commands on a fresh clone: about 6 s
def test_status_and_dag_say_what_would_run_on_a_fresh_clone(fresh):
    status = fresh.dvc("status").stdout
    for stage in ("download_subset", "extract_frames", "optical_flow", "train@baseline", "compare_models"):
        assert f"{stage}:" in status, stage
    dag = fresh.dvc("dag", "--md").stdout
    assert "download_subset" in dag and "train@cnn3d" in dag


DRY_RUN_LIMIT = ("treeverse/dvc#10135 (and #9818): a dry run hashes the directory deps that earlier stages "
                 "have not made yet; use dvc status and dvc dag instead")


@pytest.mark.slow
@pytest.mark.xfail(strict=False, raises=AssertionError, reason=DRY_RUN_LIMIT)
def test_dry_run_plans_a_fresh_clone(fresh):
    (fresh.path / "data").mkdir(exist_ok=True)
    fresh.dvc("repro", "--dry")
