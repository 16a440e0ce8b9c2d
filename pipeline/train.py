"""Training (verb ``train``): float teacher, binarized student with distillation, block pruning.

Everything goes under ``build/<config>/``: ``teacher.pt``, ``checkpoint.pt``, ``metrics.jsonl``
and ``plots/*.png``. Work is a fixed *plan* of units (student epochs, then per pruning step: the
pruning itself and its fine-tuning chunks); a checkpoint is written atomically after every unit
and ``resume=True`` continues at the next one. Data order and augmentation are seeded per unit,
so an interrupted and resumed run gives the same weights as an uninterrupted one.
Under ``torchrun`` it trains with DistributedDataParallel (gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from .config import Config, ConfigError, load_config
from .data import Dataset, prepare
from .data.transforms import augment
from .atomic import writable_dir
from .errors import PipelineError
from .nn import prune as P
from .nn.distill import distillation_loss
from .nn.models import BNN, FloatTeacher, arch_bits, make_arch
from .nn.quantizers import clip_latent_weights
from .nn.thermometer import GLT, QuantileThermometer

CHECKPOINT, TEACHER, METRICS = "checkpoint.pt", "teacher.pt", "metrics.jsonl"
EVAL_BATCH = 1000
QUANTILE_SAMPLE = 10_000


class CheckpointMismatchError(PipelineError):
    """--resume found a checkpoint of a different config."""


# --- small helpers ---------------------------------------------------------------------------

def _atomic_save(obj, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class _Dist:
    """Rank/world of this process; initialises the process group under torchrun."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self.rank = dist.get_rank() if self.world > 1 else 0
        self.main = self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def params_equal(self, model: torch.nn.Module) -> bool:
        """True when every rank holds the same parameters and buffers (what DDP promises)."""
        if self.world == 1:
            return True
        flat = torch.cat([t.detach().double().flatten().cpu() for t in model.state_dict().values()])
        lo, hi = flat.clone(), flat.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        return bool(torch.equal(lo, hi))

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Rank 0's buffers everywhere: DDP broadcasts them before each forward, but the last
        forward's BatchNorm statistics update stays local."""
        if self.world > 1:
            for buf in model.buffers():
                dist.broadcast(buf, 0)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return DDP(model) if self.world > 1 else model


def _device(cfg: Config) -> torch.device:
    want = cfg.train.device
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("train.device is cuda but no GPU is visible; use auto or cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(n: int, batch: int, rng: np.random.Generator, dd: _Dist, limit: int | None = None):
    """Index arrays of this rank's share of each global batch (last partial batch dropped)."""
    order = rng.permutation(n)
    count = max(1, n // batch) if limit is None else limit
    for b in range(count):
        idx = order[(b * batch) % n:][:batch]
        yield idx[dd.rank::dd.world]


def _cosine(base: float, step: int, total: int, schedule: str) -> float:
    if schedule == "constant" or total <= 0:
        return base
    return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray,
             device: torch.device) -> tuple[float, float]:
    """(loss, accuracy) in eval mode on float logits."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(images), EVAL_BATCH):
        x = torch.from_numpy(images[i:i + EVAL_BATCH]).to(device)
        y = torch.from_numpy(labels[i:i + EVAL_BATCH]).to(device)
        out = model(x)
        loss += float(torch.nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
    return loss / len(images), correct / len(images)


@torch.no_grad()
def integer_accuracy(model: BNN, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the integer model (what the IR and the firmware compute)."""
    model.eval()
    correct = 0
    for i in range(0, len(images), EVAL_BATCH):
        logits = model.integer_logits(torch.from_numpy(images[i:i + EVAL_BATCH]))
        correct += int((logits.argmax(1).numpy() == labels[i:i + EVAL_BATCH]).sum())
    return correct / len(images)


# --- one pass over (part of) the data -------------------------------------------------------

def _run_epoch(net, model, opt, ds: Dataset, cfg: Config, rng, dd: _Dist, device, lr_at,
               teacher=None, batch_size: int | None = None, limit: int | None = None,
               desc: str = "", progress_at=None) -> dict:
    """Train one pass; ``lr_at(i)`` gives the learning-rate factor of batch i and
    ``progress_at(i)`` the training progress an encoding anneals with."""
    net.train()
    batch_size = batch_size or cfg.train.batch_size
    total = len(ds.train_images) // batch_size if limit is None else limit
    bar = tqdm(_batches(len(ds.train_images), batch_size, rng, dd, limit), total=max(total, 1),
               desc=desc, disable=not dd.main, leave=False, mininterval=1.0)
    seen = loss_sum = correct = 0
    for i, idx in enumerate(bar):
        x = torch.from_numpy(augment(ds.train_images[idx], cfg.data.augment, rng)).to(device)
        y = torch.from_numpy(ds.train_labels[idx]).to(device)
        factor = lr_at(i)
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor
        if progress_at is not None:
            model.encoding.set_progress(progress_at(i))
        out = net(x)
        with torch.no_grad():
            t_out = teacher(x) if teacher is not None else None
        loss = distillation_loss(out, y, t_out, cfg.distill.temperature, cfg.distill.alpha) \
            if t_out is not None else torch.nn.functional.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clip_latent_weights(model)
        seen += len(y)
        loss_sum += float(loss.detach()) * len(y)
        correct += int((out.argmax(1) == y).sum())
        if dd.main and i % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
    dd.sync_buffers(model)
    return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}


def _unit_rng(cfg: Config, *key: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, *key])


# --- teacher ---------------------------------------------------------------------------------

def _teacher_fingerprint(cfg: Config, ds: Dataset) -> dict:
    """What a saved teacher depends on: its settings, the seed and the training data itself
    (a digest of the arrays, so edited dataset files never reuse a stale teacher)."""
    c = cfg.to_dict()
    data = hashlib.sha256(np.ascontiguousarray(ds.train_images).data)
    data.update(np.ascontiguousarray(ds.train_labels).data)
    return {"seed": cfg.seed, "data": {k: v for k, v in c["data"].items()}, "teacher": c["teacher"],
            "train_arrays": data.hexdigest()}


def ensure_teacher(cfg: Config, ds: Dataset, out_dir: Path, dd: _Dist, device) -> tuple:
    """The float teacher from ``teacher.pt``, trained first when absent (or of other settings)."""
    path = out_dir / TEACHER
    teacher = FloatTeacher(ds.image_shape, ds.num_classes, cfg.teacher.width).to(device)
    fingerprint = _teacher_fingerprint(cfg, ds)
    state = torch.load(path, map_location=device, weights_only=False) if path.is_file() else None
    if state is not None and state.get("fingerprint") != fingerprint:
        state = None
    if state is None:
        _seed_everything(cfg.seed + 1)
        teacher = FloatTeacher(ds.image_shape, ds.num_classes, cfg.teacher.width).to(device)
        state = {"fingerprint": fingerprint, "epoch": 0, "finished": False, "metrics": []}
    else:
        teacher.load_state_dict(state["model"])
    opt = torch.optim.Adam(teacher.parameters(), lr=cfg.teacher.lr)
    for g in opt.param_groups:
        g["base_lr"] = cfg.teacher.lr
    if "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    net = dd.wrap(teacher)
    per_epoch = max(1, len(ds.train_images) // cfg.teacher.batch_size)
    total = cfg.teacher.epochs * per_epoch
    while state["epoch"] < cfg.teacher.epochs:
        e = state["epoch"]
        t0 = time.time()
        stats = _run_epoch(net, teacher, opt, ds, cfg, _unit_rng(cfg, 1, e), dd, device,
                           lambda i: _cosine(1.0, e * per_epoch + i, total, "cosine"),
                           batch_size=cfg.teacher.batch_size, desc=f"teacher {e + 1}")
        _, acc = evaluate(teacher, ds.test_images, ds.test_labels, device)
        state["metrics"].append({"phase": "teacher", "epoch": e + 1, **stats, "test_acc": acc,
                                 "seconds": round(time.time() - t0, 2)})
        state.update(epoch=e + 1, finished=e + 1 == cfg.teacher.epochs,
                     model=teacher.state_dict(), optimizer=opt.state_dict(), test_accuracy=acc)
        if dd.main:
            _atomic_save(state, path)
        dd.barrier()
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, state["metrics"]


# --- student ---------------------------------------------------------------------------------

def _plan(cfg: Config) -> list[tuple]:
    """Units in order. Pruning steps run after the student epochs listed in
    ``prune.at_epochs`` (the later epochs then fine-tune at the main schedule), or, when that is
    empty, after training; each step is followed by ``prune.finetune_epochs`` of fine-tuning."""
    p = cfg.prune
    after = (list(p.at_epochs) or [cfg.train.epochs] * p.steps) if p.enabled else []
    chunks = math.ceil(p.finetune_epochs)
    units: list[tuple] = []
    for e in range(cfg.train.epochs + 1):
        if e < cfg.train.epochs:
            units.append(("student", e))
        for s in (s for s, at in enumerate(after) if at == e + 1):
            units.append(("prune", s))
            units += [("finetune", s, c) for c in range(chunks)]
    return units


def _optimizer(model: BNN, cfg: Config, lr: float) -> torch.optim.Optimizer:
    thresholds = [p for n, p in model.named_parameters() if n.startswith("encoding.")]
    others = [p for n, p in model.named_parameters() if not n.startswith("encoding.")]
    groups = [{"params": others, "lr": lr, "base_lr": lr}]
    if thresholds:
        enc_lr = cfg.model.encoding.lr * lr / cfg.train.lr
        groups.append({"params": thresholds, "lr": enc_lr, "base_lr": enc_lr})
    return torch.optim.Adam(groups)


def _new_student(cfg: Config, ds: Dataset) -> BNN:
    _seed_everything(cfg.seed)
    model = BNN(make_arch(cfg.model, ds.image_shape, ds.num_classes))
    enc = model.encoding
    if isinstance(enc, QuantileThermometer) or (isinstance(enc, GLT)
                                                and cfg.model.encoding.init == "quantile"):
        idx = _unit_rng(cfg, 2).permutation(len(ds.train_images))[:QUANTILE_SAMPLE]
        model.encoding.init_from_data(ds.train_images[idx])
    return model


def _finetune_batches(cfg: Config, per_epoch: int, chunk: int) -> int:
    share = min(1.0, cfg.prune.finetune_epochs - chunk)
    return max(1, int(round(share * per_epoch)))


def _do_unit(unit: tuple, st: dict, cfg: Config, ds: Dataset, teacher, dd: _Dist, device) -> dict:
    """Run one plan unit on the training state ``st``; returns its metrics record."""
    model: BNN = st["model_obj"]
    per_epoch = max(1, len(ds.train_images) // cfg.train.batch_size)
    kind = unit[0]
    if kind == "prune":
        bits = arch_bits(model.arch)
        if not cfg.prune.enabled or bits <= cfg.prune.budget_bits:
            st["skip_finetune"] = True
            return {"phase": "prune", "step": unit[1] + 1, "bits": bits, "removed": 0}
        target = P.prune_target(bits, cfg.prune.budget_bits, cfg.prune.steps - unit[1])
        model, removed = P.prune_to(model.cpu(), target, cfg.prune.block, cfg.prune.criterion,
                                    st["min_widths"])
        st["model_obj"] = model.to(device)
        # mid-training steps continue the main schedule; final ones fine-tune at prune.lr
        mid = bool(cfg.prune.at_epochs) and cfg.prune.at_epochs[unit[1]] < cfg.train.epochs
        st["opt_obj"] = _optimizer(model, cfg, cfg.train.lr if mid else cfg.prune.lr)
        st["skip_finetune"] = False
        return {"phase": "prune", "step": unit[1] + 1, "bits": arch_bits(model.arch),
                "widths": [s.get("conv", s.get("dense")) for s in model.arch["layers"]
                           if "pool" not in s], "removed": len(removed)}
    if kind == "finetune" and st.get("skip_finetune"):
        return {"phase": "finetune", "step": unit[1] + 1, "chunk": unit[2] + 1, "skipped": True}
    net = dd.wrap(model)
    opt = st["opt_obj"]
    if kind == "student":
        e, total = unit[1], cfg.train.epochs * per_epoch
        lr_at = lambda i: _cosine(1.0, e * per_epoch + i, total, cfg.train.schedule)  # noqa: E731
        progress_at = lambda i: (e * per_epoch + i) / max(total - 1, 1)  # noqa: E731
        limit, desc, rng = None, f"student {e + 1}/{cfg.train.epochs}", _unit_rng(cfg, 3, e)
    else:
        s, c = unit[1], unit[2]
        model.encoding.set_progress(1.0)
        progress_at = None
        limit = _finetune_batches(cfg, per_epoch, c)
        done = sum(_finetune_batches(cfg, per_epoch, k) for k in range(c))
        total = sum(_finetune_batches(cfg, per_epoch, k)
                    for k in range(max(1, math.ceil(cfg.prune.finetune_epochs))))
        lr_at = lambda i: _cosine(1.0, done + i, total, "cosine")  # noqa: E731
        desc, rng = f"fine-tune {s + 1}/{cfg.prune.steps}", _unit_rng(cfg, 4, s, c)
    stats = _run_epoch(net, model, opt, ds, cfg, rng, dd, device, lr_at, teacher=teacher,
                       limit=limit, desc=desc, progress_at=progress_at)
    loss, acc = evaluate(model, ds.test_images, ds.test_labels, device)
    rec = {"phase": kind, **({"epoch": unit[1] + 1} if kind == "student"
                             else {"step": unit[1] + 1, "chunk": unit[2] + 1}),
           **stats, "test_loss": loss, "test_acc": acc, "bits": arch_bits(model.arch)}
    return rec


def _save_checkpoint(path: Path, st: dict, cfg: Config, finished: bool = False, **extra) -> None:
    model: BNN = st["model_obj"]
    _atomic_save({"config": cfg.to_dict(), "config_name": cfg.name, "arch": model.arch,
                  "model": {k: v.cpu() for k, v in model.state_dict().items()},
                  "optimizer": st["opt_obj"].state_dict(), "cursor": st["cursor"],
                  "skip_finetune": st.get("skip_finetune", False),
                  "min_widths": st["min_widths"], "metrics": st["metrics"],
                  "finished": finished, "bits": arch_bits(model.arch), **extra}, path)


def _load_state(path: Path, cfg: Config, device) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("config") != cfg.to_dict():
        raise CheckpointMismatchError(f"{path} was written by another config; train without "
                                      "--resume to start over")
    model = BNN(ckpt["arch"])
    model.load_state_dict(ckpt["model"])
    model.to(device)
    opt = _optimizer(model, cfg, cfg.train.lr)
    opt.load_state_dict(ckpt["optimizer"])  # restores lr and base_lr of every group too
    return {"model_obj": model, "opt_obj": opt, "cursor": ckpt["cursor"],
            "skip_finetune": ckpt.get("skip_finetune", False),
            "min_widths": {int(k): v for k, v in ckpt["min_widths"].items()},
            "metrics": ckpt["metrics"], "finished": ckpt.get("finished", False), "ckpt": ckpt}


def _write_metrics(out_dir: Path, records: list[dict]) -> None:
    _atomic_text(out_dir / METRICS, "".join(json.dumps(r) + "\n" for r in records))


# --- public API ------------------------------------------------------------------------------

def _start(config: Config | str | Path, out_dir: str | Path) -> tuple:
    """Common start of a training call: the config, the output folder (created), the device,
    the process group, and torch's threads and determinism."""
    cfg = config if isinstance(config, Config) else load_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = _device(cfg)
    dd = _Dist(device)
    torch.set_num_threads(max(1, cfg.train.threads // dd.world))
    torch.use_deterministic_algorithms(True, warn_only=True)
    return cfg, out_dir, device, dd


def train_teacher(config: Config | str | Path, out_dir: str | Path) -> Path:
    """Only the float teacher of ``config``: ``out_dir/teacher.pt``, trained unless one of the
    same settings and data is there. Lets several students that distil from one teacher share
    it (copy it into their build directories before :func:`train`)."""
    cfg, out_dir, device, dd = _start(config, out_dir)
    ensure_teacher(cfg, prepare(cfg, out_dir), out_dir, dd, device)
    return out_dir / TEACHER


def train(config: Config | str | Path, out_dir: str | Path, resume: bool = False, *,
          stop_after_units: int | None = None) -> Path:
    """Train ``config`` into ``out_dir``; returns the path of ``checkpoint.pt``.

    ``stop_after_units`` stops after that many plan units of this call (as if interrupted);
    ``resume=True`` continues from the last checkpoint."""
    cfg, out_dir, device, dd = _start(config, out_dir)
    if dd.main:
        ds = prepare(cfg, out_dir)
    dd.barrier()
    if not dd.main:
        ds = prepare(cfg, out_dir)
    teacher, teacher_metrics = ensure_teacher(cfg, ds, out_dir, dd, device) \
        if cfg.distill.enabled and cfg.teacher.enabled else (None, [])
    ckpt_path = out_dir / CHECKPOINT
    if resume and ckpt_path.is_file():
        st = _load_state(ckpt_path, cfg, device)
    else:
        model = _new_student(cfg, ds).to(device)
        st = {"model_obj": model, "opt_obj": _optimizer(model, cfg, cfg.train.lr), "cursor": 0,
              "min_widths": P.min_widths(model.arch, cfg.prune.min_keep), "metrics": []}
    plan = _plan(cfg)
    done_now = 0
    while st["cursor"] < len(plan):
        if stop_after_units is not None and done_now >= stop_after_units:
            return ckpt_path
        t0 = time.time()
        rec = _do_unit(plan[st["cursor"]], st, cfg, ds, teacher, dd, device)
        rec["seconds"] = round(time.time() - t0, 2)
        st["metrics"].append(rec)
        st["cursor"] += 1
        done_now += 1
        if dd.main:
            _save_checkpoint(ckpt_path, st, cfg)
            _write_metrics(out_dir, teacher_metrics + st["metrics"])
        dd.barrier()
    model = st["model_obj"].cpu().eval()
    bits = arch_bits(model.arch)
    if cfg.prune.enabled and bits > cfg.prune.budget_bits:
        raise P.PruneBudgetError(f"{bits:,} bits after pruning exceed prune.budget_bits "
                                 f"{cfg.prune.budget_bits:,}; raise prune.steps or min_keep")
    t0 = time.time()
    acc = integer_accuracy(model, ds.test_images, ds.test_labels)
    replicas_equal = dd.params_equal(model)
    if dd.main:
        final = {"phase": "final", "test_acc_integer": acc, "bits": bits,
                 "test_images": int(len(ds.test_images)), "seconds": round(time.time() - t0, 2)}
        metrics = [r for r in st["metrics"] if r.get("phase") != "final"] + [final]
        st["metrics"] = metrics
        _save_checkpoint(ckpt_path, st, cfg, finished=True, test_accuracy=acc,
                         world_size=dd.world, rank_params_equal=replicas_equal)
        _write_metrics(out_dir, teacher_metrics + metrics)
        write_training_plots(out_dir, teacher_metrics + metrics, model)
    dd.barrier()
    return ckpt_path


# --- plots ------------------------------------------------------------------------------------

def write_training_plots(out_dir: Path, records: list[dict], model: BNN) -> list[Path]:
    """plots/curves.png (loss and accuracy per unit) and, for threshold encodings,
    plots/tone_curve.png (learned thresholds against the uniform ones)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .nn.thermometer import tone_curve, uniform_thresholds
    plots = out_dir / "plots"
    plots.mkdir(exist_ok=True)
    written = []
    rows = [r for r in records if "train_loss" in r]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for phase in dict.fromkeys(r["phase"] for r in rows):
        xs = [i for i, r in enumerate(rows) if r["phase"] == phase]
        ax1.plot(xs, [rows[i]["train_loss"] for i in xs], "o-", label=f"{phase} train")
        ax2.plot(xs, [rows[i]["test_acc"] for i in xs], "o-", label=f"{phase} test")
        ax2.plot(xs, [rows[i]["train_acc"] for i in xs], "x--", label=f"{phase} train")
    ax1.set(xlabel="unit (epoch or fine-tune chunk)", ylabel="loss", title="training loss")
    ax2.set(xlabel="unit (epoch or fine-tune chunk)", ylabel="accuracy", title="accuracy")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save_fig(fig, plots / "curves.png"))
    plt.close(fig)
    if model.encoding.mode == "thresholds":
        t = model.encoding.integer_thresholds()
        fig, ax = plt.subplots(figsize=(5, 4))
        for c in range(t.shape[0]):
            ax.step(range(256), tone_curve(t[c]), where="post", label=f"{model.encoding.kind} ch{c}")
        ax.step(range(256), tone_curve(uniform_thresholds(model.encoding.planes)), "k--",
                where="post", label="uniform")
        ax.set(xlabel="pixel code", ylabel="planes on", title="tone curve")
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(_save_fig(fig, plots / "tone_curve.png"))
        plt.close(fig)
    return written


def _save_fig(fig, path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    return path


def add_arguments(parser) -> None:
    from . import resources
    parser.add_argument("--config", default=str(resources.configs_dir() / "fashion_glt.yaml"),
                        help="training config (default: the shipped fashion_glt.yaml)")
    parser.add_argument("--out", default=None, help="build directory (default build/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoint.pt")


def run(args) -> int:
    cfg = load_config(args.config)
    out = writable_dir(Path(args.out or Path("build") / cfg.name))
    path = train(cfg, out, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        print(f"{path}: test accuracy {ckpt['test_accuracy']:.4f} (integer model), "
              f"{ckpt['bits']:,} bits")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
