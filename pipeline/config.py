"""Training configuration: YAML files in ``configs/`` read into frozen dataclasses.

Every section is a dataclass; a key that no field takes is an error (:class:`ConfigError` names
the key and the allowed ones), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import PipelineError

BIT_BUDGET_DEFAULT = 1_000_000


class ConfigError(PipelineError, ValueError):
    """A configuration file is missing, malformed, or holds an unknown key or a bad value."""


@dataclass(frozen=True)
class AugmentConfig:
    hflip: bool = False           # random horizontal flip
    shift: int = 0                # random translation by up to this many pixels (edge replicated)
    gamma: Optional[list] = None  # [low, high]: random gamma/exposure shift per image


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion_mnist"  # fashion_mnist | stl10 | vww | folder
    path: str = "/usr/share/datasets/fashion-mnist"
    train_limit: Optional[int] = None  # first N training images (seeded subset), for tiny runs
    test_limit: Optional[int] = None
    image_size: Optional[int] = None   # folder/vww: images are resized to this square size
    test_fraction: float = 0.2         # folder/vww: held-out share when no split folders exist
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class EncodingConfig:
    kind: str = "glt"            # glt | uniform | base2
    planes: int = 8              # M
    shared: bool = False         # glt: one threshold set for all input channels
    init: str = "quantile"       # glt: uniform | quantile
    surrogate: str = "ste"       # glt: ste | soft
    temperature: list = field(default_factory=lambda: [16.0, 0.5])  # pixels: start, end
    lr: float = 0.003            # learning rate of the thresholds (pixel/255 units)


@dataclass(frozen=True)
class ModelConfig:
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    # [{conv: C, kernel, stride, padding, groups} | {pool: k, stride} | {dense: N}]; the output
    # dense layer (one unit per class) is implied. Empty: the default for the input shape.
    layers: list = field(default_factory=list)


@dataclass(frozen=True)
class TeacherConfig:
    enabled: bool = True
    epochs: int = 1
    lr: float = 0.002
    width: int = 32          # channels of the first conv; doubles per stage
    batch_size: int = 128


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    batch_size: int = 128
    lr: float = 0.005
    schedule: str = "cosine"  # cosine | constant
    threads: int = 2          # torch intra-op threads on CPU
    device: str = "auto"      # auto | cpu | cuda


@dataclass(frozen=True)
class DistillConfig:
    enabled: bool = True
    temperature: float = 4.0
    alpha: float = 0.5        # weight of the KL term; (1 - alpha) weighs cross-entropy


@dataclass(frozen=True)
class PruneConfig:
    enabled: bool = True
    budget_bits: int = BIT_BUDGET_DEFAULT
    block: int = 8                 # channels per pruned block
    criterion: str = "weight"      # weight (mean |latent w| of the block) | bn (mean |BN scale|)
    steps: int = 3                 # the excess is removed in this many steps
    at_epochs: list = field(default_factory=list)  # student epochs after which steps run
    finetune_epochs: float = 0.5   # after each step (may be 0 when later epochs follow)
    lr: float = 0.001
    min_keep: float = 0.25         # never keep fewer than this share of a layer's channels


@dataclass(frozen=True)
class DeployConfig:
    vectors: int = 20             # test vectors embedded in the firmware


@dataclass(frozen=True)
class Config:
    name: str = "model"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "data.dataset": ("fashion_mnist", "stl10", "vww", "folder"),
    "model.encoding.kind": ("glt", "uniform", "base2"),
    "model.encoding.init": ("uniform", "quantile"),
    "model.encoding.surrogate": ("ste", "soft"),
    "train.schedule": ("cosine", "constant"),
    "train.device": ("auto", "cpu", "cuda"),
    "prune.criterion": ("weight", "bn"),
}


def load_config(path: str | Path) -> Config:
    """Read a YAML config; the name defaults to the file's stem."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; pick one of configs/*.yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    doc.setdefault("name", path.stem)
    return config_from_dict(doc, source=str(path))


def config_from_dict(doc: dict, source: str = "config") -> Config:
    cfg = _build(Config, doc, prefix="", source=source)
    _check_values(cfg, source)
    return cfg


def _build(cls: type, doc: Any, prefix: str, source: str) -> Any:
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: section '{prefix.rstrip('.') or 'top'}' must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in doc.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'; allowed keys: "
                              f"{', '.join(sorted(fields))}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, f"{prefix}{key}.", source)
        else:
            kwargs[key] = _coerce(value, hint, f"{prefix}{key}", source)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          bool: lambda v: isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          list: lambda v: isinstance(v, list)}
    check = ok.get(hint)
    if check is not None and not check(value):
        raise ConfigError(f"{source}: '{key}' must be {hint.__name__}, got {value!r}")
    return float(value) if hint is float else value


def _check_values(cfg: Config, source: str) -> None:
    for key, allowed in CHOICES.items():
        value: Any = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if value not in allowed:
            raise ConfigError(f"{source}: '{key}' is {value!r}; allowed: {', '.join(allowed)}")
    enc = cfg.model.encoding
    if enc.planes < 1 or (enc.kind == "base2" and enc.planes > 8):
        raise ConfigError(f"{source}: 'model.encoding.planes' must be >= 1 (base2: 1..8)")
    if len(enc.temperature) != 2 or min(enc.temperature) <= 0:
        raise ConfigError(f"{source}: 'model.encoding.temperature' must be [start, end] > 0")
    aug = cfg.data.augment
    if aug.gamma is not None and (len(aug.gamma) != 2 or not 0 < aug.gamma[0] <= aug.gamma[1]):
        raise ConfigError(f"{source}: 'data.augment.gamma' must be [low, high], 0 < low <= high")
    if cfg.train.epochs < 1 or cfg.train.batch_size < 1:
        raise ConfigError(f"{source}: 'train.epochs' and 'train.batch_size' must be >= 1")
    if not 0 < cfg.prune.min_keep <= 1 or cfg.prune.block < 1 or cfg.prune.steps < 1:
        raise ConfigError(f"{source}: 'prune' needs 0 < min_keep <= 1, block >= 1, steps >= 1")
    at = cfg.prune.at_epochs
    if at and (len(at) != cfg.prune.steps or sorted(at) != list(at)
               or not all(isinstance(e, int) and 1 <= e <= cfg.train.epochs for e in at)):
        raise ConfigError(f"{source}: 'prune.at_epochs' must list prune.steps ({cfg.prune.steps}) "
                          f"sorted student epochs in 1..{cfg.train.epochs}, got {at}")
    if cfg.prune.finetune_epochs < 0:
        raise ConfigError(f"{source}: 'prune.finetune_epochs' must be >= 0")
    if not 0 <= cfg.distill.alpha <= 1 or cfg.distill.temperature <= 0:
        raise ConfigError(f"{source}: 'distill' needs 0 <= alpha <= 1 and temperature > 0")
    if cfg.deploy.vectors < 1:
        raise ConfigError(f"{source}: 'deploy.vectors' must be >= 1")
    for i, spec in enumerate(cfg.model.layers):
        _check_layer_spec(spec, i, source)


LAYER_KEYS = {"conv": {"conv", "kernel", "stride", "padding", "groups"},
              "pool": {"pool", "stride"},
              "dense": {"dense"}}


def _check_layer_spec(spec: Any, i: int, source: str) -> None:
    where = f"{source}: model.layers[{i}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping such as {{conv: 32, kernel: 3}}")
    kinds = [k for k in LAYER_KEYS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(f"{where} must have exactly one of conv, pool, dense; got {sorted(spec)}")
    unknown = set(spec) - LAYER_KEYS[kinds[0]]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{sorted(unknown)[0]}'; allowed keys: "
                          f"{', '.join(sorted(LAYER_KEYS[kinds[0]]))}")
    for key, value in spec.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "padding" else 1):
            raise ConfigError(f"{where}: '{key}' must be a positive integer, got {value!r}")
