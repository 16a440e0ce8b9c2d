"""The integer IR: the one contract between training and everything downstream.

A model is a tuple of layers: an input encoder (a ``thermometer``) first, then binary layers; the
last layer is an output ``bdense`` (int32 logits). Every array is an integer. Bit conventions
are those of :mod:`pipeline.bits`. This module holds the model, its files (JSON + NPZ, format
version 1), the errors and :class:`Layer`, the base of every layer kind; each kind's dataclass
lives in ``pipeline/ops/<kind>.py`` (:mod:`pipeline.ops`), which documents its layout, and is
still reachable here (``ir.BConv2d``).

Layouts (H, W, C = spatial size and channels of a layer's *input*):

* activations between layers: ``uint32[H, W, words_per_pixel(C, G)]`` where G is the
  *packing groups* of the tensor: the ``in_pack_groups`` of the layer that reads it (a
  ``BConv2d`` reads with ``G = groups``; ``BMaxPool2d`` keeps its input packing; ``BDense``
  and ``BShuffle`` read any packing).
* ``Thermometer``: uint8 HWC image in; output channel ``c*M + k`` is +1 when
  ``pixel >= thresholds[c, k]`` (mode ``thresholds``), or, in mode ``base2``, when bit
  ``7 - k`` of the pixel code is set (the ADC's own binary code, most significant plane first).
* ``BConv2d``: ``weights uint32[Cout, kh, kw, words_per_group(Cin/G)]``; output channel o reads
  input group ``o // (Cout/G)``; spatial padding is **one-padding** (padded taps are +1).
  ``dot = K - 2*popcount(x XOR w)``, ``K = kh*kw*Cin/G``; output is +1 when
  ``(dot >= threshold[o]) != flip[o]``.
* ``BMaxPool2d``: max of +-1 values = AND of bits; no padding; floor output size.
* ``BShuffle``: channel shuffle; output channel o is input channel ``(o % G)*(C/G) + o // G``.
* ``BDense``: ``weights uint32[N, H*W*words_per_pixel(C, in_pack_groups)]`` (the packed input
  flattened as it lies in memory), ``K = H*W*C``. Hidden: thresholds + flip, as ``BConv2d``,
  output shape (1, 1, N). Output: ``logits = dot*mult + bias`` (int32); class = argmax, ties to
  the lowest index.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import typing
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import bits as B
from .atomic import write_atomic, write_text_atomic
from .errors import PipelineError

FORMAT_NAME = "glt-bnn-ir"
FORMAT_VERSION = 1
BIT_BUDGET_DEFAULT = 1_000_000
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class IRError(PipelineError, ValueError):
    """Base class of every IR error."""


class FormatVersionError(IRError):
    """The file is not an IR of a version this code reads."""


class ShapeError(IRError):
    """Shapes or parameters of layers are inconsistent."""


class UnsortedThresholdsError(IRError):
    """Thermometer thresholds of a channel are not strictly increasing."""


class ThresholdRangeError(IRError):
    """A threshold lies outside its meaningful range."""


class PaddingBitsError(IRError):
    """A packed array has a non-zero padding bit."""


class HashMismatchError(IRError):
    """The arrays on disk do not match the sha256 recorded in the JSON."""


class IRMissingError(IRError, FileNotFoundError):
    """The IR file (or its arrays file) does not exist."""


class IRCorruptError(IRError):
    """An IR file is damaged: truncated or bit-flipped arrays, or fields of the wrong type."""


class LayerNameError(ShapeError):
    """A layer name is not a valid, unique C identifier (names reach generated C, ONNX, TFLite)."""


# Layer names become C identifiers, ONNX node names and Keras layer names: only names that are
# valid C identifiers as they stand (no mapping, so two names can never collide) are accepted.
LAYER_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern
    float for goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while _Bool _Complex _Imaginary""".split())
ENCODINGS = ("glt", "uniform", "base2", "quantile")


def check_layer_name(name: Any) -> str:
    """``name`` if it is a valid C identifier (and not a C keyword), else :class:`LayerNameError`."""
    if not isinstance(name, str) or not LAYER_NAME_PATTERN.fullmatch(name) or name in C_KEYWORDS:
        raise LayerNameError(f"layer name {name!r} is not a C identifier (letters, digits and '_', "
                             "not starting with a digit, at most 63 characters, not a C keyword);"
                             " rename the layer")
    return name


def as_int_array(value: Any, dtype: Any) -> np.ndarray:
    """``value`` as a read-only integer array of ``dtype``; a float array is an :class:`IRError`,
    a value that does not fit ``dtype`` a :class:`ThresholdRangeError`."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        raise IRError(f"IR arrays must be integer, got dtype {arr.dtype}")
    out = arr.astype(dtype)
    if not np.array_equal(out.astype(np.int64), arr.astype(np.int64)):
        raise ThresholdRangeError(f"values do not fit {np.dtype(dtype).name}")
    out.setflags(write=False)
    return out


def tuple3(v: Any) -> tuple[int, int, int]:
    """``v`` as an (H, W, C) tuple of positive ints, else :class:`ShapeError`."""
    t = tuple(int(x) for x in v)
    if len(t) != 3 or min(t) <= 0:
        raise ShapeError(f"shape must be three positive ints (H, W, C), got {v}")
    return t  # type: ignore[return-value]


class Layer:
    """Base of every IR layer. Each layer kind is a frozen dataclass deriving from it, defined
    with everything else about the kind in ``pipeline/ops/<kind>.py`` and registered there
    (:mod:`pipeline.ops`); ``pipeline.ir.BConv2d`` etc. still resolve to those classes.

    A kind's dataclass sets ``kind`` (its name in IR files), ``ARRAYS`` (the fields stored in
    the NPZ, by ``<layer name>/<field>``) and provides ``out_shape`` (H, W, C), ``macs``,
    :meth:`bits` and :meth:`validate`. Every other field is JSON (int, bool, str, tuples of int).
    """
    kind: typing.ClassVar[str] = ""
    ARRAYS: typing.ClassVar[tuple[str, ...]] = ()
    #: True for the input encoder: it reads the uint8 image and must be the first layer.
    reads_image: typing.ClassVar[bool] = False
    #: True for a kind that keeps its input's packing (its ``in_pack_groups`` is set to that of
    #: the layer after it, e.g. a max-pool): see :func:`settle_packing`.
    keeps_packing: typing.ClassVar[bool] = False

    @property
    def is_output(self) -> bool:
        """True for the output layer (int32 logits; must be the last layer)."""
        return False

    @property
    def out_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    @property
    def macs(self) -> int:
        """Binary multiply-accumulates (XNOR + popcount terms) per image."""
        return 0

    def bits(self) -> dict[str, int]:
        """Storage in bits: ``{"weights": real binary weights, "params": other parameters}``."""
        raise NotImplementedError

    def validate(self, out_pack_groups: int) -> None:
        """Check this layer alone (its output packed in ``out_pack_groups``); raise a named
        :class:`IRError` subclass (or :class:`pipeline.bits.PackingError`) on the first problem."""
        raise NotImplementedError


def __getattr__(name: str) -> Any:
    """``ir.BConv2d``, ``ir.LAYER_TYPES`` ...: the layer classes live in their op modules
    (:mod:`pipeline.ops`), which import this module; resolved on first use to avoid a cycle."""
    from . import ops
    if name == "LAYER_TYPES":
        return ops.layer_types()
    cls = ops.layer_class_named(name)
    if cls is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return cls


def layer_bits(layer: Layer) -> dict[str, int]:
    """Storage the layer needs, in bits: binary weights (real ones, not padding) and parameters.

    Parameters count at the width the firmware stores them: int32 thresholds, mult and bias,
    one bit per flip flag, 16 bits per thermometer threshold (a pixel code 0..256, uint16)."""
    if not isinstance(layer, Layer):
        raise IRError(f"unknown layer {layer!r}")
    return layer.bits()


def settle_packing(layers: list) -> list:
    """Layers that keep their input's packing (``keeps_packing``, e.g. a max-pool) take the
    ``in_pack_groups`` of the next layer that does not; returns a new list."""
    out = list(layers)
    groups = 1
    for i in range(len(out) - 1, 0, -1):
        layer = out[i]
        if layer.keeps_packing:
            if layer.in_pack_groups != groups:
                out[i] = dataclasses.replace(layer, in_pack_groups=groups)
        else:
            groups = getattr(layer, "in_pack_groups", 1)
    return out


@dataclass(frozen=True, eq=False)
class Model:
    layers: tuple[Layer, ...]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    # --- structure -------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.layers[0].in_shape

    @property
    def num_classes(self) -> int:
        return self.layers[-1].out_features

    def out_pack_groups(self, index: int) -> int:
        """Packing groups of the output tensor of layer ``index`` (= what the next layer reads)."""
        if index + 1 < len(self.layers):
            # getattr: a misplaced thermometer (no in_pack_groups) must reach validate()'s
            # ShapeError instead of failing here with an AttributeError.
            return getattr(self.layers[index + 1], "in_pack_groups", 1)
        return 1

    def bits(self) -> int:
        return sum(sum(layer_bits(layer).values()) for layer in self.layers)

    # --- validation ------------------------------------------------------------------------
    def validate(self) -> "Model":
        """Check the whole IR; raise a named :class:`IRError` subclass on the first problem."""
        if not self.layers:
            raise ShapeError("the IR has no layers")
        if not self.layers[0].reads_image:
            raise ShapeError(f"the first layer must be {_kinds_text(lambda c: c.reads_image)}")
        last = self.layers[-1]
        if not last.is_output:
            raise ShapeError("the last layer must be an output layer (int32 logits: an output "
                             "bdense)")
        names = [check_layer_name(layer.name) for layer in self.layers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise LayerNameError(f"layer names must be unique; repeated: {', '.join(dup)}")
        for i, layer in enumerate(self.layers):
            if i > 0:
                prev = self.layers[i - 1]
                if layer.reads_image:
                    raise ShapeError(f"{layer.name}: a {layer.kind} may only be the first layer")
                if prev.is_output:
                    raise ShapeError(f"{prev.name}: an output {prev.kind} must be the last layer")
                if tuple(layer.in_shape) != tuple(prev.out_shape):
                    raise ShapeError(f"{layer.name}: input shape {layer.in_shape} does not match "
                                     f"the output {prev.out_shape} of {prev.name}")
            try:
                layer.validate(self.out_pack_groups(i))
            except B.PackingError as exc:  # a channel count that does not split into groups
                raise ShapeError(f"{layer.name}: {exc}") from exc
        return self

    # --- hashing and files -----------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for layer in self.layers:
            for name in layer.ARRAYS:
                v = getattr(layer, name)
                if v is not None:
                    out[f"{layer.name}/{name}"] = v
        return out

    def sha256(self) -> str:
        """Hash of the arrays and structure (independent of file timestamps)."""
        h = hashlib.sha256()
        h.update(json.dumps(self._structure(), sort_keys=True, default=_json_default).encode())
        for key, arr in sorted(self.arrays().items()):
            h.update(key.encode())
            h.update(str(arr.dtype).encode())
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def _structure(self) -> list[dict]:
        out = []
        for layer in self.layers:
            d = {"kind": layer.kind}
            for f in dataclasses.fields(layer):
                if f.name in layer.ARRAYS:
                    continue
                v = getattr(layer, f.name)
                d[f.name] = list(v) if isinstance(v, tuple) else v
            out.append(d)
        return out

    def to_json(self, arrays_file: str) -> dict:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "arrays_file": arrays_file,
            "sha256": self.sha256(),
            "metadata": self.metadata,
            "layers": self._structure(),
            "bits": {"total": self.bits(),
                     "per_layer": {layer.name: layer_bits(layer) for layer in self.layers}},
        }

    def save(self, json_path: str | os.PathLike) -> Path:
        """Write ``<name>.json`` and its arrays ``<stem>.npz`` beside it, atomically."""
        self.validate()
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        npz_path = json_path.with_name(_npz_name(json_path))
        write_atomic(npz_path, lambda f: np.savez(f, **self.arrays()))
        text = json.dumps(self.to_json(npz_path.name), indent=1, default=_json_default)
        write_text_atomic(json_path, text)
        return json_path

    @classmethod
    def load(cls, json_path: str | os.PathLike) -> "Model":
        json_path = Path(json_path)
        try:
            doc = json.loads(json_path.read_text())
        except FileNotFoundError:
            raise IRMissingError(f"{json_path}: no such IR file; give the model.ir.json written "
                                 "by `python -m pipeline lower`") from None
        except IsADirectoryError:
            raise IRMissingError(f"{json_path} is a folder; give its model.ir.json") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatVersionError(f"{json_path}: not a JSON IR file ({exc})") from exc
        if not isinstance(doc, dict):
            raise FormatVersionError(f"{json_path}: not an IR file (the top level is not an object)")
        if doc.get("format") != FORMAT_NAME:
            raise FormatVersionError(f"{json_path}: format is {doc.get('format')!r}, "
                                     f"expected {FORMAT_NAME!r}")
        if doc.get("format_version") != FORMAT_VERSION:
            raise FormatVersionError(
                f"{json_path}: IR format version {doc.get('format_version')!r} is not supported "
                f"(this code reads version {FORMAT_VERSION}); re-run `python -m pipeline lower`")
        if not isinstance(doc.get("arrays_file"), str) or not isinstance(doc.get("layers"), list):
            raise FormatVersionError(f"{json_path}: IR file lacks 'arrays_file' or 'layers'")
        arrays_file = doc["arrays_file"]
        if Path(arrays_file).name != arrays_file or not arrays_file.endswith(".npz") \
                or arrays_file.startswith("."):
            raise IRCorruptError(f"{json_path}: 'arrays_file' must name a .npz file beside it, "
                                 f"got {arrays_file!r}")
        if not all(isinstance(layer, dict) for layer in doc["layers"]) \
                or not isinstance(doc.get("metadata", {}), dict):
            raise IRCorruptError(f"{json_path}: every entry of 'layers' and 'metadata' must be "
                                 "a JSON object")
        npz_path = json_path.with_name(doc["arrays_file"])
        try:
            with np.load(npz_path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise IRMissingError(f"{npz_path}: the IR's arrays file is missing; re-run "
                                 "`python -m pipeline lower`") from None
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise IRCorruptError(f"{npz_path}: damaged arrays file ({type(exc).__name__}: "
                                 f"{exc}); re-run `python -m pipeline lower`") from None
        model = cls.from_structure(doc["layers"], arrays, doc.get("metadata", {}))
        if model.sha256() != doc.get("sha256"):
            raise HashMismatchError(f"{json_path}: arrays do not match the recorded sha256 "
                                    "(the .npz was changed or belongs to another model)")
        return model.validate()

    @classmethod
    def from_structure(cls, layers: list[dict], arrays: dict[str, np.ndarray],
                       metadata: dict) -> "Model":
        from . import ops
        built = []
        for d in layers:
            d = dict(d)
            kind = d.pop("kind", None)
            types = ops.layer_types()
            if kind not in types:
                raise ShapeError(f"unknown layer kind {kind!r}; known: {sorted(types)}")
            typ = types[kind]
            _check_field_types(typ, kind, d)
            for name in typ.ARRAYS:
                key = f"{d['name']}/{name}"
                if key in arrays:
                    d[name] = arrays[key]
            try:
                built.append(typ(**d))
            except TypeError as exc:
                raise ShapeError(f"layer {d.get('name')!r} ({kind}): {exc}") from exc
        return cls(tuple(built), dict(metadata))


def _json_type_ok(value: Any, hint: Any) -> bool:
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if typing.get_origin(hint) is tuple:
        return isinstance(value, (list, tuple)) and all(_json_type_ok(v, int) for v in value)
    return True


def _check_field_types(typ: type, kind: str, d: dict) -> None:
    """The JSON fields of a layer have the types of its dataclass (``"stride": 3.0`` or
    ``"padding": "1"`` is a named :class:`IRCorruptError`, not a TypeError deep inside)."""
    if not isinstance(d.get("name"), str):
        raise IRCorruptError(f"a {kind} layer has no string 'name' (got {d.get('name')!r})")
    check_layer_name(d["name"])
    hints = typing.get_type_hints(typ)
    fields = {f.name for f in dataclasses.fields(typ)}
    for key, value in d.items():
        if key not in fields or key in typ.ARRAYS:
            continue
        if not _json_type_ok(value, hints[key]):
            want = getattr(hints[key], "__name__", str(hints[key]))
            raise IRCorruptError(f"layer {d['name']!r} ({kind}): field '{key}' must be {want}, "
                                 f"got {value!r}")


def _npz_name(json_path: Path) -> str:
    name = json_path.name
    stem = name[:-len(".json")] if name.endswith(".json") else json_path.stem
    return stem + ".npz"


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v)}")


def check_threshold_table(layer: Any, n: int, k: int) -> None:
    """``layer.threshold`` int32[n] and ``layer.flip`` uint8[n] (0 or 1), thresholds in
    [-K, K+1] for a dot product over ``k`` terms; else a named :class:`IRError`."""
    for name in ("threshold", "flip"):
        arr = getattr(layer, name)
        if arr is None or arr.shape != (n,):
            raise ShapeError(f"{layer.name}: {name} must have shape ({n},)")
    if layer.flip.size and layer.flip.max() > 1:
        raise ThresholdRangeError(f"{layer.name}: flip flags must be 0 or 1")
    # Thresholds are compared with dot in [-K, K]; -K means always true, K+1 always false.
    if layer.threshold.size and (layer.threshold.min() < -k or layer.threshold.max() > k + 1):
        raise ThresholdRangeError(f"{layer.name}: thresholds must lie in [-K, K+1] = "
                                  f"[{-k}, {k + 1}]")


def _kinds_text(pred) -> str:
    from . import ops
    return " or ".join(f"a {k}" for k, c in sorted(ops.layer_types().items()) if pred(c))
