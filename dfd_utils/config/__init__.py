"""One typed configuration: ``params.yaml`` read once into dataclasses, every key checked.

Each section maps onto a dataclass of this package, which holds every default and checks
its own ranges; this module holds the sections made of others (``data``, ``real_faces``,
``families``, the whole study), walks the file, refuses any key it does not know with
its dotted name and the known keys (a ``train.epoch: 3`` typo must stop the run, not
train for the default 10 epochs), and merges the per-model overrides of ``models``. A
section may be partial: missing keys take the dataclass default. The package holds
settings only (the standard library), so every stage reads its configuration
without loading, or depending on, any data or model code::

    types.py     each value checked against its field's type, naming the dotted key
    checks.py    range checks with one message shape
    data.py      the generated sets' knobs (synthetic, faces) and the split shares
    inputs.py    frames and flow
    training.py  training and evaluation
    chapters.py  chapter 00's and chapter 13's own sections (09 and 12 are here, made of the others)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields

from dfd_utils.config.chapters import PER_FRAME_MODELS, DifficultyConfig, FramesPerVideoConfig  # noqa: F401
from dfd_utils.config.checks import check_range
from dfd_utils.config.data import ClipSetConfig, FacesConfig, SplitConfig, SyntheticConfig
from dfd_utils.config.inputs import FlowConfig, FrameConfig
from dfd_utils.config.training import MODEL_NAMES, EvaluateConfig, ModelSettings, TrainConfig
from dfd_utils.config.types import clip_problem, type_problem

SOURCES = ("synthetic", "faces", "dfdc", "kaggle")
GENERATOR_OWN = ("num_videos", "fake_share", "seed")  # set from data and seed, not in data.synthetic / data.faces


class ConfigError(ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message names it."""


def build(cls, values: dict | None, where: str, exclude: tuple[str, ...] = (), dotted: bool = True):
    """``cls(**values)`` that refuses unknown keys and wraps the dataclass's own range checks with ``where``."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(values).__name__} {values!r}")
    known = [f.name for f in fields(cls) if f.name not in exclude]
    unknown = sorted(set(values) - set(known), key=str)
    if unknown:
        names = ", ".join(f"{where}.{k}" for k in unknown)
        raise ConfigError(f"unknown key {names}; the keys of {where} are: {', '.join(known)}")
    problem = type_problem(cls, values, where, dotted)  # booleans booleans, numbers finite, text text
    if not problem and isinstance(cls, type) and issubclass(cls, ClipSetConfig):
        problem = clip_problem(values, where)  # a generated clip's size, rate and length
    if problem:
        raise ConfigError(problem)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        message = str(err)
        named = dotted and message.split(" ")[0] in known  # "frames.num_frames must be >= 2"
        raise ConfigError(f"{where}.{message}" if named else f"{where}: {message}") from None


TRAIN_EXCLUDE = ("seed", "device")  # top-level keys of params.yaml


def train_keys() -> list[str]:
    loop = [f.name for f in fields(TrainConfig) if f.name not in TRAIN_EXCLUDE]
    return loop + [f.name for f in fields(ModelSettings)]


def train_settings(train: dict | None, where: str = "train", seed: int = 0, device: str = "cpu"
                   ) -> tuple[TrainConfig, ModelSettings]:
    """The flat ``train`` section split into the loop's settings and the model's, every key checked."""
    if train is not None and not isinstance(train, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {train!r}")
    train = dict(train or {})
    model_keys = {f.name for f in fields(ModelSettings)}
    loop_keys = {f.name for f in fields(TrainConfig)} - set(TRAIN_EXCLUDE)
    unknown = sorted(set(train) - model_keys - loop_keys, key=str)
    if unknown:
        names = ", ".join(f"{where}.{k}" for k in unknown)
        raise ConfigError(f"unknown key {names}; the keys of {where} are: {', '.join(train_keys())}")
    loop = build(TrainConfig, {**{k: v for k, v in train.items() if k in loop_keys}, "seed": seed, "device": device},
                 where)
    model = build(ModelSettings, {k: v for k, v in train.items() if k in model_keys}, where)
    return loop, model


def merged_train(train: dict | None, models: dict | None, name: str) -> dict:
    """``train`` with the overrides of ``models.<name>`` on top (checked: only model names, only train keys)."""
    models = models or {}
    if not isinstance(models, dict):
        raise ConfigError("models: expected a mapping of model names to train overrides")
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        raise ConfigError(f"unknown key {', '.join('models.' + k for k in unknown)}; the keys of models are: "
                          f"{', '.join(MODEL_NAMES)}")
    override = models.get(name) or {}
    bad = sorted(set(override) - set(train_keys()))
    if bad:
        raise ConfigError(f"unknown key {', '.join(f'models.{name}.{k}' for k in bad)}; a model override takes "
                          f"the keys of train: {', '.join(train_keys())}")
    return {**(train or {}), **override}


@dataclass(frozen=True)
class DataConfig:
    source: str = "synthetic"  # synthetic | faces | dfdc | kaggle
    num_videos: int = 825  # the paper's subset size
    fake_share: float = 0.6  # the paper's subset: about 60 % FAKE
    dfdc_path: str = "data/dfdc"  # dfdc source: train_sample_videos/, dfdc_train_part_N/ or zips under here
    synthetic: dict = field(default_factory=dict)  # SyntheticConfig's knobs
    faces: dict = field(default_factory=dict)  # FacesConfig's knobs

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        check_range("num_videos", self.num_videos, 2, kind=int)
        check_range("fake_share", self.fake_share, 0, 1, low_open=True, high_open=True)
        build(SyntheticConfig, self.synthetic, "data.synthetic", GENERATOR_OWN)
        build(FacesConfig, self.faces, "data.faces", GENERATOR_OWN)

    def generator(self, seed: int) -> SyntheticConfig | FacesConfig:
        """The generating source's full config (synthetic or faces)."""
        cls, knobs = (SyntheticConfig, self.synthetic) if self.source == "synthetic" else (FacesConfig, self.faces)
        return build(cls, {**knobs, "num_videos": self.num_videos, "fake_share": self.fake_share, "seed": seed},
                     f"data.{self.source}")


def data_config(data: dict | None) -> DataConfig:
    return build(DataConfig, data, "data")


@dataclass(frozen=True)
class RealFacesConfig:
    """Chapter 09: the five models on real faces, full frame against face crop."""

    num_videos: int = 120
    fake_share: float = 0.6
    models: tuple[str, ...] = tuple(MODEL_NAMES)
    faces: dict = field(default_factory=dict)  # FacesConfig's knobs
    frames: dict = field(default_factory=dict)  # per variant (full, face): FrameConfig overrides
    train: dict = field(default_factory=dict)  # train overrides for this chapter

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))
        check_range("num_videos", self.num_videos, 6, kind=int)
        check_range("fake_share", self.fake_share, 0, 1, low_open=True, high_open=True)
        unknown = sorted(set(self.models) - set(MODEL_NAMES))
        if unknown or not self.models:
            raise ValueError(f"models must name models of {', '.join(MODEL_NAMES)}, got {list(self.models)}")
        build(FacesConfig, self.faces, "real_faces.faces", GENERATOR_OWN)
        bad = sorted(set(self.frames) - {"full", "face"})
        if bad:
            raise ValueError(f"frames: unknown variant(s) {bad}; the variants are full, face")
        for variant, values in self.frames.items():
            build(FrameConfig, values, f"real_faces.frames.{variant}", ("crop",))
        bad = sorted(set(self.train) - set(train_keys()))
        if bad:
            raise ConfigError(f"unknown key {', '.join('real_faces.train.' + k for k in bad)}; the keys of "
                              f"real_faces.train are those of train: {', '.join(train_keys())}")


FAMILIES = ("spatial", "temporal", "both")  # chapter 12's synthetic fake families


@dataclass(frozen=True)
class FamiliesConfig:
    """Chapter 12: spatial-only, temporal-only and both, from the same originals (beyond the paper).

    The spatial fakes are the study's overlay with its spatial knobs (``data.synthetic``'s
    seam, colour and resolution mismatch, at the strength chapter 00 chose) and no
    temporal one; the temporal fakes keep the original's face and shake and re-light the
    whole head at ``temporal`` (``head_jitter`` and ``head_flicker``); both do both.
    """

    num_videos: int = 120  # clips per family; the reals (the originals) are the same clips in every family
    fake_share: float = 0.5
    temporal: float = 1.0  # head_jitter and head_flicker of the temporal fakes
    splits: tuple[float, float, float] = (0.45, 0.15, 0.4)  # train / val / test, the same videos in every family
    models: tuple[str, ...] = tuple(MODEL_NAMES)
    train: dict = field(default_factory=dict)  # train overrides for this chapter

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "splits", tuple(self.splits))
        check_range("num_videos", self.num_videos, 6, kind=int)
        check_range("fake_share", self.fake_share, 0, 1, low_open=True, high_open=True)
        check_range("temporal", self.temporal, 0, 1, low_open=True)
        unknown = sorted(set(self.models) - set(MODEL_NAMES))
        if unknown or not self.models or len(set(self.models)) != len(self.models):
            raise ValueError(f"models must name distinct models of {', '.join(MODEL_NAMES)}, got {list(self.models)}")
        if len(self.splits) != 3:
            raise ValueError(f"splits must hold three shares (train, val, test), got {list(self.splits)}")
        SplitConfig(*self.splits).check_count(self.num_videos, "splits")
        bad = sorted(set(self.train) - set(train_keys()))
        if bad:
            raise ConfigError(f"unknown key {', '.join('families.train.' + k for k in bad)}; the keys of "
                              f"families.train are those of train: {', '.join(train_keys())}")


@dataclass(frozen=True)
class StudyConfig:
    """The whole of ``params.yaml``, checked."""

    seed: int = 0
    workers: int = 0  # processes for extraction and flow; 0 = all cores
    device: str = "cpu"  # cpu | cuda | auto
    data: DataConfig = field(default_factory=DataConfig)
    frames: FrameConfig = field(default_factory=FrameConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    train: dict = field(default_factory=dict)  # flat: TrainConfig + ModelSettings keys (see train_settings)
    models: dict = field(default_factory=dict)  # per-model overrides of train
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    real_faces: RealFacesConfig = field(default_factory=RealFacesConfig)
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    frames_per_video: FramesPerVideoConfig = field(default_factory=FramesPerVideoConfig)
    families: FamiliesConfig = field(default_factory=FamiliesConfig)

    def __post_init__(self):
        check_range("seed", self.seed, 0, kind=int)
        check_range("workers", self.workers, 0, kind=int)
        if self.device not in ("cpu", "auto") and not str(self.device).startswith("cuda"):
            raise ValueError(f"device must be cpu, cuda or auto, got {self.device!r}")
        if self.data.source != "faces":  # the faces source fixes its splits by identity
            self.splits.check_count(self.data.num_videos, f"splits (for data.num_videos = {self.data.num_videos})")

    def train_for(self, name: str) -> tuple[TrainConfig, ModelSettings]:
        """The loop's and the model's settings for model ``name``: ``train`` with ``models.<name>`` on top."""
        where = "train" if not (self.models or {}).get(name) else f"train + models.{name}"
        return train_settings(merged_train(self.train, self.models, name), where, self.seed, self.device)


SECTIONS = {"data": data_config,
            "frames": lambda v: build(FrameConfig, v, "frames"),
            "flow": lambda v: build(FlowConfig, v, "flow"),
            "splits": lambda v: build(SplitConfig, v, "splits"),
            "evaluate": lambda v: build(EvaluateConfig, v, "evaluate"),
            "real_faces": lambda v: build(RealFacesConfig, v, "real_faces"),
            "difficulty": lambda v: build(DifficultyConfig, v, "difficulty"),
            "frames_per_video": lambda v: build(FramesPerVideoConfig, v, "frames_per_video"),
            "families": lambda v: build(FamiliesConfig, v, "families")}


def parse(params: dict, where: str = "params.yaml") -> StudyConfig:
    """Every section of ``params`` checked and typed; the first unknown key or bad value raises, naming it.

    Messages start with ``where`` (the file), then the dotted key.
    """
    try:
        return _parse(params, where)
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if message.startswith(f"{where}:") else f"{where}: {message}") from None


def _parse(params: dict, where: str) -> StudyConfig:
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: expected a mapping of parameter sections")
    known = [f.name for f in fields(StudyConfig)]
    unknown = sorted(set(params) - set(known), key=str)
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(unknown)}; the top-level keys are: {', '.join(known)}")
    values = {k: SECTIONS[k](v) if k in SECTIONS else v for k, v in params.items()}
    study = build(StudyConfig, values, where, dotted=False)
    if "frames" in params and study.data.source in ("synthetic", "faces"):  # generated clips: stage 02's frames
        problem = clip_problem(asdict(study.data.generator(study.seed)), f"data.{study.data.source}",
                               study.frames.num_frames)
        if problem:
            raise ConfigError(problem)
    for name in MODEL_NAMES:  # train, each model's override and the model names of `models`, checked
        study.train_for(name)
    return study


def load(path: str | os.PathLike = "params.yaml") -> StudyConfig:
    """Read and check a parameters file (a profile); errors name the file and the dotted key."""
    from dfd_utils.pipeline import load_params

    return parse(load_params(path), str(path))


def for_notebook(params: str | dict | None) -> StudyConfig:
    """What a notebook runs with: ``None`` (by hand) reads the project's ``params.yaml``; a profile's name
    (``"smoke"``) that profile; a mapping is the values DVC passes.

    Through DVC (``dfd_utils.pipeline``), ``params`` holds exactly the values the
    notebook's stage tracks in ``dvc.yaml``; sections it does not track keep their
    defaults and must not be read (``tests/test_pipeline.py`` checks the notebooks).
    """
    if params is None:  # opened by hand (JupyterLab, Colab): the study's own params.yaml
        return load("params.yaml")
    if isinstance(params, str):
        return load(f"profiles/{params}.yaml")
    return parse(params, "params.yaml")
