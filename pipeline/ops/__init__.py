"""The layer-kind registry: one module per kind, ``pipeline/ops/<kind>.py``, holds everything
Python knows about that kind, and every stage dispatches through :func:`op_for`.

A kind's module defines its IR dataclass (a :class:`pipeline.ir.Layer`: fields, arrays,
``out_shape``, ``validate``, ``bits``, ``macs``) and a :class:`LayerOp` subclass whose methods
are the kind's *parts*, then calls :func:`register` once. The C side is one call-site template,
``firmware_templates/model/ops/<kind>.c.j2`` (macros ``params`` and ``call``), and the kernel in
``firmware_templates/runtime/`` (one C file per kernel family).

Parts (:data:`REQUIRED_PARTS`; ``tests/unit/test_ops_registry.py`` fails when a registered kind
lacks one):

======================  ==========================================================================
``oracle``              numpy integer step of :mod:`pipeline.reference`
``onnx``                ONNX nodes (:mod:`pipeline.export.onnx`)
``tflite``              Keras/larq layers for the LCE TFLite export, ``tflite_report`` (the ops it
                        becomes, for export.json) and ``lce_bconv_ops`` (LceBconv2d ops expected)
``c_params_type``       the runtime params struct; with the template, the render parameters
``scratch_bytes``       kernel scratch in the arena (0 for most kinds)
``kernel_path``         optional: the fast path the optimized kernel takes on a target (a mirror
                        of its C predicates), for kernels that choose one
``random_layer``        a random valid layer for a given input shape; with it
                        :func:`pipeline.random_ir.model_with` draws models holding the kind for
                        every registry-wide test (oracle, host C, QEMU, exports)
``lower``               torch module -> IR layer (:mod:`pipeline.lower`)
config + torch          for kinds listed in a config's ``model.layers`` (``config_key`` set):
                        ``config_keys``, ``normalise``, ``arch_shape``, ``skeleton``,
                        ``torch_module``, ``example_layers``; pruning: ``prune_width_key``,
                        ``prune_transparent``, ``prune_narrows_inputs``, ``prune_groups``,
                        ``prune_reader_weight``
======================  ==========================================================================

A part a format cannot express is still provided, as a method that raises
:class:`OpUnsupportedError`, and named with the reason in ``LayerOp.unsupported`` so the tests
know which cross-checks to expect it from.

This package imports no torch, ONNX or TensorFlow: hooks import them inside their bodies.
Import order: :mod:`pipeline.ir` and :mod:`pipeline.reference` import this package only inside
functions; the kind modules import them at the top.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..errors import PipelineError

#: Parts every kind provides (a method overridden in its LayerOp subclass).
REQUIRED_PARTS = ("oracle", "onnx", "tflite", "tflite_report", "lce_bconv_ops", "c_params_type",
                  "scratch_bytes", "random_layer", "lower")
#: Parts a kind that appears in a config's ``model.layers`` provides too.
CONFIG_PARTS = ("normalise", "arch_shape", "skeleton", "torch_module", "example_layers",
                "prune_groups", "prune_reader_weight")
#: Parts that may be declared unsupported (``LayerOp.unsupported``), with the reason.
OPTIONAL_PARTS = ("onnx", "tflite")


class OpError(PipelineError):
    """A layer kind is unknown, registered twice, or incomplete."""


class OpUnsupportedError(OpError):
    """An export format cannot express a layer kind (the kind's ``unsupported`` says why)."""


class LayerOp:
    """Everything one layer kind does outside its IR dataclass. Subclass it in
    ``pipeline/ops/<kind>.py``, set ``kind`` and ``layer``, override every part in
    :data:`REQUIRED_PARTS` (and :data:`CONFIG_PARTS` when ``config_key`` is set), then
    ``register(MyOp())``.

    Shapes are (H, W, C) of a layer's input unless named ``out``; activations are packed
    ``uint32[N, H, W, words]`` as :mod:`pipeline.bits` says, batch-first in the oracle."""

    kind: ClassVar[str] = ""
    #: The IR dataclass of this kind (a :class:`pipeline.ir.Layer`).
    layer: ClassVar[type] = object
    #: Part name -> why it cannot be provided (the part raises :class:`OpUnsupportedError`).
    unsupported: ClassVar[dict[str, str]] = {}
    #: Key naming this kind in a config's ``model.layers`` (e.g. ``conv``); None: not listed there.
    config_key: ClassVar[str | None] = None
    #: Keys a config layer of this kind may have (with ``config_key``).
    config_keys: ClassVar[frozenset[str]] = frozenset()
    #: Config key holding a prunable layer's width (its output channels), or None.
    prune_width_key: ClassVar[str | None] = None
    #: True when channels pass through unchanged (pruning looks past it for the reader).
    prune_transparent: ClassVar[bool] = False
    #: False when this kind cannot lose input channels: the layer it reads is then not pruned.
    prune_narrows_inputs: ClassVar[bool] = True

    def unsupported_error(self, part: str) -> OpUnsupportedError:
        """The named error a part listed in ``unsupported`` raises."""
        return OpUnsupportedError(f"{self.kind}: {part} cannot express this layer kind: "
                                  f"{self.unsupported[part]}")

    # --- oracle, exports, render -----------------------------------------------------------
    def oracle(self, layer: Any, x: Any, out_pack_groups: int) -> Any:
        """Batch-first numpy step: input (uint8 image or packed uint32) -> packed output
        ``uint32[N, H, W, words_per_pixel(C, out_pack_groups)]`` (or int32 logits[N, K])."""
        raise NotImplementedError

    def onnx(self, g: Any, layer: Any, x: str) -> str:
        """Add nodes to ``g`` (:class:`pipeline.export.onnx.Graph`) reading tensor ``x`` (+-1.0
        float NCHW; the uint8 image NCHW for an input encoder); return the output's name."""
        raise NotImplementedError

    def tflite(self, keras: Any, lq: Any, layer: Any, x: Any) -> Any:
        """Keras/larq layers on ``x`` (a float tensor whose sign is the binary value, NHWC);
        return the output tensor (an output layer returns ``(logits, classes)``)."""
        raise NotImplementedError

    def tflite_report(self, layer: Any) -> dict:
        """What the layer becomes in TFLite (``{"tflite": ..., "why_not_lce": ...}``)."""
        raise NotImplementedError

    def lce_bconv_ops(self, layer: Any) -> int:
        """How many LceBconv2d ops the converted file holds for this layer."""
        raise NotImplementedError

    def c_params_type(self, layer: Any) -> str:
        """Name of the runtime's params struct for this layer (bnn.h)."""
        raise NotImplementedError

    def scratch_bytes(self, layer: Any) -> int:
        """Arena scratch the kernel needs, bytes (mirror of the runtime's size query)."""
        raise NotImplementedError

    def kernel_path(self, layer: Any, out_pack_groups: int, target: Any) -> str | None:
        """The named fast path the optimized kernel takes for this layer when the runtime is
        built for ``target`` (a :class:`pipeline.targets.KernelTarget`): a mirror of the
        kernel's own choice in C, recorded by render in ``kernels.json`` and shown in the
        report. None (the default) for a kernel with one implementation. Optional part."""
        return None

    # --- random cases ----------------------------------------------------------------------
    def random_layer(self, rng: Any, in_shape: tuple[int, int, int], name: str) -> Any:
        """A random valid layer of this kind reading ``in_shape`` (thresholds realistic, see
        :mod:`pipeline.random_ir`); None when the shape does not allow one."""
        raise NotImplementedError

    # --- torch side ------------------------------------------------------------------------
    def lower(self, name: str, module: Any, spec: dict | None,
              in_shape: tuple[int, int, int]) -> Any:
        """The IR layer of a trained torch ``module`` (eval mode) built from config ``spec``."""
        raise NotImplementedError

    def normalise(self, spec: dict) -> dict:
        """A config layer with every key present (defaults filled in)."""
        raise NotImplementedError

    def arch_shape(self, spec: dict, in_shape: tuple[int, int, int],
                   index: int) -> tuple[int, int, int]:
        """Output (H, W, C) of a normalised config layer (torch-free); raise
        :class:`pipeline.nn.arch.ArchitectureError` (message, ``index``) when it cannot fit."""
        raise NotImplementedError

    def skeleton(self, spec: dict, in_shape: tuple[int, int, int]) -> Any:
        """An IR layer of the right shape with zero arrays (bit counting before training);
        None for a kind that stores nothing. ``spec["output"]`` marks the implied output
        layer (a bdense)."""
        raise NotImplementedError

    def torch_module(self, spec: dict, in_shape: tuple[int, int, int]) -> Any:
        """The torch module of a normalised config layer on NCHW +-1 float activations (the
        BNN flattens them first for a module whose ``flattens_input`` is true)."""
        raise NotImplementedError

    def example_layers(self) -> list[dict]:
        """A config ``model.layers`` list holding this kind on a 6x6x1 input with 2 planes
        (used by the torch-vs-oracle test of every registered kind)."""
        raise NotImplementedError

    def prune_groups(self, spec: dict) -> int:
        """Segments this layer's input channels must shrink by evenly (its groups)."""
        raise NotImplementedError

    def prune_reader_weight(self, module: Any, weight: Any, keep: Any,
                            in_shape: tuple[int, int, int]) -> Any:
        """This layer's latent weight keeping only input channels ``keep`` (the layer before
        it lost the others); only called when ``prune_narrows_inputs``."""
        raise NotImplementedError


_REGISTRY: dict[str, LayerOp] = {}


def register(op: LayerOp) -> LayerOp:
    """Add a kind to the registry (once per kind); returns ``op``."""
    if not op.kind or op.kind in _REGISTRY:
        raise OpError(f"layer kind {op.kind!r} is empty or registered twice")
    if getattr(op.layer, "kind", None) != op.kind:
        raise OpError(f"{op.kind}: its IR class {op.layer.__name__} has kind "
                      f"{getattr(op.layer, 'kind', None)!r}")
    _REGISTRY[op.kind] = op
    return op


def kinds() -> tuple[str, ...]:
    """Registered kind names, in registration order."""
    return tuple(_REGISTRY)


def get(kind: str) -> LayerOp:
    """The op of a kind name; :class:`OpError` naming the known ones otherwise."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise OpError(f"unknown layer kind {kind!r}; known: {', '.join(_REGISTRY)}") from None


def op_for(layer: Any) -> LayerOp:
    """The op of an IR layer (by its class's ``kind``)."""
    op = _REGISTRY.get(getattr(layer, "kind", None))
    if op is None or not isinstance(layer, op.layer):
        raise OpError(f"unknown layer {layer!r}; known kinds: {', '.join(_REGISTRY)}")
    return op


def layer_types() -> dict[str, type]:
    """Kind name -> IR dataclass."""
    return {k: op.layer for k, op in _REGISTRY.items()}


def layer_class_named(name: str) -> type | None:
    """The IR dataclass whose class name is ``name`` (``BConv2d``), or None."""
    return next((op.layer for op in _REGISTRY.values() if op.layer.__name__ == name), None)


def config_ops() -> dict[str, LayerOp]:
    """Config key (``conv``, ``pool`` ...) -> op, for kinds listed in ``model.layers``."""
    return {op.config_key: op for op in _REGISTRY.values() if op.config_key}


def for_spec(spec: dict) -> LayerOp:
    """The op of a config layer mapping (by the one kind key it holds)."""
    found = [op for key, op in config_ops().items() if key in spec]
    if len(found) != 1:
        raise OpError(f"config layer {spec} must hold exactly one of "
                      f"{', '.join(config_ops())}")
    return found[0]


def missing_parts(op: LayerOp) -> list[str]:
    """Parts ``op`` should provide and does not override (empty when complete)."""
    wanted = REQUIRED_PARTS + (CONFIG_PARTS if op.config_key else ())
    missing = [p for p in wanted if getattr(type(op), p) is getattr(LayerOp, p)]
    bad = [p for p in op.unsupported if p not in OPTIONAL_PARTS]
    return missing + [f"{p} (cannot be unsupported)" for p in bad]


# The kinds: each module registers itself on import. Order is the order of kinds().
from . import thermometer, bconv2d, bmaxpool2d, bdense  # noqa: E402,F401  (registration)
from . import bshuffle  # noqa: E402,F401

__all__ = ["LayerOp", "OpError", "OpUnsupportedError", "REQUIRED_PARTS", "CONFIG_PARTS",
           "OPTIONAL_PARTS", "register", "kinds", "get", "op_for", "layer_types",
           "layer_class_named", "config_ops", "for_spec", "missing_parts"]
