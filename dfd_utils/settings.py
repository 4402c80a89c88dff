"""Moved to :mod:`dfd_utils.config.training`; this name stays until its last importers move."""

from dfd_utils.config.training import BACKBONES, MODEL_NAMES, EvaluateConfig, ModelSettings, TrainConfig  # noqa: F401
