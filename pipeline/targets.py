"""Kernel targets: what of a core changes which fast path the C runtime's kernels take.

The runtime picks a kernel's fast path from the layer's geometry and from two facts fixed when
it is compiled (``firmware_templates/runtime/bnn_internal.h`` and ``bnn_bconv2d.c``):

* **Helium** (``__ARM_FEATURE_MVE & 1``, the runtime's ``BNN_HAVE_MVE``): the vector paths
  exist, and some scalar paths step back for them;
* **no Thumb-2** (``__arm__ && !__thumb2__``: Armv6-M and Armv8-M Baseline, e.g. Cortex-M0,
  M0+, M23): the conv's cost model uses the v6-M instruction costs (no SBFX, no LDRD).

A :class:`KernelTarget` holds these two facts; :func:`for_board` derives them from a board's
compiler flags (``cpu``, ``float_abi``) without running the compiler, and
``tests/unit/test_targets.py`` checks that derivation against the cross-compiler's own
predefined macros for every board. The host build (x86 or any non-Arm compiler) chooses like a
Thumb-2 core without Helium.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Cores whose Armv8.1-M profile has Helium (MVE) unless the cpu string says ``+nomve``.
MVE_CPUS = frozenset({"cortex-m55", "cortex-m85"})
#: Cores without Thumb-2 (Armv6-M, Armv8-M Baseline): GCC leaves ``__thumb2__`` undefined.
NO_THUMB2_CPUS = frozenset({"cortex-m0", "cortex-m0plus", "cortex-m1", "cortex-m23"})


@dataclass(frozen=True)
class KernelTarget:
    """The compile-time facts the runtime's path choice depends on.

    ``name`` is the family reported to users: ``"helium"``, ``"v6m"`` (no Thumb-2) or
    ``"thumb2"``; ``mve`` is true where the runtime is built with its Helium paths
    (``BNN_HAVE_MVE``); ``v6m`` where the conv's cost model takes the v6-M costs."""
    name: str
    mve: bool
    v6m: bool


THUMB2 = KernelTarget("thumb2", mve=False, v6m=False)
V6M = KernelTarget("v6m", mve=False, v6m=True)
HELIUM = KernelTarget("helium", mve=True, v6m=False)
#: A host build (tests under AddressSanitizer, a user's PC): the Thumb-2 choices, no Helium.
HOST = THUMB2


def for_cpu(cpu: str, float_abi: str) -> KernelTarget:
    """The target of a build with ``-mcpu=<cpu> -mfloat-abi=<float_abi>``.

    ``cpu`` may carry GCC feature suffixes (``cortex-m55+nomve``); Helium needs a float ABI
    other than ``soft`` (GCC turns MVE off with ``-mfloat-abi=soft``), and ``+nomve`` turns it
    off while ``+nomve.fp`` keeps the integer vectors the runtime uses."""
    base, *features = cpu.lower().split("+")
    if base in NO_THUMB2_CPUS:
        return V6M
    if base in MVE_CPUS and "nomve" not in features and float_abi != "soft":
        return HELIUM
    return THUMB2


def for_board(board) -> KernelTarget:
    """The target of a :class:`pipeline.boards.Board` (its ``cpu`` and ``float_abi``)."""
    return for_cpu(board.cpu, board.float_abi)
