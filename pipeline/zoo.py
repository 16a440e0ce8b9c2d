"""The pretrained model zoo: ``zoo/<name>/`` in the repository (package data in a wheel).

Each entry holds the integer IR (``model.ir.json`` + ``model.ir.npz``), the config that trained it
(``config.yaml``), ``metrics.json`` (the oracle's accuracy on the whole test split, bits and MACs
per layer, file hashes, training time and machine) and a model card (``README.md``).
``deploy --model <name>`` (``make deploy MODEL=<name>``) deploys one without training;
``tests/zoo`` re-checks every entry's recorded accuracy with the oracle and its hashes.

    python -m pipeline.zoo list
    python -m pipeline.zoo publish --config configs/zoo/<name>.yaml --build build/zoo/<name>
        [--time-file <GNU time -v output> ...] [--machine "<words>"]

``publish`` lowers a finished training checkpoint, checks that torch (eval) and the oracle give
the same integer logits on every test image, and writes the entry. Training needs the
``[train]`` extra; ``list`` and the metrics helpers do not.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import numpy as np

from . import ir, resources

FILES = ("model.ir.json", "model.ir.npz", "config.yaml")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_figures(model: ir.Model) -> dict:
    """Bits and MACs of ``model``, in total and per layer (what metrics.json records)."""
    per_bits = {layer.name: ir.layer_bits(layer) for layer in model.layers}
    totals = {name: sum(b.values()) for name, b in per_bits.items()}
    return {"bits": {"total": model.bits(), "per_layer": per_bits,
                     "largest_layer_share": round(max(totals.values()) / model.bits(), 4)},
            "macs": {"total": int(sum(layer.macs for layer in model.layers)),
                     "per_layer": {layer.name: int(layer.macs) for layer in model.layers}}}


def load_test_split(data_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST test split (uint8 NHWC images, labels) straight from its IDX files."""
    from .data import fashion_mnist as F
    root = Path(data_path)
    images_file, labels_file = F.FILES["test"]
    return (F.read_idx_images(root / images_file),
            F.read_idx_labels(root / labels_file, len(F.CLASSES)))


def _machine(words: str | None) -> dict:
    model_name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": model_name or platform.processor(), "cpus": os.cpu_count(),
           "system": f"{platform.system()} {platform.machine()}",
           "python": platform.python_version()}
    try:
        import torch
        out["torch"] = torch.__version__
    except ImportError:
        pass
    if words:
        out["note"] = words
    return out


def _gnu_time(paths: list[Path]) -> dict:
    """CPU and wall seconds of `/usr/bin/time -v` reports of the training process(es), summed
    (a training stopped and resumed has one report a process)."""
    out: dict = {}
    for path in paths or []:
        fields = {}
        for line in Path(path).read_text().splitlines():
            key, _, value = line.strip().rpartition(": ")
            fields[key] = value
        if "User time (seconds)" in fields:
            cpu = float(fields["User time (seconds)"]) + float(fields.get("System time (seconds)", 0))
            out["cpu_seconds"] = round(out.get("cpu_seconds", 0) + cpu, 1)
        wall = fields.get("Elapsed (wall clock) time (h:mm:ss or m:ss)")
        if wall:
            secs = 0.0
            for part in wall.split(":"):
                secs = secs * 60 + float(part)
            out["process_wall_seconds"] = round(out.get("process_wall_seconds", 0) + secs, 1)
    return out


def publish(config: Path, build: Path, zoo: Path, time_files: list[Path] | None = None,
            machine: str | None = None) -> Path:
    """Write ``zoo/<config name>/`` from the finished training in ``build``."""
    import torch

    from .config import load_config
    from .lower import lower_checkpoint, load_model
    from .evaluate import torch_integer_logits
    from . import reference

    cfg = load_config(config)
    ckpt_path = Path(build) / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    if not ckpt.get("finished"):
        raise SystemExit(f"{ckpt_path}: training has not finished (resume it first)")
    # the name is no training setting: a run of the same settings under another name (e.g. an
    # experiment's) publishes as this config, and metrics.json says what it was trained as
    trained, wanted = dict(ckpt.get("config", {})), cfg.to_dict()
    trained_as = trained.pop("name", None)
    wanted.pop("name")
    if trained != wanted:
        raise SystemExit(f"{ckpt_path} was trained from other settings than {config}")
    out = Path(zoo) / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    model = lower_checkpoint(ckpt_path)
    model.save(out / "model.ir.json")
    shutil.copyfile(config, out / "config.yaml")
    model = ir.Model.load(out / "model.ir.json")

    images, labels = load_test_split(cfg.data.path)
    oracle = reference.run(model, images)
    torch_model, _ = load_model(ckpt_path)
    t_logits = torch_integer_logits(torch_model, images)
    equal = int(np.all(t_logits == oracle.logits.astype(np.int64), axis=1).sum())
    if equal != len(images):
        raise SystemExit(f"torch and the oracle disagree on {len(images) - equal} test images")
    correct = int((oracle.classes == labels).sum())

    records = [json.loads(line) for line in (Path(build) / "metrics.jsonl").read_text().splitlines()]
    teacher = [r for r in records if r.get("phase") == "teacher"]
    student = [r for r in records if r.get("phase") in ("student", "finetune")]
    train_seconds = sum(r.get("seconds", 0) for r in records if r.get("phase") != "final")
    training = {
        "teacher_epochs": cfg.teacher.epochs if cfg.distill.enabled else 0,
        "teacher_test_accuracy": teacher[-1]["test_acc"] if teacher else None,
        "student_epochs": cfg.train.epochs,
        "wall_seconds": round(train_seconds, 1),
        "student_wall_seconds": round(sum(r.get("seconds", 0) for r in student), 1),
        "threads": cfg.train.threads,
        **({"trained_as": trained_as} if trained_as != cfg.name else {}),
        **_gnu_time(time_files or []),
    }
    doc = {
        "name": cfg.name,
        "dataset": cfg.data.dataset,
        "test_images": int(len(images)),
        "correct": correct,
        "accuracy": correct / len(images),
        "accuracy_judge": "pipeline.reference (the oracle) on the whole test split; torch eval "
                          f"gives the same integer logits on {equal:,} / {len(images):,} images",
        "ir_sha256": model.sha256(),
        "files": {name: file_sha256(out / name) for name in FILES},
        **model_figures(model),
        "training": training,
        "machine": _machine(machine),
    }
    (out / "metrics.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "README.md").write_text(model_card(doc, cfg))
    return out


def model_card(doc: dict, cfg) -> str:
    """A short model card (README.md of a zoo entry) from its metrics."""
    t = doc["training"]
    rows = []
    for name, b in doc["bits"]["per_layer"].items():
        total = sum(b.values())
        rows.append(f"| {name} | {total:,} | {100 * total / doc['bits']['total']:.1f} % | "
                    f"{doc['macs']['per_layer'][name]:,} |")
    cpu = f", {t['cpu_seconds'] / 60:.1f} CPU-minutes" if "cpu_seconds" in t else ""
    n = t["teacher_epochs"]
    teacher = (f"float teacher {n} epoch{'s' if n != 1 else ''} "
               f"({100 * t['teacher_test_accuracy']:.2f} % float test accuracy), "
               if t.get("teacher_test_accuracy") is not None else "")
    aug = {k: v for k, v in cfg.to_dict()["data"]["augment"].items() if v}
    m = doc["machine"]
    threads = f"{t['threads']} torch thread{'s' if t['threads'] != 1 else ''}"
    note = m.get("note", "")
    machine = f"{m['cpu']}, {m['cpus']} cores, {threads}" + (f"; {note}" if note else "")
    trained_as = (f" It was trained as `{t['trained_as']}`: the same settings under another "
                  "name." if t.get("trained_as") else "")
    return f"""# {doc['name']}

A fully-binarized network for Fashion-MNIST (28x28 grey images, 10 classes) with a Generic
Learned Thermometer input ({cfg.model.encoding.planes} planes). Every layer is binary; the
integer IR here is what the C library, the ONNX/TFLite exports and the firmware compute.

- **Test accuracy: {100 * doc['accuracy']:.2f} %** ({doc['correct']:,} / {doc['test_images']:,}
  Fashion-MNIST test images; the oracle `pipeline/reference.py` on the integer IR, equal to the
  torch model in eval mode on every image).
- **{doc['bits']['total']:,} bits** (weights and parameters as the firmware stores them),
  {doc['macs']['total'] / 1e6:.2f} M binary MACs per image; the largest layer holds
  {100 * doc['bits']['largest_layer_share']:.1f} % of the bits.
- Trained with `python -m pipeline train --config configs/zoo/{doc['name']}.yaml` ({teacher}
  {t['student_epochs']} student epochs with distillation, augmentation {aug or 'none'}, no
  pruning) in {t['wall_seconds'] / 60:.1f} minutes of training wall time{cpu}; machine:
  {machine}.{trained_as}
- Deploy without training: `make deploy BOARD=<board> MODEL={doc['name']}`
  (`python -m pipeline deploy --board <board> --model {doc['name']}`).
- IR sha256 `{doc['ir_sha256']}`; `tests/zoo` re-runs the oracle on the test split and checks
  the accuracy (exactly) and the hashes in `metrics.json`.

| layer | bits | share | binary MACs |
|---|---:|---:|---:|
""" + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.zoo", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the zoo's models with accuracy and bits")
    card = sub.add_parser("card", help="rewrite zoo/<name>/README.md from its metrics.json")
    card.add_argument("name")
    pub = sub.add_parser("publish", help="write zoo/<name>/ from a finished training")
    pub.add_argument("--config", type=Path, required=True)
    pub.add_argument("--build", type=Path, required=True, help="the training's output folder")
    pub.add_argument("--zoo", type=Path, default=None, help="zoo folder (default: the package's)")
    pub.add_argument("--time-file", type=Path, action="append", default=[],
                     help="`/usr/bin/time -v` output of the training (repeat: summed)")
    pub.add_argument("--machine", help="words about the machine (shared, idle, ...)")
    args = p.parse_args(argv)
    if args.cmd == "list":
        for name in resources.zoo_models():
            doc = json.loads((resources.zoo_dir() / name / "metrics.json").read_text())
            print(f"{name:<20} {100 * doc['accuracy']:6.2f} %  {doc['bits']['total']:>9,} bits  "
                  f"{doc['macs']['total'] / 1e6:6.2f} M MACs")
        return 0
    if args.cmd == "card":
        from .config import load_config
        folder = resources.zoo_model(args.name).parent
        doc = json.loads((folder / "metrics.json").read_text())
        (folder / "README.md").write_text(model_card(doc, load_config(folder / "config.yaml")))
        return 0
    zoo = args.zoo or (resources.checkout_root() or Path.cwd()) / "zoo"
    out = publish(args.config, args.build, zoo, args.time_file, args.machine)
    print(f"{out}: {json.loads((out / 'metrics.json').read_text())['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
