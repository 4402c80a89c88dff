"""params.yaml, the profiles, the notebooks' parameters and dvc.yaml agree."""

import json
from pathlib import Path

import pytest
import yaml

from dfd_utils import profiles
from dfd_utils.config import parse
from dfd_utils.pipeline import UNTRACKED, chapters, load_params, main, notebook_path, parameters_for, stage_params
from dfd_utils.tooling import stage_deps

ROOT = Path(__file__).resolve().parent.parent
PROFILES = {name: profiles.resolve(name) for name in profiles.names()}  # each overlay merged over the base


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and k not in ("models",):
            out |= _keys(v, f"{prefix}{k}.")
    return out


def test_params_yaml_is_the_demo_profile():
    assert set(PROFILES) == {"smoke", "demo", "paper", "paper_check"}
    assert load_params() == PROFILES["demo"]
    assert (ROOT / "params.yaml").read_text() == profiles.render("demo"), "regenerate: make profile PROFILE=demo"


@pytest.mark.parametrize("name", ["demo", "smoke", "paper"])
def test_dvc_writing_a_value_back_changes_that_line_only(name, tmp_path):
    """`dvc exp run -S train.lr=...` rewrites params.yaml with DVC's own YAML layout: a generated profile already
    in that layout gets a one-line diff, not a re-indented file (DVC's serializer, as -S calls it)."""
    from dvc.utils.serialize import modify_yaml

    path = tmp_path / "params.yaml"
    text = profiles.render(name)
    path.write_text(text)
    with modify_yaml(path) as data:
        data["train"]["lr"] = 0.002
    before, after = text.splitlines(), path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1, changed
    assert changed[0][1].strip().startswith("lr: 0.002")


def test_every_profile_resolves_to_a_complete_checked_configuration():
    """Overlays hold only differences, yet each merges into every key of the base and passes the typed checks."""
    for name, params in PROFILES.items():
        assert _keys(params) == _keys(PROFILES["demo"]), name
        parse(params, f"profiles/{name}.yaml")
    assert PROFILES["paper"]["train"]["backbone"] == "resnet50" and PROFILES["paper"]["data"]["num_videos"] == 825
    assert PROFILES["paper"]["train"]["lr"] == PROFILES["demo"]["train"]["lr"]  # inherited, not copied


def test_overlays_hold_only_differences():
    base = profiles.read_profile("demo")

    def same(over, base_part, where=""):
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(base_part[k], dict) and base_part[k]:
                yield from same(v, base_part[k], f"{where}{k}.")
            elif v == base_part[k]:
                yield f"{where}{k}"

    for name in profiles.names()[1:]:
        assert list(same(profiles.read_profile(name), base)) == [], f"profiles/{name}.yaml repeats the base"


def test_an_overlay_key_the_base_lacks_is_refused(tmp_path, monkeypatch):
    (tmp_path / "demo.yaml").write_text("train:\n  epochs: 5\n")
    (tmp_path / "typo.yaml").write_text("train:\n  epoch: 3\n")
    monkeypatch.setattr(profiles, "profiles_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=r"typo.yaml: train.epoch: not a key of the base profile"):
        profiles.resolve("typo")
    assert profiles.resolve("demo") == {"train": {"epochs": 5}}


def test_make_profile_writes_the_merged_profile_with_the_base_comments(tmp_path):
    out = profiles.write_params("paper", tmp_path / "params.yaml")
    text = out.read_text()
    assert yaml.safe_load(text) == PROFILES["paper"]
    assert "# the paper's Adam learning rate" in text and text.startswith("# GENERATED from profiles/demo.yaml")


def test_notebooks_opened_by_hand_read_the_study_and_have_no_outputs():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{nb.name}: needs exactly one cell tagged parameters"
        namespace: dict = {}
        exec("".join(params[0]["source"]), namespace)
        assert namespace["root"] == "." and namespace["params"] is None, nb.name  # Lab: the study's own data
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), f"{nb.name} has outputs"


def test_parameters_for_passes_exactly_what_the_stage_tracks():
    values = parameters_for(notebook_path("03_optical_flow"), PROFILES["demo"], root=".")
    assert values == {"root": ".", "params": {"flow": PROFILES["demo"]["flow"], "workers": 0}}
    train = parameters_for(notebook_path("05_two_stream"), PROFILES["demo"], root=".", model_name="two_stream_video")
    assert set(train["params"]) == {"seed", "device", "data", "frames", "train", "models", "evaluate", "workers"}
    assert train["params"]["data"] == {"source": "synthetic", "num_videos": 240}  # dotted: only those two keys
    assert train["params"]["models"] == {"two_stream_video": {"epochs": 3}}


def test_notebooks_read_only_sections_their_stage_tracks():
    """``study.<section>`` in a notebook must be a section its DVC stage lists, or DVC would not rerun it."""
    import re

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        tracked = {p.split(".")[0] for p in stage_params(nb.stem)} | set(UNTRACKED)
        read = set(re.findall(r"study\.(\w+)", code))
        assert read <= tracked, f"{nb.name} reads {sorted(read - tracked)}, which its stage does not track"


def test_every_stage_notebook_exists_and_params_are_known():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    demo_keys = _keys(PROFILES["demo"]) | {f"models.{m}" for m in PROFILES["demo"]["models"]}
    for name, stage in dvc["stages"].items():
        stages = [stage["do"]] if "foreach" in stage else [stage]
        for s in stages:
            for p in s.get("params", []):
                p = p.replace("${key}", "baseline")
                assert p in demo_keys, f"{name}: unknown param {p}"
    for chapter in chapters():
        assert notebook_path(chapter.notebook).is_file()
    assert {c.notebook for c in chapters()} == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


def test_the_book_lists_the_chapters_in_pipeline_order():
    """dvc.yaml holds the one chapter list; the book's table of contents must follow it."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"] if c["file"].startswith("notebooks/")]
    assert files == [f"notebooks/{c.name}" for c in chapters()]


def test_stage_deps_are_exactly_the_modules_each_stage_runs():
    """A change to a module a stage runs must rerun it, and a change to any other module must not: each stage lists
    the import closure of its notebooks and the runner, file by file, no folder (``make deps`` writes it)."""
    assert stage_deps.differences(ROOT / "dvc.yaml") == []
    listed = stage_deps.listed(ROOT / "dvc.yaml")
    assert all(d.endswith(".py") for deps in listed.values() for d in deps), "a folder dependency reruns too much"


def test_only_the_stages_that_make_synthetic_data_run_its_generator():
    """Editing sources/synthetic.py reruns the stages that render synthetic clips (chapter 00's measurements, stage
    01, chapter 12's families), not training, which reads frames from disk, nor chapter 09, which reads real faces."""
    listed = stage_deps.listed(ROOT / "dvc.yaml")
    runs = {name for name, deps in listed.items() if "dfd_utils/sources/synthetic.py" in deps}
    assert runs == {"choose_difficulty", "download_subset", "families"}
    faces = {name for name, deps in listed.items() if "dfd_utils/sources/faces.py" in deps}
    assert faces == {"download_subset", "real_faces", "families"}
    assert {name for name, deps in listed.items() if "dfd_utils/train.py" in deps} == {
        "train", "real_faces", "families", "frames_per_video"}


def test_the_configuration_loads_no_data_or_model_code():
    """Every stage reads params.yaml through dfd_utils.config: it must import nothing beyond the standard library,
    YAML and its own modules, or every stage would depend on (and rerun for) the code it pulled in."""
    import subprocess
    import sys

    code = ("import sys, dfd_utils.config\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'cv2', 'torch', 'pandas')"
            " or (m.startswith('dfd_utils.') and not m.startswith('dfd_utils.config'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_stage_deps_gives_a_stage_without_code_lines_its_modules_at_the_end_of_its_deps():
    text = ("stages:\n  a:\n    cmd: x\n    deps:\n      - notebooks/a.ipynb\n    outs:\n      - o\n"
            "  b:\n    cmd: y\n    deps:\n      - data\n")
    out = stage_deps.rewrite(text, {"a": ["dfd_utils/io.py"], "b": ["dfd_utils/paths.py"]})
    assert out == ("stages:\n  a:\n    cmd: x\n    deps:\n      - notebooks/a.ipynb\n      - dfd_utils/io.py\n"
                   "    outs:\n      - o\n  b:\n    cmd: y\n    deps:\n      - data\n      - dfd_utils/paths.py\n")


def test_a_package_map_is_no_stage_dependency(tmp_path):
    """Editing the map of modules in a docstring-only __init__.py reruns nothing; an __init__ with code counts."""
    (tmp_path / "map.py").write_text('"""The package map::\n\n    a.py  the first\n"""\n')
    (tmp_path / "code.py").write_text('"""Sources."""\n\nfrom x import y\n')
    assert stage_deps.docstring_only(tmp_path / "map.py") and not stage_deps.docstring_only(tmp_path / "code.py")


def test_stage_deps_rewrites_only_the_code_lines(tmp_path):
    """The generator replaces a stage's dfd_utils/ lines where the first stood; notebooks, data, comments stay."""
    text = ("stages:\n  a:\n    cmd: x\n    deps:\n      - notebooks/a.ipynb\n      - data  # the inputs\n"
            "      - dfd_utils/old.py\n      - dfd_utils/sources\n      - metrics/m.json\n    outs:\n      - o\n")
    out = stage_deps.rewrite(text, {"a": ["dfd_utils/io.py", "dfd_utils/paths.py"]})
    kept = "stages:\n  a:\n    cmd: x\n    deps:\n      - notebooks/a.ipynb\n      - data  # the inputs\n"
    generated = "      - dfd_utils/io.py\n      - dfd_utils/paths.py\n"
    assert out == kept + generated + "      - metrics/m.json\n    outs:\n      - o\n"


def test_the_subset_stage_depends_on_the_data_it_reads():
    """Adding DFDC parts under data/ (tracked by data.dvc) must rerun stage 01: it is a dependency, not a bystander."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["download_subset"]
    assert "data" in stage["deps"]
    assert yaml.safe_load((ROOT / "data.dvc").read_text())["outs"][0]["path"] == "data"
    assert PROFILES["demo"]["data"]["dfdc_path"].startswith("data/")  # the default DFDC copy lives inside it


def test_a_full_disk_while_papermill_saves_names_the_disk_and_the_notebook(monkeypatch, tmp_path, capsys):
    """Papermill saving its copy on a full disk hides the stage's own error: the pipeline says which disk and file."""
    import errno

    import papermill

    def full(notebook, out, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(papermill, "execute_notebook", full)
    monkeypatch.setattr("dfd_utils.pipeline.record", lambda *a: None)
    code = main(["02_extract_frames", "--params", str(ROOT / "profiles" / "smoke.yaml"), "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "02_extract_frames: no space left on the disk mounted at" in err
    assert str(tmp_path / "artifacts" / "executed" / "02_extract_frames.ipynb") in err
