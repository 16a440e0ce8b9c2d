"""Report stage: everything a user reads after a deploy, in ``<board>/report.json`` and
``report.md`` with PNG plots.

It only gathers what earlier stages wrote (IR, evaluation.json, export.json, kernels.json,
size.json, emulation.json, training plots) and never recomputes a result; a missing stage output
is reported as missing, not guessed.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from . import ir
from .atomic import write_text_atomic
from .errors import PipelineError

PLOT_DPI = 110


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def layer_table(model: ir.Model, emulation: dict | None,
                kernels: dict | None = None) -> list[dict]:
    """One row per layer: shapes, bits, MACs, the emulated count and ``path``, the kernel path
    render recorded in ``kernels.json`` (None where the kernel has one implementation, or
    where kernels.json is missing)."""
    paths = {row["index"]: row.get("path") for row in (kernels or {}).get("layers", [])}
    counts = {}
    unit = "instructions"
    if emulation:
        unit = emulation.get("count_unit", unit)
        counts = {row["index"]: row.get(unit) for row in emulation.get("layers", [])}
    rows = []
    for i, layer in enumerate(model.layers):
        bits = ir.layer_bits(layer)
        macs = getattr(layer, "macs", 0)
        row = {"name": layer.name, "kind": layer.kind,
               "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
               "bits": bits["weights"] + bits["params"], "weight_bits": bits["weights"],
               "macs": macs, "path": paths.get(i), unit: counts.get(i)}
        if counts.get(i) and macs:
            row["macs_per_" + unit.rstrip("s")] = round(macs / counts[i], 3)
        rows.append(row)
    return rows


def build_report(board, model: ir.Model, root: Path, board_dir: Path) -> dict:
    """The report.json document: memory (bytes) against the board's budgets, counts per
    inference, accuracy at every stage, per-layer rows, from the stage outputs in ``root`` and
    ``board_dir`` (None where one is missing). Raises PipelineError without size.json."""
    size = _read_json(board_dir / "size.json")
    if size is None:
        raise PipelineError(f"{board_dir / 'size.json'} is missing: the build stage did not "
                            "finish; run `make deploy` again")
    emulation = _read_json(board_dir / "emulation.json")
    evaluation = _read_json(root / "evaluation.json")
    export = _read_json(root / "export.json")
    insensor = _read_json(root / "insensor.json")
    kernels = _read_json(board_dir / "kernels.json")  # render's record of the kernel paths
    stack_used = emulation.get("stack_used") if emulation else None
    static_ram = sum(s["ram"] for s in size["sections"] if s["name"] != ".stack")
    unit = (emulation or {}).get("count_unit", "instructions")
    accuracy = {
        "torch": (evaluation or {}).get("torch_accuracy",
                                        model.metadata.get("torch_test_accuracy")),
        "oracle": (evaluation or {}).get("oracle_accuracy"),
        "test_images": (evaluation or {}).get("test_images"),
        "onnx": _export_accuracy(export, "onnx"),
        "tflite_lce": _export_accuracy(export, "tflite"),
        "firmware": (emulation or {}).get("accuracy"),
        "firmware_vectors": (emulation or {}).get("vectors"),
    }
    return {
        "board": board.name,
        "cpu": board.cpu,
        "emulated": emulation is not None,
        "ir_sha256": model.sha256(),
        "model_bits": model.bits(),
        "budget_bits": ir.BIT_BUDGET_DEFAULT,
        "flash_bytes": size["flash_bytes"],
        "flash_budget": size["budget"]["flash"],
        # static data + bss (arena included) + the stack's measured high-water mark (painting)
        "ram_bytes": static_ram + (stack_used or 0),
        "ram_static_bytes": static_ram,
        "ram_stack_used_bytes": stack_used,
        "ram_stack_method": "stack painting, high-water mark measured in QEMU"
        if stack_used is not None else "not measured (board not emulated)",
        "ram_budget": size["budget"]["ram"],
        "ram_reserved_bytes": size["ram_bytes"],
        "sections": size["sections"],
        "vectors": (emulation or {}).get("vectors", 0),
        "mismatches": (emulation or {}).get("mismatches"),
        "count_unit": unit,
        f"{unit}_per_inference": (emulation or {}).get("inference"),
        "instructions_per_inference": (emulation or {}).get("inference")
        if unit == "instructions" else None,
        # the runtime's build family the paths were chosen for (thumb2, v6m, helium)
        "kernel_target": (kernels or {}).get("target"),
        "layers": layer_table(model, emulation, kernels),
        "accuracy": accuracy,
        "gamma_accuracy": (evaluation or {}).get("gamma_accuracy"),
        "export": export,
        "insensor": None if insensor is None else {
            k: insensor.get(k) for k in ("encoding", "dac_bits", "exact",
                                         "max_abs_error_pixel_codes", "note")},
    }


def _export_accuracy(export: dict | None, key: str):
    if not export:
        return None
    return (export.get("agreement", {}).get(key) or {}).get("accuracy")


def _export_note(export: dict | None, key: str) -> str:
    entry = (export or {}).get("agreement", {}).get(key)
    if not entry:
        return ""
    return (f", {entry['images']} images; logits equal to the oracle's on "
            f"{entry['logits_equal']}/{entry['images']}")


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    if pct and isinstance(v, float):
        return f"{100 * v:.2f} %"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render_markdown(rep: dict, plots: list[Path]) -> str:
    """report.md for a :func:`build_report` document; ``plots`` are linked as given (paths
    relative to the board folder)."""
    unit = rep["count_unit"]
    lines = [f"# Deploy report: {rep['board']} ({rep['cpu']})", ""]
    status = "not run (hardware-only board: built and size-checked)" if not rep["emulated"] \
        else f"{rep['vectors']} vectors, {rep['mismatches']} mismatches against the oracle"
    lines += [f"- firmware: {status}",
              f"- model: {_fmt(rep['model_bits'])} bits of {_fmt(rep['budget_bits'])} budget "
              f"({100 * rep['model_bits'] / rep['budget_bits']:.1f} %)",
              f"- flash: {_fmt(rep['flash_bytes'])} of {_fmt(rep['flash_budget'])} bytes",
              f"- RAM: {_fmt(rep['ram_bytes'])} of {_fmt(rep['ram_budget'])} bytes "
              f"(static {_fmt(rep['ram_static_bytes'])} + stack used "
              f"{_fmt(rep['ram_stack_used_bytes'])}; {rep['ram_stack_method']})",
              f"- {unit} per inference: {_fmt(rep.get(unit + '_per_inference'))}"
              + (" (QEMU counts instructions, not cycles)" if unit == "instructions" else ""),
              f"- IR sha256: `{rep['ir_sha256']}`", ""]
    acc = rep["accuracy"]
    lines += ["## Accuracy at every stage", "", "| stage | accuracy |", "|---|---|",
              f"| torch (eval, integer logits) | {_fmt(acc['torch'], True)} |",
              f"| oracle (numpy IR interpreter), {_fmt(acc['test_images'])} test images "
              f"| {_fmt(acc['oracle'], True)} |",
              f"| ONNX Runtime{_export_note(rep.get('export'), 'onnx')} "
              f"| {_fmt(acc['onnx'], True)} |",
              f"| TFLite (LCE interpreter){_export_note(rep.get('export'), 'tflite')} "
              f"| {_fmt(acc['tflite_lce'], True)} |",
              f"| firmware, {_fmt(acc['firmware_vectors'])} vectors | "
              f"{_fmt(acc['firmware'], True)} |", ""]
    if rep.get("gamma_accuracy"):
        lines += ["Oracle accuracy on exposure-shifted test images (gamma): " +
                  ", ".join(f"{g}: {100 * a:.2f} %" for g, a in rep["gamma_accuracy"].items()),
                  ""]
    lines += ["## Layers", ""]
    if rep.get("kernel_target"):
        lines += [f"Kernel path: the fast path each kernel takes in the runtime built for this "
                  f"board ({rep['kernel_target']}); - where the kernel has one.", ""]
    lines += [f"| layer | kind | kernel path | in | out | bits | MACs | {unit} |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rep["layers"]:
        lines.append(f"| {r['name']} | {r['kind']} | {r.get('path') or '-'} | "
                     f"{'x'.join(map(str, r['in_shape']))} | "
                     f"{'x'.join(map(str, r['out_shape']))} | {_fmt(r['bits'])} | "
                     f"{_fmt(r['macs'])} | {_fmt(r.get(unit))} |")
    lines += ["", "## Memory by section", "", "| section | flash bytes | RAM bytes |",
              "|---|---|---|"]
    for s in rep["sections"]:
        lines.append(f"| {s['name']} | {_fmt(s['flash'])} | {_fmt(s['ram'])} |")
    if rep.get("insensor"):
        ins = rep["insensor"]
        lines += ["", "## In-sensor thresholds", "",
                  f"`insensor.json` / `insensor.h` (beside the IR): {ins['encoding']} thresholds as "
                  f"{ins['dac_bits']}-bit DAC / ramp codes; exact: {ins.get('exact', 'n/a')}"
                  + (f" ({ins['note']})" if ins.get("note") else "")]
    if rep.get("export"):
        lines += ["", "## Exports", "", "| file | bytes | ops | agreement with the oracle |",
                  "|---|---|---|---|"]
        agree = rep["export"].get("agreement", {})
        for key, entry in rep["export"].get("files", {}).items():
            ops = ", ".join(f"{op} {n}" for op, n in sorted(entry["op_histogram"].items()))
            a = agree.get(key, {})
            lines.append(f"| {entry['file']} | {_fmt(entry['bytes'])} | {ops} | logits "
                         f"{a.get('logits_equal')}/{a.get('images')}, classes "
                         f"{a.get('classes_equal')}/{a.get('images')} |")
        fallbacks = [f"{r.get('layer')}: {r.get('tflite')}"
                     for r in rep["export"].get("layers", []) if isinstance(r, dict)]
        if fallbacks:
            lines += ["", "TFLite mapping per layer: " + "; ".join(fallbacks)]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def write_plots(rep: dict, model: ir.Model, root: Path, board_dir: Path) -> list[Path]:
    """Write the PNGs into ``board_dir``/plots (counts per layer, memory, the tone curve of a
    thresholds thermometer) and return them with the training plots of ``root``/plots, all
    relative to ``board_dir``. Needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = board_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    made = []
    unit = rep["count_unit"]
    counted = [r for r in rep["layers"] if r.get(unit)]
    if counted:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.bar([r["name"] for r in counted], [r[unit] for r in counted], color="#4477aa")
        ax.set_ylabel(unit)
        ax.set_title(f"{unit} per layer, {rep['board']}")
        ax.tick_params(axis="x", rotation=30)
        made.append(_save(fig, out / "instructions_per_layer.png"))
    fig, ax = plt.subplots(figsize=(5, 3))
    used = [rep["flash_bytes"], rep["ram_bytes"]]
    budget = [rep["flash_budget"], rep["ram_budget"]]
    ax.bar(["flash", "RAM"], budget, color="#dddddd", label="budget")
    ax.bar(["flash", "RAM"], used, color="#228833", label="used")
    ax.set_ylabel("bytes")
    ax.set_title(f"memory vs budget, {rep['board']}")
    ax.legend()
    made.append(_save(fig, out / "memory.png"))
    thermo = model.layers[0]
    if isinstance(thermo, ir.Thermometer) and thermo.mode == "thresholds":
        # The tone curve: pixel code -> encoded level (planes at +1), against the uniform
        # thermometer's (the same rule as pipeline.nn.thermometer.uniform_thresholds).
        m = thermo.planes
        pixels = np.arange(256)
        uniform = np.ceil(255 * np.arange(1, m + 1) / (m + 1))
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for c in range(thermo.in_shape[2]):
            level = (pixels[:, None] >= thermo.thresholds[c][None, :]).sum(axis=1)
            ax.step(pixels, level, where="post", label=f"{thermo.encoding}, channel {c}")
        ax.step(pixels, (pixels[:, None] >= uniform[None, :]).sum(axis=1), where="post",
                ls="--", color="gray", label="uniform")
        ax.set_xlabel("pixel code")
        ax.set_ylabel("encoded level (planes at +1)")
        ax.set_title("tone curve of the input encoding")
        ax.legend(fontsize=7)
        made.append(_save(fig, out / "tone_curve.png"))
    made += sorted((root / "plots").glob("*.png"))  # training curves from the train stage
    # relative to the report's folder whether the build dir was given relative or absolute
    return [Path(os.path.relpath(p, board_dir)) for p in made]


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def write_report(board, ir_path: Path, paths, config_path=None) -> Path:
    """Write report.json, report.md and plots into the board folder; return report.md."""
    model = ir.Model.load(ir_path)
    rep = build_report(board, model, paths.root, paths.board)
    # plots need matplotlib (the [train] extra); a plain install writes the report without them
    plots = write_plots(rep, model, paths.root, paths.board) if _has("matplotlib") else []
    rep["plots"] = [p.as_posix() for p in plots]
    md = paths.board / "report.md"
    write_text_atomic(paths.board / "report.json", json.dumps(rep, indent=1))
    write_text_atomic(md, render_markdown(rep, plots))
    return md


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` command's options: --board (required), --config, --build-dir."""
    parser.add_argument("--board", required=True)
    from . import resources
    parser.add_argument("--config", type=Path, default=resources.configs_dir() / "fashion_glt.yaml")
    parser.add_argument("--build-dir", type=Path, default=Path("build"))


def run(args: argparse.Namespace) -> int:
    """Write the report of the deploy in ``<build-dir>/<config name>/<board>``, print the
    report.md path, return 0."""
    from . import boards
    from .config import load_config
    from .deploy import Paths
    board = boards.load_board(args.board)
    name = load_config(args.config).name
    paths = Paths(args.build_dir / name, args.build_dir / name / board.name)
    print(write_report(board, paths.ir, paths))
    return 0
