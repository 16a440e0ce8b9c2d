"""``docs/paper.md`` and its plots, generated from the study's results (``bench/results/paper.json``;
never edit the Markdown by hand): ``python -m bench paper --report``.

The page states, from the numbers, whether the paper's two claims hold on this data:

1. *GLT vs the ADC's binary code*: per data kind and planes M, the GLT's accuracy minus the
   base-2 bit-planes' (and minus the uniform and the quantile thermometers'), as the mean of the
   per-seed differences (runs of one seed share their training subset and sensor captures) with
   its standard deviation. A difference *holds* when its mean exceeds two standard errors of the
   mean (``2 * std / sqrt(n)``), is *reversed* when below minus that, else it is *within noise*
   (with 3 seeds this is a rough screen, not a significance test). Plus how close the learned
   thresholds on raw data come to the tone curve that would undo the sensor's linear response.
2. *Block pruning + KD under a bit budget with limited loss*: per budget, the pruned+KD model's
   accuracy minus that of the unpruned GLT of the same M (same schedule, no KD); *limited* means a
   mean drop of at most :data:`LIMITED_LOSS`. Also KD's effect (pruned+KD minus pruned) and
   pruning's (pruned+KD minus the same final architecture trained from scratch with KD).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import ROOT, WORK_DIR, read_json
from pipeline.atomic import write_text_atomic as write_text

LIMITED_LOSS = 0.01  # claim 2: "limited loss" read as at most 1 percentage point
ENC_LABELS = {"glt": "GLT (learned)", "uniform": "uniform thermometer",
              "base2": "base-2 bit-planes (ADC code)", "quantile": "quantile thermometer (fixed)"}
VARIANT_LABELS = {"pruned-kd": "block-pruned + KD", "pruned": "block-pruned, no KD",
                  "scratch-kd": "same size from scratch + KD", "scratch": "same size from scratch"}


def report_paths(study) -> tuple[Path, Path, str]:
    """(Markdown file, image folder, image folder relative to the Markdown) of a study: under
    docs/ for a full study, under build/ for --quick (a demonstration, never committed)."""
    suffix = "" if study.dataset == "fashion_mnist" else f"_{study.dataset}"
    if study.quick:
        folder = WORK_DIR / "paper" / study.mode / "report"
        return folder / f"paper{suffix}.md", folder / "img", "img"
    return ROOT / "docs" / f"paper{suffix}.md", ROOT / "docs" / "img", "img"


def write_report(study) -> list[Path]:
    """Write the study's page and plots from ``study.results_path``; returns the files."""
    md, img_dir, img_rel = report_paths(study)
    doc = read_json(study.results_path)
    command = "python -m bench paper" + (" --quick" if study.quick else "") + \
        (f" --data {study.dataset}=PATH" if study.dataset != "fashion_mnist" else "")
    return render(doc, md, img_dir, img_rel, command, prefix=f"paper{md.stem[5:]}",
                  planned=describe_plan(study))


def describe_plan(study) -> str:
    """One paragraph: the runs per arm and the schedule of ``study``."""
    from .paper import PRUNE_DATA, SMALL_PLANES, expected_counts
    g, counts = study.grid, expected_counts(study)
    return (f"Planned: {sum(counts.values())} runs ({counts['encoding']} encoding runs: "
            f"{', '.join(g['encodings'])} x M {list(g['planes'])} x seeds {list(g['seeds'])} x "
            f"processed/raw data; {counts['teacher']} float teachers; per variant "
            f"{counts['pruned-kd']} pruning-arm runs: budgets {[f'{b:,}' for b in g['budgets']]} "
            f"x seeds, pruned with and without KD and the pruned size from scratch with and "
            f"without KD, GLT on {PRUNE_DATA} data at the best M in {list(SMALL_PLANES)}). "
            f"Every run: {g['train_limit']} training images, {g['epochs']} epochs, "
            f"{g['test_limit']} test images.")


# --- numbers -------------------------------------------------------------------------------------

def _pp(x: float) -> str:
    return f"{100 * x:+.2f} pp"


def _acc(s: dict) -> str:
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f} %"


def paired(a: dict, b: dict) -> dict | None:
    """Mean, sample std and n of the per-seed differences a - b over the seeds both rows have
    (rows: aggregate rows with ``seeds`` and ``accuracy.values`` in seed order), and the verdict
    of the 2-standard-error rule; None when they share no seed."""
    va = dict(zip(a["seeds"], a["accuracy"]["values"]))
    vb = dict(zip(b["seeds"], b["accuracy"]["values"]))
    common = sorted(set(va) & set(vb))
    if not common:
        return None
    d = np.array([va[s] - vb[s] for s in common])
    std = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    mean = float(d.mean())
    return {"mean": mean, "std": std, "n": len(d), "verdict": verdict(mean, std, len(d))}


def verdict(mean: float, std: float, n: int) -> str:
    """``holds`` / ``reversed`` / ``within noise`` by the 2-standard-error rule; ``one seed``
    when the spread is unknown."""
    if n < 2:
        return "one seed: no spread"
    se = std / math.sqrt(n)
    if mean > 2 * se:
        return "holds"
    if mean < -2 * se:
        return "reversed"
    return "within noise"


def _diff(d: dict | None) -> str:
    if d is None:
        return "-"
    return f"{_pp(d['mean'])} ± {100 * d['std']:.2f} (n={d['n']}): {d['verdict']}"


def _rows(doc: dict) -> dict[tuple, dict]:
    return {(r["data"], r["encoding"], r["planes"]): r for r in doc.get("encoding", [])}


def claim1(doc: dict) -> list[dict]:
    """Per data kind and M: GLT minus each other encoding (paired over seeds)."""
    rows, out = _rows(doc), []
    for (data, enc, m), glt in rows.items():
        if enc != "glt":
            continue
        entry = {"data": data, "planes": m, "glt": glt["accuracy"]}
        for other in ("base2", "uniform", "quantile"):
            o = rows.get((data, other, m))
            entry[other] = paired(glt, o) if o is not None else None
        out.append(entry)
    return out


def claim2(doc: dict) -> list[dict]:
    """Per budget: the pruned+KD accuracy against the unpruned GLT, KD's and pruning's effect."""
    m, data = doc.get("prune_planes"), doc.get("prune_data")
    ref = _rows(doc).get((data, "glt", m))
    by = {(r["variant"], r["budget"]): r for r in doc.get("pruning", [])}
    out = []
    for budget in sorted({b for _, b in by}, reverse=True):
        pk = by.get(("pruned-kd", budget))
        if pk is None:
            continue
        drop = paired(pk, ref) if ref is not None else None
        entry = {"budget": budget, "pruned_kd": pk, "reference": ref, "drop": drop,
                 "limited": None if drop is None else drop["mean"] >= -LIMITED_LOSS,
                 "kd_effect": paired(pk, by[("pruned", budget)]) if ("pruned", budget) in by
                 else None,
                 "vs_scratch": paired(pk, by[("scratch-kd", budget)])
                 if ("scratch-kd", budget) in by else None}
        out.append(entry)
    return out


def tone_distance(doc: dict) -> list[dict]:
    """Per M: mean |threshold - ideal| in pixel codes on raw data, where the ideal thresholds are
    the raw codes at which the sensor's noiseless response (at the geometric-mean exposure)
    reaches the uniform thermometer's levels of the processed image: the thermometer that would
    undo the sensor's linear response. For the learned GLT, the fixed quantile thermometer and
    the uniform one."""
    from pipeline.data.sensor import SensorConfig, sensor_response
    from pipeline.nn.thermometer import uniform_thresholds
    sensor = SensorConfig(**doc["sensor"])
    mid = math.sqrt(sensor.exposure[0] * sensor.exposure[1])
    out = []
    for m in sorted({r["planes"] for r in doc.get("runs", []) if r["data"] == "raw"}):
        ideal = sensor_response(uniform_thresholds(m), mid, sensor)
        entry = {"planes": m}
        for enc in ("glt", "quantile", "uniform"):
            ts = [np.asarray(r["thresholds"], dtype=np.float64) for r in doc["runs"]
                  if r["data"] == "raw" and r["encoding"] == enc and r["planes"] == m
                  and r["arm"] == "encoding" and r.get("thresholds")]
            if enc == "uniform" and not ts:
                ts = [uniform_thresholds(m)[None, :].astype(np.float64)]
            entry[enc] = float(np.mean([np.abs(t - ideal[None, :]).mean() for t in ts])) \
                if ts else None
        out.append(entry)
    return out


# --- plots ---------------------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_planes(doc: dict, path: Path) -> Path:
    """Accuracy vs planes M per encoding, one panel per data kind, error bars = std over seeds."""
    plt = _plt()
    rows = doc.get("encoding", [])
    kinds = [d for d in ("processed", "raw") if any(r["data"] == d for r in rows)] or ["processed"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4), squeeze=False,
                             sharey=True)
    for ax, data in zip(axes[0], kinds):
        for enc, label in ENC_LABELS.items():
            rs = sorted((r for r in rows if r["data"] == data and r["encoding"] == enc),
                        key=lambda r: r["planes"])
            if rs:
                ax.errorbar([r["planes"] for r in rs], [100 * r["accuracy"]["mean"] for r in rs],
                            yerr=[100 * r["accuracy"]["std"] for r in rs], marker="o",
                            capsize=3, label=label)
        ax.set(title=f"{data} data", xlabel="planes M", ylabel="test accuracy (%)")
        ax.set_xticks(sorted({r["planes"] for r in rows}) or [1])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both fewer bits and higher accuracy, by bits."""
    front, best = [], -math.inf
    for bits, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((bits, acc))
            best = acc
    return front


def plot_bits(doc: dict, path: Path) -> Path:
    """Accuracy vs model bits: each pruning-arm variant over budgets (mean ± std over seeds),
    the unpruned reference, and the Pareto front of all of them."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    points = []
    for variant, label in VARIANT_LABELS.items():
        rs = sorted((r for r in doc.get("pruning", []) if r["variant"] == variant),
                    key=lambda r: r["bits"]["mean"])
        if not rs:
            continue
        xs, ys = [r["bits"]["mean"] for r in rs], [100 * r["accuracy"]["mean"] for r in rs]
        ax.errorbar(xs, ys, yerr=[100 * r["accuracy"]["std"] for r in rs], marker="o",
                    capsize=3, label=label, ls="-" if variant.startswith("pruned") else "--")
        points += list(zip(xs, ys))
    ref = _rows(doc).get((doc.get("prune_data"), "glt", doc.get("prune_planes")))
    if ref is not None:
        ax.errorbar([ref["bits"]["mean"]], [100 * ref["accuracy"]["mean"]],
                    yerr=[100 * ref["accuracy"]["std"]], marker="*", ms=12, color="k",
                    capsize=3, ls="none", label="unpruned, no KD")
        points.append((ref["bits"]["mean"], 100 * ref["accuracy"]["mean"]))
    if points:
        front = pareto_front(points)
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="gray",
                alpha=0.5, lw=4, marker="o", ms=14, mfc="none", label="Pareto front")
    ax.axvline(1_000_000, color="r", ls=":", lw=1, label="1 Mbit")
    ax.set_xscale("log")
    ax.set(xlabel="model bits (weights + parameters)", ylabel="test accuracy (%)",
           title=f"GLT M={doc.get('prune_planes')} on {doc.get('prune_data')} data")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_tone(doc: dict, path: Path) -> Path:
    """Learned GLT tone curves on raw data (planes on / M against the raw pixel code, one line
    per seed and channel) with the fixed quantile thermometer and, as the reference, the sensor's
    curve: the processed level (0..1) a raw code stands for at the lowest, geometric-mean and
    highest exposure (``pipeline.data.sensor.sensor_response``, inverted by plotting it with its
    axes swapped)."""
    from pipeline.data.sensor import SensorConfig, sensor_response
    from pipeline.nn.thermometer import tone_curve
    plt = _plt()
    sensor = SensorConfig(**doc["sensor"])
    runs = [r for r in doc.get("runs", []) if r["data"] == "raw" and r["arm"] == "encoding"
            and r["encoding"] in ("glt", "quantile") and r.get("thresholds")]
    planes = sorted({r["planes"] for r in runs}) or [0]
    fig, axes = plt.subplots(1, len(planes), figsize=(4 * len(planes), 3.8), squeeze=False,
                             sharey=True)
    lo, hi = sensor.exposure
    p = np.arange(256)
    codes = np.arange(256)
    for ax, m in zip(axes[0], planes):
        for e, ls in ((lo, ":"), (math.sqrt(lo * hi), "-"), (hi, "--")):
            ax.plot(sensor_response(p, e, sensor), p / 255, color="k", ls=ls, lw=1,
                    label=f"sensor, exposure {e:.3g}")
        for r in runs:
            if r["planes"] != m:
                continue
            glt = r["encoding"] == "glt"
            for c, t in enumerate(r["thresholds"]):
                ax.step(codes, tone_curve(np.asarray(t)) / m, where="post", alpha=0.7,
                        color="C0" if glt else "C3", lw=1.5 if glt else 1,
                        label=(f"GLT seed {r['seed']}" if glt else f"quantile seed {r['seed']}")
                        if c == 0 else None)
        ax.set(title=f"M = {m}", xlabel="raw pixel code", xlim=(0, 255))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("planes on / M;  sensor: processed level")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- the page ------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _not_run(command: str, planned: str = "") -> str:
    return "\n".join([
        "# The paper's claims on this data (issue 15)", "",
        "**The study has not been run yet**: there is no results file. Run it (about 2 hours on "
        "2 CPU cores; resumable, so it can be stopped and restarted) and regenerate this page:",
        "", "```sh", command, command.replace("python -m bench paper",
                                              "python -m bench paper --report", 1), "```", "",
        *([planned, ""] if planned else []),
        "See `bench/paper.py` for the grid and the schedule, and `bench/paper_report.py` for how "
        "this page turns the numbers into verdicts. `python -m bench paper --quick` (a few "
        "minutes) checks the harness end to end on a tiny grid; its page "
        "(`build/bench/paper/quick/report/paper.md`) and `bench/results/paper_quick.json` are "
        "not results.", ""])


def _tone_summary(tone: list[dict]) -> list[str]:
    """One sentence: at which M the learned thresholds sit closer to the sensor-inverting ones
    than the uniform and than the quantile thermometer's (empty without GLT thresholds)."""
    ms = [t for t in tone if t["glt"] is not None]
    if not ms:
        return []
    vs_uniform = [t["planes"] for t in ms if t["uniform"] is not None and t["glt"] < t["uniform"]]
    vs_quantile = [t["planes"] for t in ms
                   if t["quantile"] is not None and t["glt"] < t["quantile"]]
    quantile = (f" and closer than the fixed quantile thermometer's at M = "
                f"{vs_quantile or 'none'}" if any(t["quantile"] is not None for t in ms) else "")
    return [f"The learned thresholds are closer to the sensor-inverting ones than the uniform "
            f"thermometer's at M = {vs_uniform or 'none'}{quantile} (of M = "
            f"{[t['planes'] for t in ms]}).", ""]


def _summary_claim1(c1: list[dict]) -> list[str]:
    lines = []
    for data in ("raw", "processed"):
        es = [e for e in c1 if e["data"] == data and e["base2"] is not None]
        if not es:
            continue
        if all(e["base2"]["n"] < 2 for e in es):
            lines.append(f"- **{data} data**: one seed only: no spread, no verdict.")
            continue
        holds = [e["planes"] for e in es if e["base2"]["verdict"] == "holds"]
        rev = [e["planes"] for e in es if e["base2"]["verdict"] == "reversed"]
        mean = float(np.mean([e["base2"]["mean"] for e in es]))
        lines.append(
            f"- **{data} data**: GLT minus base-2 averages {_pp(mean)} over M in "
            f"{[e['planes'] for e in es]}; the gain holds (mean > 2 standard errors) at M = "
            f"{holds or 'none'}" + (f", is reversed at M = {rev}" if rev else "") +
            ("." if holds else ": **the claim does not hold on this data**."))
    return lines


def render(doc: dict | None, md: Path, img_dir: Path, img_rel: str, command: str,
           prefix: str = "paper", planned: str = "") -> list[Path]:
    """Write the Markdown page (and, with results, its three plots); returns the paths.
    ``planned`` describes the grid on the page written before the study has run."""
    md.parent.mkdir(parents=True, exist_ok=True)
    if doc is None:
        write_text(md, _not_run(command, planned))
        return [md]
    img_dir.mkdir(parents=True, exist_ok=True)
    plots = {"planes": plot_planes(doc, img_dir / f"{prefix}_planes.png"),
             "bits": plot_bits(doc, img_dir / f"{prefix}_bits.png"),
             "tone": plot_tone(doc, img_dir / f"{prefix}_tone.png")}
    c1, c2, tone = claim1(doc), claim2(doc), tone_distance(doc)
    sched = doc["schedule"]
    quick = doc.get("quick")
    out = ["# The paper's claims on this data (issue 15)", ""]
    if quick:
        out += ["> **QUICK MODE: NOT RESULTS.** One seed, a few hundred training images, "
                "tiny schedules: this page only shows that the harness and the generator work "
                "end to end. Run the full study for numbers.", ""]
    out += [f"Generated by `python -m bench paper --report` from `{doc['mode']}` results of "
            f"{doc['date']} ({doc['finished_runs']} runs finished; expected "
            f"{sum(doc['expected_runs'].values())}; failed: {len(doc['failed_runs'])}). "
            f"Dataset: {doc['dataset']}, base config `{doc['base_config']}`. Wall time: "
            f"{doc['wall_seconds'].get('all_calls', 0) / 60:.1f} min over "
            f"{doc['wall_seconds'].get('calls', 1)} call(s) (the last "
            f"{doc['wall_seconds']['this_call'] / 60:.1f} min on "
            f"{doc['wall_seconds']['workers']} workers; a call stopped from outside is not "
            f"logged, its finished runs are kept); sum over runs "
            f"{doc['wall_seconds']['sum_of_runs'] / 60:.1f} min, the figure to compare. Machine: "
            f"{doc['machine']['cpus']} CPUs, {doc['machine']['accelerator']}.", "",
            "## Set-up", "",
            f"Every run: the base config's topology, {sched['train_limit']} training images (a "
            f"seeded subset per seed), {sched['epochs']} epochs, accuracy of the integer model "
            f"(the oracle; torch eval agrees on every image) on the first {sched['test_limit']} "
            f"test images. Seeds {sched['seeds']}. *raw* data is the same images through the "
            f"raw-sensor simulation (`data.sensor` defaults: linear {doc['sensor']['adc_bits']}-bit "
            f"ADC, exposure {doc['sensor']['exposure']}, full well "
            f"{doc['sensor']['full_well']:g} e-, read noise {doc['sensor']['read_noise']:g} e-; "
            "see docs/sensor.md). Encoding arm: no distillation, no pruning; GLT starts at the "
            "data's quantiles, so GLT minus the quantile thermometer is what learning end to end "
            "adds. Pruning arm: GLT at M = "
            f"{doc['prune_planes']} ({doc['prune_planes_rule']}) on {doc['prune_data']} data, "
            f"block pruning after epochs {sched['prune_at']} to each budget, min_keep "
            f"{sched['min_keep']}.", ""]
    # claim 1
    out += ["## Claim 1: a learned thermometer beats the ADC's binary code", ""]
    out += _summary_claim1(c1) + [""]
    out += [_table(["data", "M", "GLT accuracy", "GLT - base-2", "GLT - uniform",
                    "GLT - quantile (learning vs histogram)"],
                   [[e["data"], e["planes"], _acc(e["glt"]), _diff(e["base2"]),
                     _diff(e["uniform"]), _diff(e["quantile"])] for e in c1]), "",
            "Differences: mean ± std over seeds of the per-seed difference; *holds* when the "
            "mean exceeds 2 standard errors.", "",
            f"![accuracy vs planes]({img_rel}/{plots['planes'].name})", "",
            "All encodings (mean ± std over seeds):", "",
            _table(["data", "encoding", "M", "accuracy", "bits"],
                   [[r["data"], r["encoding"], r["planes"], _acc(r["accuracy"]),
                     f"{r['bits']['mean']:,.0f}"] for r in doc.get("encoding", [])]), ""]
    out += ["### Tone mapping on raw data", "",
            "Mean distance (pixel codes) of each thermometer's thresholds to the thresholds that "
            "would undo the sensor's linear response at the geometric-mean exposure (the raw "
            "codes where it reaches the uniform thermometer's processed levels). Smaller: closer "
            "to a global tone map of the sensor.", "",
            _table(["M", "GLT (learned)", "quantile (fixed)", "uniform"],
                   [[t["planes"]] + ["-" if t[k] is None else f"{t[k]:.1f}"
                                     for k in ("glt", "quantile", "uniform")] for t in tone]),
            "", *_tone_summary(tone), f"![tone curves]({img_rel}/{plots['tone'].name})", ""]
    # claim 2
    out += ["## Claim 2: block pruning + KD reach small budgets with limited loss", ""]
    if c2:
        ok = [e["budget"] for e in c2 if e["limited"]]
        bad = [e["budget"] for e in c2 if e["limited"] is False]
        out += [f"Limited loss means a mean drop of at most {100 * LIMITED_LOSS:.0f} pp against "
                f"the unpruned GLT (M = {doc['prune_planes']}, same schedule, no KD). It holds at "
                f"budgets {[f'{b:,}' for b in ok] or 'none'}" +
                (f" and not at {[f'{b:,}' for b in bad]}" if bad else "") + ".", "",
                _table(["budget (bits)", "bits reached", "pruned + KD", "minus unpruned",
                        "KD effect (pruned + KD minus pruned)",
                        "pruning vs scratch (pruned + KD minus scratch + KD)"],
                       [[f"{e['budget']:,}", f"{e['pruned_kd']['bits']['mean']:,.0f}",
                         _acc(e["pruned_kd"]["accuracy"]), _diff(e["drop"]),
                         _diff(e["kd_effect"]), _diff(e["vs_scratch"])] for e in c2]), ""]
        if c2[0]["reference"] is not None:
            ref = c2[0]["reference"]
            out += [f"Unpruned reference: {_acc(ref['accuracy'])}, {ref['bits']['mean']:,.0f} "
                    "bits.", ""]
    else:
        out += ["No pruning-arm results yet.", ""]
    out += [f"![accuracy vs bits]({img_rel}/{plots['bits'].name})", "",
            "All pruning-arm rows (mean ± std over seeds):", "",
            _table(["variant", "budget", "accuracy", "bits"],
                   [[VARIANT_LABELS.get(r["variant"], r["variant"]), f"{r['budget']:,}",
                     _acc(r["accuracy"]), f"{r['bits']['mean']:,.0f} ± {r['bits']['std']:,.0f}"]
                    for r in doc.get("pruning", [])]), ""]
    if doc.get("teachers"):
        out += ["Float teachers (KD): " + ", ".join(
            f"seed {t['seed']} {100 * t['accuracy']:.2f} %" for t in doc["teachers"]) + ".", ""]
    if doc["failed_runs"]:
        out += ["## Failed runs", ""] + [f"- `{k}`: {v}" for k, v in doc["failed_runs"].items()] \
            + [""]
    write_text(md, "\n".join(out))
    return [md, *plots.values()]
