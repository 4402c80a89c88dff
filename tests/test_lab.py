"""A notebook opened by hand (JupyterLab, Colab) works on the study's own files, or says which stage to run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from dfd_utils import profiles
from dfd_utils.datasets import load_split
from dfd_utils.flow import load_flow
from dfd_utils.sources.metadata import load_subset

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("load, stage", [
    (lambda d: load_subset(d / "subset"), "01_download_subset"),
    (lambda d: load_split(d / "frames", "train"), "02_extract_frames"),
    (lambda d: load_flow(d / "flow", "a.mp4"), "03_optical_flow"),
])
def test_a_missing_input_names_the_stage_that_makes_it(tmp_path, load, stage):
    with pytest.raises(FileNotFoundError, match=f"not made yet; run notebook {stage} first"):
        load(tmp_path)


@pytest.mark.slow
def test_a_notebook_run_from_lab_without_injected_parameters_reads_params_yaml(tmp_path, monkeypatch):
    """As Lab runs it: the working directory is notebooks/, nothing injected; the project's params.yaml decides."""
    import papermill

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "dfd_utils").mkdir()  # project_root() looks for dvc.yaml beside dfd_utils/
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    params = profiles.resolve("smoke")
    params["data"]["num_videos"] = 10  # not the smoke profile's 24: proves params.yaml was read
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(ROOT / "notebooks" / "01_download_subset.ipynb", project / "notebooks")
    monkeypatch.chdir(project / "notebooks")
    out = project / "executed.ipynb"
    papermill.execute_notebook(str(project / "notebooks" / "01_download_subset.ipynb"), str(out),
                               kernel_name="python3", cwd=str(project / "notebooks"), progress_bar=False)
    metadata = json.loads((project / "artifacts" / "subset" / "metadata.json").read_text())
    assert len(metadata) == 10


def _checkout(root: Path) -> Path:
    """The notebooks of a dfd checkout: ``notebooks/`` beside ``dvc.yaml`` and ``dfd_utils/``."""
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    (root / "dfd_utils").mkdir()
    return root


def _save_with_outputs(manager, name: str) -> dict:
    model = manager.get(name)
    code = next(c for c in model["content"]["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "trained\n"}]
    manager.save(model, name)
    return json.loads((Path(manager.root_dir) / name).read_text())


def test_the_hook_finds_the_study_notebooks_wherever_lab_starts_and_leaves_other_projects_alone(tmp_path):
    from jupyter_server.services.contents.filemanager import FileContentsManager

    project = _checkout(tmp_path / "dfd")
    (tmp_path / "linked").symlink_to(project / "notebooks", target_is_directory=True)
    other = tmp_path / "other"
    (other / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "04_baseline.ipynb", other / "notebooks" / "mine.ipynb")

    def outputs(root: Path, name: str) -> list:
        manager = FileContentsManager(root_dir=str(root), pre_save_hook="dfd_utils.tooling.lab.pre_save")
        return [o for c in _save_with_outputs(manager, name)["cells"] for o in c.get("outputs", [])]

    assert outputs(project, "notebooks/04_baseline.ipynb") == []  # Lab at the project
    assert outputs(project / "notebooks", "05_two_stream.ipynb") == []  # Lab started inside notebooks/
    assert outputs(tmp_path, "dfd/notebooks/06_cnn_rnn.ipynb") == []  # Lab started above the project
    assert outputs(tmp_path, "linked/07_3d_cnn.ipynb") == []  # reached through a link
    assert outputs(other, "notebooks/mine.ipynb") != []  # another project's notebook keeps its outputs


def test_install_keeps_other_settings_and_refuses_a_broken_or_foreign_config(tmp_path):
    from dfd_utils.tooling import lab

    config = tmp_path / "etc" / "jupyter" / "jupyter_server_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"ServerApp": {"port": 9999}}))
    assert lab.install(tmp_path) == config
    assert json.loads(config.read_text()) == {"ServerApp": {"port": 9999},
                                              "FileContentsManager": {"pre_save_hook": lab.HOOK}}
    config.write_text("{not json")
    with pytest.raises(ValueError, match="jupyter_server_config.json: not JSON"):
        lab.install(tmp_path)
    config.write_text(json.dumps({"FileContentsManager": {"pre_save_hook": "theirs.hook"}}))
    with pytest.raises(ValueError, match="already names the pre-save hook 'theirs.hook'"):
        lab.install(tmp_path)
    config.write_text(json.dumps({"FileContentsManager": {"pre_save_hook": "dfd_utils.lab.pre_save"}}))
    lab.install(tmp_path)  # an environment set up before the hook moved to tooling/ is updated, not refused
    assert json.loads(config.read_text())["FileContentsManager"]["pre_save_hook"] == "dfd_utils.tooling.lab.pre_save"


def test_open_and_save_in_lab_leaves_the_notebooks_byte_for_byte(tmp_path):
    """Lab's save path (Jupyter Server's contents manager, with the project's config) on every notebook,
    after Lab's own metadata was put in, writes the committed bytes back: git and `dvc status` stay clean."""
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config


    config = Config()
    exec((ROOT / "jupyter_lab_config.py").read_text(), {"get_config": lambda: config})
    assert config.FileContentsManager.pre_save_hook == "dfd_utils.tooling.lab.pre_save"
    _checkout(tmp_path)
    manager = FileContentsManager(root_dir=str(tmp_path), pre_save_hook=config.FileContentsManager.pre_save_hook)
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        committed = path.read_bytes()
        name = f"notebooks/{path.name}"
        model = manager.get(name)
        content = model["content"]
        content["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"  # what Lab writes
        content["metadata"]["language_info"] = {"name": "python", "version": "3.11.9", "mimetype": "text/x-python",
                                                "file_extension": ".py", "pygments_lexer": "ipython3"}
        content["cells"][0]["metadata"]["execution"] = {"iopub.status.busy": "2026-11-27T21:00:00"}
        manager.save(model, name)
        assert path.read_bytes() == committed, f"{name} changed on save"


def test_paths_are_shown_relative_to_the_project():
    from dfd_utils.paths import Paths, project_root, shown

    assert shown(Paths.at(".").subset) == "artifacts/subset"
    assert shown(project_root() / "build" / "smoke" / "artifacts") == "build/smoke/artifacts"
    assert shown("/elsewhere/x.mp4") == "/elsewhere/x.mp4"  # outside the project: as given


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts a real JupyterLab server: about 5 s
def test_a_plain_jupyter_lab_run_and_save_leaves_a_notebook_as_committed(tmp_path):
    """`jupyter lab` started from the project's environment, with no --config: the hook `make env` installs
    is applied when a notebook is saved through the REST API after Lab put in its metadata and a run's outputs
    (the file stays byte for byte, so `dvc status` stays clean), and a real edit to a cell is still saved."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from dfd_utils.tooling import lab

    config = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json"
    assert json.loads(config.read_text())["FileContentsManager"]["pre_save_hook"] == lab.HOOK, \
        f"{config}: `make env` (python -m dfd_utils.tooling.lab install) names the hook there"
    _checkout(tmp_path)
    port, token = _free_port(), "dfd-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config"),  # no user config: the venv's only
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root",
                               f"--port={port}", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={tmp_path}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost, never a proxy

    def call(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {token}"})
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        for _ in range(120):
            try:
                call("GET", "status")
                break
            except OSError:
                time.sleep(0.5)
        name = "notebooks/04_baseline.ipynb"
        path = tmp_path / name
        committed = path.read_bytes()
        model = call("GET", f"contents/{name}?content=1")
        nb = model["content"]
        nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
        nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3"}
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["execution_count"] = 7
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "trained\n"}]
        code["metadata"]["execution"] = {"iopub.status.busy": "2026-12-07T23:00:00"}
        call("PUT", f"contents/{name}", {"type": "notebook", "format": "json", "content": nb})
        assert path.read_bytes() == committed, f"{name} changed on a run-and-save with no cell edited"

        markdown = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        markdown["source"] = "# An edited title"
        call("PUT", f"contents/{name}", {"type": "notebook", "format": "json", "content": nb})
        saved = json.loads(path.read_text())
        assert "# An edited title" in ["".join(c["source"]) for c in saved["cells"]]
        assert all(c.get("outputs", []) == [] for c in saved["cells"])
    finally:
        server.terminate()
        server.wait(timeout=30)
