"""Generate docs/benchmarks.md from bench/results/*.json (never edit the Markdown by hand).

The page lists the targets the benchmarks are read against (goals, not assertions) with the
measured value and whether it meets the goal, then one table per benchmark, each with its date.
"""
from __future__ import annotations

from pathlib import Path

from . import RESULTS_DIR, ROOT, read_json

DOC = ROOT / "docs" / "benchmarks.md"
HEADLINE_CONV = "conv3x3_64to64_16x16"
M4_BOARD, M55_BOARD = "mps2-an386", "mps3-an547"
RAM_GOAL = 32 * 1024
ACCURACY_GOAL = 0.91
GLT_MARGIN_GOAL = 0.01
FULL_RUN = "full-glt-m8-1mbit-s0"


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def _verdict(ok: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "not measured"}[ok]


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- targets -------------------------------------------------------------------------------------

def _kernel_target(kernels: dict | None, board: str, goal: float, what: str) -> list:
    label = f"optimized bconv2d, {what} ({board}, {HEADLINE_CONV})"
    entry = next((b for b in (kernels or {}).get("boards", []) if b["board"] == board), None)
    if entry is None:
        return [label, f">= {goal} MACs/instruction", "-", _verdict(None), "-"]
    value = entry["cases"][HEADLINE_CONV]["macs_per_instruction"]["opt"]
    return [label, f">= {goal} MACs/instruction", f"{value:.2f}", _verdict(value >= goal),
            kernels["date"]]


def _model_target(kernels: dict | None, board: str, goal: int, what: str) -> list:
    label = (f"the issue's default topology (fashion_glt_dense), whole model, {what} ({board}, "
             "bench kernels)")
    entry = next((b for b in (kernels or {}).get("boards", []) if b["board"] == board), None)
    if entry is None or "model" not in entry:
        return [label, f"<= {goal:,} instructions", "-", _verdict(None), "-"]
    value = entry["model"]["instructions"]
    return [label, f"<= {goal:,} instructions", f"{value:,}", _verdict(value <= goal),
            kernels["date"]]


def _model_layer_targets(kernels: dict | None, board: str) -> list[list]:
    """The issue's per-layer goals on Cortex-M4 for the default topology's own layers: every
    conv >= 3 binary MACs per instruction, the hidden dense >= 4, the thermometer <= 10
    instructions per pixel."""
    entry = next((b for b in (kernels or {}).get("boards", []) if b["board"] == board), None)
    layers = (entry or {}).get("model", {}).get("layers", {})
    where = f"the issue's default topology, Cortex-M4 ({board}, bench kernels)"
    specs = [(f"its conv layers, {where}", ">= 3.0 MACs/instruction each",
              [n for n, r in layers.items() if r["kind"] == "bconv2d"],
              "macs_per_instruction", lambda v: v >= 3.0),
             (f"its hidden dense layer, {where}", ">= 4.0 MACs/instruction",
              [n for n, r in layers.items() if r["kind"] == "bdense_hidden"],
              "macs_per_instruction", lambda v: v >= 4.0),
             (f"its thermometer, {where}", "<= 10 instructions/pixel",
              [n for n, r in layers.items() if r["kind"] == "thermometer"],
              "instructions_per_pixel", lambda v: v <= 10)]
    rows = []
    for label, goal, names, key, ok in specs:
        if not names:
            rows.append([label, goal, "-", _verdict(None), "-"])
            continue
        values = [layers[n][key] for n in names]
        text = ", ".join(f"{n} {v:.2f} ({layers[n].get('path', '-')})"
                         for n, v in zip(names, values))
        rows.append([label, goal, text, _verdict(all(ok(v) for v in values)), kernels["date"]])
    return rows


def _ram_target(e2e: dict | None, agreement: dict | None) -> list:
    label = ("default model of the date firmware RAM (static incl. arena + stack high-water), "
             "mps2-an386")
    goal = f"<= {RAM_GOAL} bytes (32 KiB)"
    if e2e and e2e.get("report", {}).get("ram_bytes") is not None:
        used, date = e2e["report"]["ram_bytes"], e2e["date"]
    elif agreement:
        used, date = agreement["firmware"]["ram_used_bytes"], agreement["date"]
    else:
        return [label, goal, "-", _verdict(None), "-"]
    return [label, goal, f"{used} bytes", _verdict(used <= RAM_GOAL), date]


def _full_accuracy_target(accuracy: dict | None) -> list:
    label = "fully-binarized Fashion-MNIST accuracy, full config, under 1 Mbit"
    run = next((r for r in (accuracy or {}).get("runs", []) if r["run"] == FULL_RUN), None)
    if run is None:
        return [label, f">= {_pct(ACCURACY_GOAL, 0)}", f"- (run `python -m bench accuracy "
                f"--runs {FULL_RUN}`)", _verdict(None), "-"]
    ev = run["evaluation"]
    ok = ev["oracle_accuracy"] >= ACCURACY_GOAL and ev["model_bits"] <= 1_000_000
    return [label, f">= {_pct(ACCURACY_GOAL, 0)}",
            f"{_pct(ev['oracle_accuracy'])}, {ev['model_bits']:,} bits", _verdict(ok), run["date"]]


def glt_margins(accuracy: dict | None) -> list[tuple[int, str, float]]:
    """(planes, compression, GLT mean - base-2 mean) for every pair measured on both."""
    rows = {(r["encoding"], r["planes"], r["compression"]): r
            for r in (accuracy or {}).get("aggregated", [])}
    return [(m, c, r["accuracy"]["mean"] - rows[("base2", m, c)]["accuracy"]["mean"])
            for (e, m, c), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2]))
            if e == "glt" and ("base2", m, c) in rows]


def _glt_target(accuracy: dict | None) -> list:
    label = "GLT above base-2 at equal planes (mean over seeds)"
    goal = f">= {100 * GLT_MARGIN_GOAL:.0f} point"
    margins = glt_margins(accuracy)
    if not margins:
        return [label, goal, "-", _verdict(None), "-"]
    text = "; ".join(f"M={m} {c}: {100 * d:+.2f}" for m, c, d in margins)
    if accuracy["mode"] == "quick":  # one short seed: too noisy to judge the goal by
        return [label, goal, text + " (quick sweep)", "not judged (quick sweep only)",
                accuracy["date"]]
    return [label, goal, text, _verdict(all(d >= GLT_MARGIN_GOAL for _, _, d in margins)),
            accuracy["date"]]


def _m55_target(m: dict | None) -> list:
    label = "no layer slower on Cortex-M55 than on Cortex-M4 (random IRs, bench m55)"
    if m is None:
        return [label, "0 layers", "-", _verdict(None), "-"]
    s = m["summary"]
    return [label, "0 layers", f"{s['slower']} of {s['layers']} layers "
            f"({m['random_models']} random IRs and {len(m['fixed_cases'])} fixed cases)",
            _verdict(s["slower"] == 0), m["date"]]


def targets_section(res: dict) -> str:
    rows = [_kernel_target(res["kernels"], M4_BOARD, 4.0, "Cortex-M4"),
            _kernel_target(res["kernels"], M55_BOARD, 12.0, "Cortex-M55 with Helium"),
            _model_target(res["kernels"], M4_BOARD, 2_800_000, "Cortex-M4"),
            _model_target(res["kernels"], M55_BOARD, 1_000_000, "Cortex-M55 with Helium"),
            *_model_layer_targets(res["kernels"], M4_BOARD),
            _m55_target(res["m55_vs_m4"]),
            _ram_target(res["e2e"], res["agreement"]),
            _full_accuracy_target(res["accuracy"]),
            _glt_target(res["accuracy"])]
    return ("## Targets\n\nGoals the results are read against, not assertions: a benchmark "
            "never fails on a number.\n\n"
            + _table(["target", "goal", "measured", "meets it", "date"], rows))


# --- sections ------------------------------------------------------------------------------------

def kernels_section(k: dict | None) -> str:
    if k is None:
        return "## Kernels\n\nNo result yet: `python -m bench kernels`."
    boards = [b["board"] for b in k["boards"]]
    header = ["case", "binary MACs"] + [f"{b['board']} ({b['cpu']})" for b in k["boards"]]
    rows = []
    for case in k["cases"]:
        cells = []
        for b in k["boards"]:
            m = b["cases"][case["name"]]["macs_per_instruction"]
            cells.append(f"{m['ref']:.2f} / {m['opt']:.2f}")
        rows.append([f"{case['name']}: {case['note']}", f"{case['binary_macs']:,}", *cells])
    mem = [[b["board"], b["firmware"]["flash_bytes"], b["firmware"]["budget"]["flash"],
            b["firmware"]["ram_bytes"], b["firmware"]["budget"]["ram"],
            b["firmware"]["stack_used_bytes"]] for b in k["boards"]]
    return (f"## Kernels ({k['date']})\n\nCells: reference / optimized kernel, "
            f"{k['measure']}. Compiler: {k['compiler']}. "
            f"Boards: {', '.join(boards)}. Every output was compared with the oracle word for "
            "word inside the firmware; a mismatch reports no number.\n\n"
            + _table(header, rows)
            + "\n\nBenchmark firmware memory (bytes; one output buffer shared by all cases):\n\n"
            + _table(["board", "flash", "flash budget", "RAM reserved (incl. stack)",
                      "RAM budget", "stack used"], mem)
            + model_kernels_section(k))


def _model_cell(row: dict) -> str:
    before, now = row["instructions_before"], row["instructions"]
    text = f"{before:,} → {now:,}"
    if "macs_per_instruction" in row:
        text += f" ({row['macs_per_instruction_before']:.2f} → {row['macs_per_instruction']:.2f})"
    elif "instructions_per_pixel" in row:
        text += (f" ({row['instructions_per_pixel_before']:.1f} → "
                 f"{row['instructions_per_pixel']:.1f}/px)")
    return text


def model_kernels_section(k: dict) -> str:
    """The default model's own layers per board, before (the baseline runtime) and after."""
    boards = [b for b in k["boards"] if "model" in b]
    if not boards or "model" not in k:
        return ""
    header = ["layer", "binary MACs"] + [f"{b['board']} ({b['cpu']})" for b in boards]
    rows = []
    for layer in k["model"]["layers"]:
        name = layer["name"]
        paths = {b["model"]["layers"][name]["path"] for b in boards} - {"-"}
        label = name + (f" [{', '.join(sorted(paths))}]" if paths else "")
        rows.append([label, f"{layer['binary_macs']:,}" if layer["binary_macs"] else "-",
                     *[_model_cell(b["model"]["layers"][name]) for b in boards]])
    rows.append(["**whole model**", f"{boards[0]['model']['macs']:,}",
                 *[f"**{b['model']['instructions_before']:,} → {b['model']['instructions']:,}** "
                   f"({b['model']['macs_per_instruction_before']:.2f} → "
                   f"{b['model']['macs_per_instruction']:.2f})" for b in boards]])
    if all("weight_words_streamed" in b["model"] for b in boards):
        rows.append(["weight words read from flash per inference (access model, this runtime; "
                     "on Cortex-M0 and M4 equal to the Unicorn measurement of `bench flash` on "
                     "random IRs (the M55 column stays a model), "
                     "tests/emulate/test_flash_reads.py)",
                     "-", *[f"{b['model']['weight_words_streamed']:,}" for b in boards]])
    return ("\n\n### The default model's layers, before → after\n\n"
            f"{k['model']['note']}. Cells: executed instructions with the runtime of "
            f"{k['baseline_runtime']} → with this runtime (binary MACs per instruction, or "
            "instructions per pixel for the thermometer), one call each, outputs checked against "
            "the oracle in QEMU. [path]: the conv fast path bnn_bconv2d_opt took "
            "(bnn_bconv2d_select_path).\n\n" + _table(header, rows)
            + cycle_model_section(k))


def cycle_model_section(k: dict) -> str:
    """Modelled Cortex-M4 cycles of the default model's layers (bench/cycles.py), where the
    kernels run traced them: a model over the exact instruction trace, not a measurement."""
    boards = [b for b in k["boards"] if "cycles_model" in b.get("model", {})]
    if not boards:
        return ""
    parts = []
    for b in boards:
        m = b["model"]
        rows = []
        for layer in k["model"]["layers"]:
            row = m["layers"][layer["name"]]
            detail = row.get("cycle_model_detail", {})
            by_class = detail.get("cycles_by_class", {})
            rows.append([layer["name"], f"{row['instructions']:,}", f"{row['cycles_model']:,}",
                         f"{row['cpi_model']:.3f}",
                         f"{by_class.get('ldrd_strd', 0) / row['cycles_model']:.0%}",
                         f"{by_class.get('branch', 0) / row['cycles_model']:.0%}"])
        rows.append(["**whole model**", f"**{m['instructions']:,}**",
                     f"**{m['cycles_model']:,}**", f"**{m['cpi_model']:.3f}**", "", ""])
        parts.append(f"\n\n#### {b['board']} ({b['cpu']}): modelled cycles (a model, not a "
                     f"measurement)\n\n{m['cycle_model_note']}. Instructions: the same "
                     "layer calls as above, counted again from QEMU's per-instruction trace "
                     "(`-singlestep -d exec,nochain`; equal to the counter's or no number is "
                     "reported). Cycles: `bench/cycles.py` prices each executed instruction "
                     "with the Cortex-M4 TRM's timings (loads 2, a load pipelined behind a load "
                     "1, LDRD/STRD 3, LDM/STM 1+N, taken branch 1+P, ...). It ignores flash wait "
                     "states, bus contention and the address-generation stall, so a part "
                     "running from flash with wait states takes more. LDRD/STRD and branch columns: their share of the "
                     "modelled cycles.\n\n"
                     + _table(["layer", "instructions", "cycles (model)", "CPI (model)",
                               "LDRD/STRD cycles", "branch cycles"], rows))
    return "".join(parts)


def default_config_bits() -> int | None:
    """Bits of the model ``configs/fashion_glt.yaml`` builds before pruning (torch-free,
    :func:`pipeline.nn.arch.arch_bits`); None when it cannot be read."""
    try:
        from pipeline.config import load_config
        from pipeline.data import input_spec
        from pipeline.nn.arch import arch_bits, make_arch
        cfg = load_config(ROOT / "configs" / "fashion_glt.yaml")
        if cfg.prune.enabled:
            return None  # the deployed bits depend on pruning: no fair comparison
        shape, classes = input_spec(cfg.data)
        return arch_bits(make_arch(cfg.model, shape, classes))
    except Exception:  # noqa: BLE001  (a docs label must never stop the docs)
        return None


def which_default(bits: int | None) -> str:
    """A sentence for results measured on "the default model": says so when the measured
    model's bits differ from what today's default config builds (the default changed since)."""
    now = default_config_bits()
    if bits is None or now is None or bits == now:
        return ""
    return (f" **Measured on the default model of that date ({bits:,} bits); today's default "
            f"config builds {now:,} bits: re-run to measure it.**")


def agreement_section(a: dict | None) -> str:
    if a is None:
        return ("## Firmware agreement\n\nNo result yet: needs the trained default model "
                "(`make deploy BOARD=mps2-an386`), then `python -m bench agreement`.")
    fw = a["firmware"]
    rows = [["images", f"{a['images']:,} ({a['dataset']})"],
            ["firmware builds", f"{a['firmware_builds']} of up to {a['batch']} vectors"],
            ["mismatches vs oracle", a["mismatches"]],
            ["firmware accuracy", _pct(a["accuracy"])],
            ["model", f"{a['ir']} ({a['model_bits']:,} bits, sha256 {a['ir_sha256'][:12]})"],
            ["instructions per inference", f"{a['inference_instructions']:,}"],
            ["RAM: static (arena {} B) + stack used".format(fw["arena_bytes"]),
             f"{fw['ram_static_bytes']} + {fw['stack_used_bytes']} = {fw['ram_used_bytes']} "
             f"bytes (budget {fw['budget']['ram']})"],
            ["time (build / QEMU)", f"{a['seconds']['build']} s / {a['seconds']['qemu']} s"]]
    return (f"## Firmware agreement ({a['date']})\n\nThe default model's firmware in QEMU on "
            f"{a['board']}, checked per image ({a['checked']}).{which_default(a['model_bits'])}\n\n"
            + _table(["", "value"], rows))


def _acc_cell(row: dict, key: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    if len(row["seeds"]) < 2:  # no spread from one seed
        return f"{100 * v['mean']:.2f}"
    return f"{100 * v['mean']:.2f} ± {100 * v['std']:.2f}"


def accuracy_section(a: dict | None) -> str:
    if a is None:
        return "## Accuracy\n\nNo result yet: `python -m bench accuracy [--quick]`."
    gammas = sorted({k for r in a["aggregated"] for k in r if k.startswith("gamma_")},
                    key=lambda k: float(k.removeprefix("gamma_")))
    header = ["encoding", "M", "compression", "seeds", "accuracy %", "model bits",
              *[f"gamma {g.removeprefix('gamma_')} %" for g in gammas]]
    order = {"glt": 0, "uniform": 1, "base2": 2}
    rows = [[r["encoding"], r["planes"], r["compression"], len(r["seeds"]),
             _acc_cell(r, "accuracy"), f"{r['model_bits']['mean']:,.0f}",
             *[_acc_cell(r, g) for g in gammas]]
            for r in sorted(a["aggregated"], key=lambda r: (r["planes"], r["compression"],
                                                             order.get(r["encoding"], 9)))]
    if a["mode"] == "quick":
        q = a["quick_settings"]
        mode = (f"**Quick sweep** (`--quick`): seed(s) {q['seeds']}, M in {q['planes']}, "
                f"{q['train_limit']} training images, {q['epochs']} student epoch, "
                f"{q['teacher_epochs']} teacher epoch, {q['prune_steps']} pruning step, first "
                f"{q['test_limit']} test images. These numbers show the sweep runs end to end; "
                "they are far below what the full schedules reach and do not rank the methods.")
    else:
        mode = "Full sweep: mean ± standard deviation (ddof 1) over seeds."
    failed = a.get("failed_runs") or {}
    tail = ("\n\nFailed runs (retried next time): " + "; ".join(f"{k}: {v}" for k, v in
                                                               failed.items())) if failed else ""
    return (f"## Accuracy ({a['date']})\n\n{mode} Base config {a['base_config']}; "
            f"{a['finished_runs']} of {a['planned_runs']} planned runs finished. Compression: "
            "none = no distillation, no pruning; 1mbit / 0.5mbit = knowledge distillation + "
            "block pruning to that many bits. Base-2 stops at M = 8 (the bits of a pixel). "
            f"Metric: {a['metric']}.\n\n"
            + _table(header, rows) + tail)


def e2e_section(e: dict | None) -> str:
    if e is None:
        return "## End to end\n\nNo result yet: `python -m bench e2e`."
    r = e["report"]
    acc = r.get("accuracy") or {}
    rows = [["setup (make's prerequisite, idempotent)", f"{e['setup_seconds']} s"],
            ["cold deploy (fresh build folder, trains)", f"{e['cold_seconds']} s "
             f"({e.get('cold_date')})"],
            ["warm deploy (every stage cached)", f"{e['warm_seconds']} s"],
            ["model", f"{r['model_bits']:,} bits, oracle accuracy {_pct(acc.get('oracle'))} "
                      f"on {acc.get('test_images')} test images"],
            ["firmware", f"flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B, "
                         f"{r['instructions_per_inference']:,} instructions per inference"]]
    return (f"## End to end ({e['date']})\n\n`{e['command']}` on {e['board']}. {e['note']}."
            f"{which_default(r['model_bits'])}\n\n"
            + _table(["", "value"], rows))


# --- peers (python -m bench peers; kept as its own block) ----------------------------------------

PEERS_PLOT = "img/peers_accuracy_storage.png"  # relative to docs/


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1000:,.1f} KB"


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def peers_rows(p: dict) -> list[list]:
    """One row per model, grouped by storage budget: the binary zoo model, then its float and
    int8 peers; the default binary model with the 1 Mbit group."""
    boards = ("mps2-an386", "mps3-an547")
    rows = []
    for budget in sorted({r["budget_bits"] for r in p["binary"] + p["peers"]}, reverse=True):
        for r in (b for b in p["binary"] if b["budget_bits"] == budget):
            if r["status"] != "trained":
                rows.append([f"{budget / 8000:g} KB", r["model"], r["kind"], "not yet trained",
                             "-", "-", "-", "-", "-", "-"])
                continue
            instr = [_count((r.get("instructions") or {}).get(b)) for b in boards]
            rows.append([f"{budget / 8000:g} KB", r["model"], r["kind"], _pct(r["accuracy"]),
                         f"{_kb(r['bits'] // 8 if r.get('bits') else None)} "
                         f"({_count(r.get('bits'))} bits)",
                         "-" if r.get("binary_macs") is None else f"{r['binary_macs']:,} binary",
                         *instr, r.get("training") or "-", "-"])
        for r in (q for q in p["peers"] if q["budget_bits"] == budget):
            fits = "" if r["fits_budget"] else " **over budget**"
            agree = ("-" if r["format"] != "int8"
                     else f"{_pct(r['agreement_with_float_keras'])} with float")
            rows.append([f"{budget / 8000:g} KB", f"{r['model']}: {r['arch']}", r["kind"],
                         _pct(r["accuracy"]), f"{_kb(r['weight_bytes'])}{fits}",
                         f"{_count(r['macs'])} {r['format']}", "-", "-",
                         f"{r['epochs']} epochs, {r['train_cpu_s']:,.0f} CPU s", agree])
    return rows


def _recipe(r: dict | None) -> str:
    if not r:
        return "Adam"
    return f"{r['optimizer']} {r['lr']:g} ({r['schedule']}), augmentation {r['augment']}"


def peers_gaps(p: dict) -> list[tuple[str, int, float]]:
    """(binary model, budget bits, best int8 peer accuracy - its accuracy) for every binary
    model measured at a budget that has an int8 peer."""
    out = []
    for b in p["binary"]:
        best = max((q["accuracy"] for q in p["peers"] if q["format"] == "int8"
                    and q["budget_bits"] == b["budget_bits"]), default=None)
        if b.get("accuracy") is not None and best is not None:
            out.append((b["model"], b["budget_bits"], best - b["accuracy"]))
    return out


def peers_section(p: dict | None) -> str:
    if p is None:
        return ("## Peers: float and int8 CNNs at the same storage\n\nNo result yet: "
                "`python -m bench peers` (needs the `[peers]` extra, installed by `make setup`).")
    header = ["budget", "model", "kind", "accuracy", "weights", "MACs / inference",
              "Cortex-M4 instructions", "Cortex-M55 instructions", "training", "int8 agreement"]
    s = p["settings"]
    default = next((b for b in p["binary"] if "default" in b["kind"]), {})
    notes = [f"Binary rows: accuracy of the integer model on the test split; weights = every "
             "stored bit of the IR (binary weights and int32 parameters); instructions per "
             "inference from the project's deploy in QEMU (`-icount`: instructions, not cycles). "
             f"Default model: {default.get('source', '-')}.",
             f"Peers: Keras CNNs (BatchNorm folded by the converter), {s['epochs']} epochs, batch "
             f"{s['batch']}, {_recipe(s.get('recipe'))}, seed {s['seed']}, one TF thread, on the "
             f"{s['train_images']:,} training images; {s['quantisation']} with "
             f"{s['representative_images']} training images as the representative set. Accuracy "
             f"in {p['interpreter']} on {p['peers'][0]['test_images']:,} test images. "
             + p["note"],
             "int8 agreement: the int8 model's class equals its own float Keras model's "
             "(the same weights before quantisation) on that share of the test images. "
             "Instruction counts of the peers are not measured (they run in the host "
             "interpreter, not on a board)."]
    peer_cpu = [r["train_cpu_s"] for r in p["peers"] if isinstance(r.get("train_cpu_s"),
                                                                   (int, float))]
    if peer_cpu:
        notes.append(f"Training effort: each peer trained for {s['epochs']} epochs "
                     f"({min(peer_cpu):,.0f} to {max(peer_cpu):,.0f} CPU s); the binary rows' "
                     "schedules and CPU are in their training column. An epoch of a float "
                     "Keras CNN costs far less CPU than one of a binary network, so the "
                     "comparison is at equal epochs where they are equal, not at equal CPU.")
    gaps = peers_gaps(p)
    if gaps:
        notes.append("At the same budget, best int8 peer minus binary model: " + "; ".join(
            f"{name} ({b / 8000:g} KB): {100 * d:+.2f} points" for name, b, d in gaps) + ".")
    plot = (f"\n\n![accuracy vs weight storage]({PEERS_PLOT})"
            if (DOC.parent / PEERS_PLOT).is_file() else "")
    when = p["date"] + (f"; binary rows {p['binary_rows_date']}"
                        if p.get("binary_rows_date") else "")
    return (f"## Peers: float and int8 CNNs at the same storage ({when})\n\n"
            "What a user would pick instead at each zoo budget (125 KB, 32 KB, 8 KB of weights), "
            "side by side. " + " ".join(notes) + "\n\n" + _table(header, peers_rows(p)) + plot)


# --- Cortex-M55 against Cortex-M4 (python -m bench m55; kept as its own block) ----------------

def m55_section(m: dict | None) -> str:
    """The layer-by-layer comparison of bench/m55_vs_m4.py: totals by path pair, and every
    layer that runs more instructions on M55 than on M4."""
    if m is None:
        return "## Cortex-M55 against Cortex-M4\n\nNo result yet: `python -m bench m55`."
    s = m["summary"]
    rows = [[k, g["layers"], g["slower"], f"{g['m4']:,}", f"{g['m55']:,}", g["worst_ratio"]]
            for k, g in s["by_path"].items()]
    text = (f"## Cortex-M55 against Cortex-M4 ({m['date']})\n\nEvery layer of "
            f"{m['random_models']} random IRs (`random_model({m['first_seed']} + i)`) and the "
            f"issue's fixed cases ({', '.join(m['fixed_cases'])}), run on {m['boards']['m4']} "
            f"and {m['boards']['m55']} ({m['unit']}). **{s['slower']} of {s['layers']} layers "
            "run more instructions on M55.** Target: none.\n\n"
            + _table(["kind: M4 path -> M55 path", "layers", "slower on M55", "M4 total",
                      "M55 total", "worst M55/M4"], rows))
    if s["slower_layers"]:
        text += "\n\nSlower on M55:\n\n" + _table(
            ["case", "layer", "geometry", "paths (M4 -> M55)", "M4", "M55", "M55/M4"],
            [[r["case"], r["name"], r["geometry"], f"{r['path_m4']} -> {r['path_m55']}",
              f"{r['m4']:,}", f"{r['m55']:,}", r["ratio"]] for r in s["slower_layers"]])
    return text


# --- flash reads per inference (python -m bench flash) -----------------------------------------

def flash_section(f: dict | None) -> str:
    """Bytes each zoo model's firmware reads from flash per inference (bench/flash_reads.py),
    by category, and the weight re-read factor per layer of the first model on the M4."""
    title = "## Flash reads per inference"
    if f is None:
        return f"{title}\n\nNo result yet: `python -m bench flash`."
    rows = []
    for r in f["results"]:
        c = r["inference"]["by_category"]
        rows.append([r["model"], f"{r['board']} ({r['cpu']})",
                     f"{r['inference']['instructions']:,}", f"{r['weight_bytes_stored']:,}",
                     f"{c['weights']:,}", r["weight_reads_per_stored_byte"],
                     f"{c['per_channel']:,}", f"{c['params']:,}",
                     f"{c['literals'] + c['runtime_tables'] + c['other']:,}",
                     f"{r['inference']['flash_read_bytes'] - c['input']:,}"])
    text = (f"{title} ({f['date']})\n\nData bytes the deployed firmware reads from the "
            "flash region during one inference (vector 0), **measured**: the same firmware "
            "image run again in Unicorn with memory hooks (`bench/flash_reads.py`); its "
            "instruction count of every layer equals QEMU's. Weights stay in flash: a conv "
            "on a word-per-tap path (field9, field18, words) reads its weights once per "
            "output pixel, the lanes and bit-sliced paths copy them to RAM once per call, "
            "dense layers read each row once. `params` are the layers' parameter structs, "
            "whose fields the kernels re-read from flash; other = literal pools, jump tables and "
            "runtime tables. The harness's input image (in flash here; an application holds "
            "it in RAM) is left out of the total. Instruction fetches and RAM reads are not "
            "counted.\n\n"
            + _table(["model", "board", "instructions", "weight bytes stored",
                      "weight bytes read", "reads per weight byte", "per-channel bytes read",
                      "params bytes read", "other bytes read",
                      "flash bytes read (without the input)"], rows))
    first = next((r for r in f["results"] if r["board"] == "mps2-an386"), None)
    if first:
        text += (f"\n\nPer layer, {first['model']} on {first['board']}:\n\n" + _table(
            ["layer", "kind", "path", "instructions", "weight bytes read", "params bytes read",
             "flash bytes read"],
            [[l["name"], l["kind"], l["path"], f"{l['instructions']:,}",
              f"{l['by_category']['weights']:,}", f"{l['by_category']['params']:,}",
              f"{l['flash_read_bytes']:,}"] for l in first["layers"]]))
    return text


# --- first layer against CMSIS-NN int8 (python -m bench int8) -----------------------------------

def int8_section(d: dict | None) -> str:
    """Each zoo model's first layer (thermometer + first binary conv) against CMSIS-NN's int8
    convolution of the same width (bench/int8_first_layer.py)."""
    title = "## First layer against CMSIS-NN int8"
    if d is None:
        return (f"{title}\n\nNo result yet: `python -m bench int8 --cmsis-nn PATH` (a checkout "
                "of https://github.com/ARM-software/CMSIS-NN).")
    from .int8_first_layer import IMAGE
    h, w = IMAGE
    rows = []
    for r in d["results"]:
        for b, c in r["boards"].items():
            o = c["ours"]
            rows.append([r["model"], f"{h}x{w} -> {r['out_channels']}", b,
                         f"{o['instructions']:,} ({o['thermometer']:,} + {o['conv']:,}, "
                         f"{o['conv_path']})",
                         f"{c['int8-O2']['instructions']:,}", f"{c['int8-O3']['instructions']:,}",
                         c["ours_over_best_int8"]])
    return (f"{title} ({d['date']})\n\nThe first layer of each zoo model (its thermometer, "
            f"{d['results'][0]['planes'] if d['results'] else 8} planes, and its first binary "
            "3x3 conv, as deployed, outputs checked against the oracle) against one call of "
            "CMSIS-NN's `arm_convolve_wrapper_s8` (what TFLite Micro's CMSIS-NN kernels run for "
            "an int8 Conv2D with per-channel requantisation and ReLU) on a 28x28x1 int8 image "
            f"with as many 3x3 filters (`bench/int8_conv_main.c`; CMSIS-NN {d['cmsis_nn']}, "
            "built here at -O2 and -O3; its output CRC is the same on both boards and levels). "
            "QEMU instruction counts, not cycles. The comparison leans towards int8: ours is "
            "built at -O2 only and counted inside the model (with its layer dispatch), the "
            "int8 side is one bare call (no TFLite Micro operator overhead) at its better "
            "level. Issue 13's target: our first layer runs fewer instructions than the int8 "
            "one on Cortex-M55.\n\n"
            + _table(["model", "first layer", "board", "ours (thermometer + conv, path)",
                      "int8 -O2", "int8 -O3", "ours / best int8"], rows))


def render_markdown(res: dict) -> str:
    machines = {r["machine"]["cpus"] for r in res.values() if r}
    cpus = ", ".join(str(c) for c in sorted(machines)) or "2"
    intro = ("# Benchmarks\n\n<!-- GENERATED by `python -m bench docs` (bench/docs.py) from "
             "bench/results/*.json; do not edit by hand. -->\n\n"
             f"Measured on the project's build machine: {cpus} CPU cores, no accelerator (CPU "
             "only), shared with other jobs. Firmware numbers come from QEMU 7.2 with `-icount`: "
             "exact counts of executed instructions, **not cycles** (an LDRD or a taken branch "
             "is one instruction but several cycles on silicon); the Cortex-M4 cycles next to "
             "the default model's layers are a documented cost model over the exact "
             "instruction trace (`bench/cycles.py`), not a measurement. Each section gives "
             "the date of its result. Regenerate with `make bench` (or `python -m bench <name>`).")
    parts = [intro, targets_section(res), kernels_section(res["kernels"]),
             agreement_section(res["agreement"]), accuracy_section(res["accuracy"]),
             e2e_section(res["e2e"]), peers_section(res.get("peers")),
             m55_section(res.get("m55_vs_m4")), flash_section(res.get("flash_reads")),
             int8_section(res.get("int8_first_layer"))]
    return "\n\n".join(parts) + "\n"


def load_results(results_dir: Path = RESULTS_DIR) -> dict:
    return {name: read_json(results_dir / f"{name}.json")
            for name in ("kernels", "agreement", "accuracy", "e2e", "peers", "m55_vs_m4",
                         "flash_reads", "int8_first_layer")}


def write_docs(out: Path = DOC, results_dir: Path = RESULTS_DIR) -> Path:
    text = render_markdown(load_results(results_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out
