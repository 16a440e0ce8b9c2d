"""Training configuration: YAML files in ``configs/`` read into frozen dataclasses.

Every section is a dataclass; a key that no field takes is an error (:class:`ConfigError` names
the key and the allowed ones), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from . import ops
from .data.sensor import SensorConfig
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
    """Where the images come from and how they are prepared (``sensor``: the raw-sensor
    simulation of :mod:`pipeline.data.sensor`, applied to both splits when enabled)."""

    dataset: str = "fashion_mnist"  # fashion_mnist | stl10 | vww | folder
    path: str = "/usr/share/datasets/fashion-mnist"
    train_limit: Optional[int] = None  # first N training images (seeded subset), for tiny runs
    test_limit: Optional[int] = None
    image_size: Optional[int] = None   # folder/vww: images are resized to this square size
    test_fraction: float = 0.2         # folder/vww: held-out share when no split folders exist
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sensor: SensorConfig = field(default_factory=SensorConfig)


@dataclass(frozen=True)
class EncodingConfig:
    kind: str = "glt"            # glt | uniform | base2 | quantile (fixed at the data's quantiles)
    planes: int = 8              # M
    shared: bool = False         # glt, quantile: one threshold set for all input channels
    init: str = "quantile"       # glt: uniform | quantile
    surrogate: str = "ste"       # glt: ste | soft
    temperature: list = field(default_factory=lambda: [16.0, 0.5])  # pixels: start, end
    lr: float = 0.003            # learning rate of the thresholds (pixel/255 units)


@dataclass(frozen=True)
class ModelConfig:
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    # [{conv: C, kernel, stride, padding, groups} | {pool: k, stride} | {shuffle: G} | {dense: N}]
    # (the kinds of pipeline.ops with a config key); the output dense layer is implied. Empty: the default for the input shape.
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
    "model.encoding.kind": ("glt", "uniform", "base2", "quantile"),
    "model.encoding.init": ("uniform", "quantile"),
    "model.encoding.surrogate": ("ste", "soft"),
    "train.schedule": ("cosine", "constant"),
    "train.device": ("auto", "cpu", "cuda"),
    "prune.criterion": ("weight", "bn"),
}

# Inclusive ranges [minimum, maximum] (None: unbounded) of numeric keys; with CHOICES and the
# dataclasses' types they make the JSON Schema every config is validated against.
RANGES: dict[str, tuple[Any, Any]] = {
    "seed": (0, None),
    "data.train_limit": (1, None), "data.test_limit": (1, None), "data.image_size": (4, 4096),
    "data.test_fraction": (0.01, 0.99), "data.augment.shift": (0, 64),
    "model.encoding.planes": (1, 64), "model.encoding.lr": (0, None),
    "teacher.epochs": (0, 10_000), "teacher.lr": (0, None), "teacher.width": (1, 4096),
    "teacher.batch_size": (1, 1 << 16),
    "train.epochs": (1, 10_000), "train.batch_size": (1, 1 << 16), "train.lr": (0, None),
    "train.threads": (1, 1024),
    "distill.temperature": (0.01, None), "distill.alpha": (0, 1),
    "prune.budget_bits": (1, None), "prune.block": (1, 4096), "prune.steps": (1, 1000),
    "prune.finetune_epochs": (0, 10_000), "prune.lr": (0, None), "prune.min_keep": (0.001, 1),
    "deploy.vectors": (1, 1_000_000),
}
# Items of list-valued keys (the schema checks them like any value).
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
LIST_ITEMS: dict[str, dict] = {
    "model.encoding.temperature": {"items": _POSITIVE, "minItems": 2, "maxItems": 2},
    "data.augment.gamma": {"items": _POSITIVE, "minItems": 2, "maxItems": 2},
    "data.sensor.exposure": {"items": _POSITIVE, "minItems": 2, "maxItems": 2},
    "prune.at_epochs": {"items": {"type": "integer", "minimum": 1}},
    "model.layers": {"items": {"type": "object"}},
}
# The largest value of any layer key (channels, kernel, stride, padding, groups): far above
# what fits a microcontroller, small enough that shapes and bit counts stay cheap to compute.
MAX_LAYER_VALUE = 65536
# A config's name becomes a folder under --build-dir: one path component of safe characters.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# Config key of each layer kind (conv, pool, dense ...) -> the keys it allows: from the registry.
LAYER_KEYS = {key: set(op.config_keys) for key, op in ops.config_ops().items()}


def load_config(path: str | Path) -> Config:
    """Read and check a YAML config; the name defaults to the file's stem.

    Everything knowable without data is checked here, so a bad config fails before any data is
    read or any model trained: YAML syntax (one line with file:line:column), unknown keys, types,
    ranges and choices (a JSON Schema derived from the dataclasses), the whole architecture
    (groups, kernel and pooling sizes on the dataset's input shape) and whether the bit budget is
    reachable at ``prune.min_keep``. Every problem is a :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; pick one of configs/*.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    doc.setdefault("name", path.stem)
    return config_from_dict(doc, source=str(path), yaml_text=text)


def config_from_dict(doc: dict, source: str = "config", yaml_text: str | None = None) -> Config:
    """Check ``doc`` (see :func:`load_config`) and build the frozen :class:`Config`."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    _check_schema(doc, source, yaml_text)
    cfg = _build(Config, doc, prefix="", source=source)
    _check_values(cfg, source)
    check_architecture(cfg, source, yaml_text)
    return cfg


# --- the JSON Schema -----------------------------------------------------------------------------
_JSON_TYPES = {int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"},
               str: {"type": "string"}, list: {"type": "array"}}


def _schema_for(cls: type, prefix: str = "", nullable: bool = False) -> dict:
    """JSON Schema of a config dataclass: its fields' types, CHOICES, RANGES, no other keys.
    (A null section or value means "the default", as an empty YAML section reads.)"""
    hints = typing.get_type_hints(cls)
    props = {}
    for f in dataclasses.fields(cls):
        key, hint = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(hint):
            props[f.name] = _schema_for(hint, key + ".", nullable=True)
            continue
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
        if optional:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        sub: dict = {"type": _JSON_TYPES[hint]["type"]} if hint in _JSON_TYPES else {}
        if optional and "type" in sub:
            sub["type"] = [sub["type"], "null"]
        if key in CHOICES:
            sub["enum"] = list(CHOICES[key])
        lo, hi = RANGES.get(key, (None, None))
        if lo is not None:
            sub["minimum"] = lo
        if hi is not None:
            sub["maximum"] = hi
        if key == "name":
            sub["pattern"] = NAME_PATTERN
        if key in LIST_ITEMS:
            sub.update(LIST_ITEMS[key])
        props[f.name] = sub
    return {"type": ["object", "null"] if nullable else "object", "properties": props,
            "additionalProperties": False}


CONFIG_SCHEMA = _schema_for(Config)


def _check_schema(doc: dict, source: str, yaml_text: str | None) -> None:
    import jsonschema

    bad = _non_finite(doc)
    if bad is not None:
        raise ConfigError(f"{_yaml_position(yaml_text, bad, source)}: '{_dotted(bad)}' must be a "
                          "finite number (not .nan or .inf)")
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = list(validator.iter_errors(doc))
    if not errors:
        return
    # the first problem in file order, then the deepest, most specific one at that place
    err = min(errors, key=lambda e: [str(p) for p in e.absolute_path])
    while err.context:  # anyOf / oneOf: report the most relevant alternative's error
        err = jsonschema.exceptions.best_match(err.context)
    path = list(err.absolute_path)
    where = _yaml_position(yaml_text, path, source)
    raise ConfigError(f"{where}: {_describe(err, _dotted(path))}")


def _non_finite(doc: Any, path: list | None = None) -> list | None:
    """The path of the first NaN or infinite number in a YAML document (a JSON Schema range
    check lets NaN through), else None."""
    path = path or []
    if isinstance(doc, float) and not math.isfinite(doc):
        return path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found = _non_finite(value, path + [key])
        if found is not None:
            return found
    return None


def _dotted(path: list) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _describe(err: Any, key: str) -> str:
    """One sentence for a schema error, naming the key and saying what is allowed."""
    v, value = err.validator, err.instance
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        name = extra[0] if extra else "?"
        if key and "[" not in key:
            name = f"{key}.{name}"
        return f"unknown key '{name}'; allowed keys: {', '.join(allowed)}"
    if v == "enum":
        return f"'{key}' is {value!r}; allowed: {', '.join(map(str, err.validator_value))}"
    if v in ("minimum", "maximum"):
        lo, hi = (err.schema.get("minimum"), err.schema.get("maximum"))
        bounds = (f"in [{lo}, {hi}]" if lo is not None and hi is not None else
                  f">= {lo}" if lo is not None else f"<= {hi}")
        return f"'{key}' must be {bounds}, got {value!r}"
    if v == "type":
        want = err.validator_value
        want = [w for w in (want if isinstance(want, list) else [want]) if w != "null"][0]
        return f"'{key or 'top level'}' must be {'a mapping' if want == 'object' else want}, " \
               f"got {value!r}"
    if v == "pattern" and key == "name":
        return (f"'name' {value!r} becomes a folder under --build-dir: use letters, digits, "
                "'.', '_' or '-' (one path component, at most 64 characters)")
    return f"'{key}': {err.message}"


def _yaml_position(text: str | None, path: list, source: str) -> str:
    """``file:line:column`` of the YAML node at ``path`` (the nearest enclosing node that exists),
    or just ``source`` when the config did not come from YAML text."""
    if text is None:
        return source
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return source
    mark = node.start_mark if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node, mark = found, found.start_mark
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source


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
    """Checks that involve several keys (single values are the schema's job)."""
    enc = cfg.model.encoding
    if enc.kind == "base2" and enc.planes > 8:
        raise ConfigError(f"{source}: 'model.encoding.planes' must be 1..8 for base2 (the ADC's "
                          f"8 bit-planes), got {enc.planes}")
    if len(enc.temperature) != 2 or min(enc.temperature) <= 0:
        raise ConfigError(f"{source}: 'model.encoding.temperature' must be [start, end] > 0")
    for problem in cfg.data.sensor.check():
        raise ConfigError(f"{source}: data.sensor: {problem}")
    aug = cfg.data.augment
    if aug.gamma is not None and (len(aug.gamma) != 2 or not 0 < aug.gamma[0] <= aug.gamma[1]):
        raise ConfigError(f"{source}: 'data.augment.gamma' must be [low, high], 0 < low <= high")
    at = cfg.prune.at_epochs
    if at and (len(at) != cfg.prune.steps or sorted(at) != list(at)
               or not all(isinstance(e, int) and 1 <= e <= cfg.train.epochs for e in at)):
        raise ConfigError(f"{source}: 'prune.at_epochs' must list prune.steps ({cfg.prune.steps}) "
                          f"sorted student epochs in 1..{cfg.train.epochs}, got {at}")
    for i, spec in enumerate(cfg.model.layers):
        _check_layer_spec(spec, i, source)


def _check_layer_spec(spec: Any, i: int, source: str) -> None:
    where = f"{source}: model.layers[{i}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping such as {{conv: 32, kernel: 3}}")
    kinds = [k for k in LAYER_KEYS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(f"{where} must have exactly one of {', '.join(LAYER_KEYS)}; "
                          f"got {sorted(spec)}")
    unknown = set(spec) - LAYER_KEYS[kinds[0]]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{sorted(unknown)[0]}'; allowed keys: "
                          f"{', '.join(sorted(LAYER_KEYS[kinds[0]]))}")
    for key, value in spec.items():
        low = 0 if key == "padding" else 1
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_LAYER_VALUE:
            raise ConfigError(f"{where}: '{key}' must be an integer in [{low}, {MAX_LAYER_VALUE}], "
                              f"got {value!r}")


def check_architecture(cfg: Config, source: str = "config", yaml_text: str | None = None) -> None:
    """Build the network's shapes on the dataset's input shape (without reading the data) and
    check that every layer fits and that the bit budget is reachable: the smallest model block
    pruning may leave (every layer at ``prune.min_keep``) must be under ``prune.budget_bits``."""
    from .data import input_spec
    from .nn.arch import ArchitectureError, arch_bits, layer_shapes, make_arch, narrowed_to_min

    shape, classes = input_spec(cfg.data)
    try:
        arch = make_arch(cfg.model, shape, classes)
        layer_shapes(arch)
    except ArchitectureError as exc:
        index = exc.args[1] if len(exc.args) > 1 and exc.args[1] < len(cfg.model.layers) else None
        where = _yaml_position(yaml_text, ["model", "layers"] + ([index] if index is not None
                                                                 else []), source)
        raise ConfigError(f"{where}: model.{exc.args[0]} (on the {cfg.data.dataset} input "
                          f"{'x'.join(map(str, shape))})") from None
    if cfg.prune.enabled:
        smallest = arch_bits(narrowed_to_min(arch, cfg.prune.min_keep))
        if smallest > cfg.prune.budget_bits:
            raise ConfigError(
                f"{_yaml_position(yaml_text, ['prune', 'budget_bits'], source)}: "
                f"'prune.budget_bits' {cfg.prune.budget_bits:,} cannot be reached: with "
                f"every layer pruned to prune.min_keep ({cfg.prune.min_keep}) the model still has "
                f"{smallest:,} bits; raise the budget, lower min_keep or list smaller layers")
