"""`python -m pipeline ir show <model.ir.json> [--budget BITS]`: what an IR holds and what it costs.

Prints one row per layer (name, kind, input -> output shape, groups, weight bits, parameter bits,
binary MACs) and the model's total bits against the budget, with OVER or UNDER.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import ir


COLUMNS = ("name", "kind", "in -> out", "groups", "weight bits", "param bits", "MACs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    show = sub.add_parser("show", help="print the layers of an IR and its size against a budget")
    show.add_argument("path", type=Path, help="model.ir.json (its .npz lies beside it)")
    show.add_argument("--budget", type=_positive_int, default=ir.BIT_BUDGET_DEFAULT, metavar="BITS",
                      help=f"bit budget to compare against (default {ir.BIT_BUDGET_DEFAULT:,})")


def run(args: argparse.Namespace) -> int:
    if args.command == "show":
        print(show(load(args.path), args.budget))
    return 0


def load(path: Path) -> ir.Model:
    """The IR at ``path``; a missing or damaged file is a named :class:`ir.IRError`."""
    return ir.Model.load(path)


def layer_row(layer: ir.Layer) -> tuple[str, ...]:
    bits = ir.layer_bits(layer)
    groups = str(getattr(layer, "groups", "-"))
    macs = getattr(layer, "macs", 0)
    return (layer.name, layer.kind, f"{_shape(layer.in_shape)} -> {_shape(layer.out_shape)}",
            groups, f"{bits['weights']:,}", f"{bits['params']:,}", f"{macs:,}")


def show(model: ir.Model, budget: int) -> str:
    """The layer table, then the total against ``budget``."""
    rows = [COLUMNS] + [layer_row(layer) for layer in model.layers]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    total = model.bits()
    verdict = "OVER" if total > budget else "UNDER"
    lines += ["", f"total: {total:,} bits ({total / 8 / 1024:.1f} KiB) against a budget of "
                  f"{budget:,} bits: {verdict} ({total / budget:.1%})",
              f"binary MACs per inference: {sum(getattr(l, 'macs', 0) for l in model.layers):,}",
              f"sha256: {model.sha256()}"]
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the budget must be a positive number of bits, got {text}")
    return value


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)
