"""params.yaml, the profiles, the notebooks' parameters and dvc.yaml agree."""

import json
from pathlib import Path

import yaml

from dfd_utils.pipeline import load_params, notebook_path, parameters_for
from dfd_utils.provenance import imported_modules, module_closure

ROOT = Path(__file__).resolve().parent.parent
PROFILES = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "profiles").glob("*.yaml")}


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and k not in ("models",):
            out |= _keys(v, f"{prefix}{k}.")
    return out


def test_params_yaml_is_the_demo_profile():
    assert set(PROFILES) == {"smoke", "demo", "paper"}
    assert load_params() == PROFILES["demo"]


def test_profiles_set_the_same_keys():
    assert _keys(PROFILES["smoke"]) == _keys(PROFILES["demo"]) == _keys(PROFILES["paper"])
    assert PROFILES["paper"]["train"]["backbone"] == "resnet50" and PROFILES["paper"]["data"]["num_videos"] == 825


def test_notebook_defaults_are_the_smoke_profile():
    smoke = PROFILES["smoke"]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{nb.name}: needs exactly one cell tagged parameters"
        namespace: dict = {}
        exec("".join(params[0]["source"]), namespace)
        assert namespace["root"] == "build/smoke", nb.name
        for key in ("frames", "flow", "splits", "real_faces"):
            if key in namespace:
                assert namespace[key] == smoke[key], f"{nb.name}: {key}"
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), f"{nb.name} has outputs"


def test_parameters_for_passes_only_declared_names():
    values = parameters_for(notebook_path("03_optical_flow"), PROFILES["demo"], root=".")
    assert set(values) == {"root", "seed", "workers", "flow"}
    assert values["flow"] == PROFILES["demo"]["flow"]


def test_every_stage_notebook_exists_and_params_are_known():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    demo_keys = _keys(PROFILES["demo"]) | {f"models.{m}" for m in PROFILES["demo"]["models"]}
    for name, stage in dvc["stages"].items():
        stages = [stage["do"]] if "foreach" in stage else [stage]
        for s in stages:
            for p in s.get("params", []):
                p = p.replace("${key}", "baseline")
                assert p in demo_keys, f"{name}: unknown param {p}"
    for nb in ("01_download_subset", "02_extract_frames", "03_optical_flow", "04_baseline", "05_two_stream",
               "06_cnn_rnn", "07_3d_cnn", "08_compare_models", "09_real_faces"):
        assert notebook_path(nb).is_file()


def test_stage_deps_cover_every_module_the_notebook_imports():
    """A change to any module a stage runs must rerun the stage (and only those: no `dfd_utils` catch-all)."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for name, stage in dvc["stages"].items():
        s = stage["do"] if "foreach" in stage else stage
        notebooks = [d for d in s["deps"] if d.startswith("notebooks/")]
        if "foreach" in stage:
            notebooks = [f"notebooks/{item['notebook']}.ipynb" for item in stage["foreach"].values()]
        code = "\n".join(  # shell and magic lines (the Colab cell) become `pass`
            "".join(line[: len(line) - len(line.lstrip())] + "pass\n" if line.lstrip().startswith(("!", "%"))
                    else line for line in c["source"])
            for nb in notebooks for c in json.loads((ROOT / nb).read_text())["cells"] if c["cell_type"] == "code")
        needed = {p.relative_to(ROOT) for p in module_closure(imported_modules(code))
                  if p != ROOT / "dfd_utils/__init__.py"}
        deps = [ROOT / d for d in s["deps"]]
        covered = {n for n in needed if any((ROOT / n) == d or d in (ROOT / n).parents for d in deps)}
        assert needed == covered, f"stage {name}: add {sorted(map(str, needed - covered))} to its deps"
