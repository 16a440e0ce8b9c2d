"""`python -m bench peers`: the alternative a user would pick, side by side with the binary zoo.

For each weight-storage budget of the zoo (1,000,000 / 256,000 / 64,000 bits = 125,000 /
32,000 / 8,000 bytes) two peers are trained with Keras on the same Fashion-MNIST split (the
project's loader, ``pipeline.data``): a float32 CNN and an int8 CNN whose weights fit the
budget. The int8 one is the TFLite converter's full-integer post-training quantisation (int8
weights, activations, input and output; 500 training images as the representative set). Both
run in the TensorFlow Lite for Microcontrollers host interpreter (the ``tflite-micro``
package, the ``[peers]`` extra) on all 10,000 test images. Weight bytes and MACs are read
from the converted ``.tflite`` flatbuffer: the bytes of the constant filter and bias tensors
of every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator, and those operators' MACs
from their tensors' shapes.

Four CNN sizes are trained, each once: a float model of size S fits the budget whose int8
model has 4x the parameters, so one trained model gives the float peer of one budget and (its
int8 conversion) the int8 peer of a smaller one. The float-vs-int8 agreement of every int8
peer is measured against its own float Keras model (same weights before quantisation).

Next to them: the zoo models (``zoo/<name>/metrics.json``, "not yet trained" when absent)
and the project's default model, with instructions per inference on Cortex-M4 (mps2-an386)
and Cortex-M55 (mps3-an547) from the project's own QEMU deploy (``python -m pipeline deploy
--ir``, into build/bench/peers/deploy/). Trained peers are cached under build/bench/peers/,
one folder per CNN size, so a rerun only evaluates what changed, and an interrupted run
resumes with the next unfinished model. Results: bench/results/peers.json; the plot:
docs/img/peers_accuracy_storage.png; the table: docs/benchmarks.md (``bench.docs``).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import (RESULTS_DIR, ROOT, WORK_DIR, BenchError, deploy_ir, machine, read_json,
               today, write_json)

PEERS_DIR = WORK_DIR / "peers"
DEPLOY_DIR = PEERS_DIR / "deploy"
RESULT = RESULTS_DIR / "peers.json"
PLOT = ROOT / "docs" / "img" / "peers_accuracy_storage.png"
ZOO_DIR = ROOT / "zoo"
DATA_PATH = "/usr/share/datasets/fashion-mnist"
BOARDS = (("mps2-an386", "Cortex-M4"), ("mps3-an547", "Cortex-M55"))
INSTALL_HINT = ("pip install -c constraints.txt -e '.[peers]' (or `make setup`) installs "
                "tflite-micro, the TFLite Micro host interpreter")

# The zoo's budgets: name of the zoo model, storage budget in bits.
BUDGETS = (("fashion-glt-1m", 1_000_000), ("fashion-glt-256k", 256_000),
           ("fashion-glt-64k", 64_000))
# As many epochs as the zoo's binary models train (30; the default config trains 10). Per CPU
# second a float Keras CNN epoch is far cheaper than a binary one, so equal epochs, not equal
# CPU, is the comparison (the table shows the CPU of both).
EPOCHS = 30
BATCH = 128
# The training recipe (as the binary models': cosine learning rate; horizontal flips as the zoo's
# configs). Stored with each cached training: a different recipe trains again.
RECIPE = {"optimizer": "Adam", "lr": 2e-3, "schedule": "cosine to 0", "augment": "hflip p=0.5"}
SEED = 0
REPRESENTATIVE = 500  # training images for the int8 calibration
TFLM_ARENA = 512 * 1024
# What the weight bytes and MACs are read from (TFLite builtin operator codes).
CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED = 3, 4, 9
WEIGHT_OPS = {CONV_2D: "conv2d", DEPTHWISE_CONV_2D: "depthwise", FULLY_CONNECTED: "dense"}


# --quick: the harness end to end in a minute or two, nothing written to bench/results or docs/.
QUICK = {"epochs": 1, "train_limit": 2000, "test_limit": 500, "peers_dir": WORK_DIR / "peers-quick",
         "out": WORK_DIR / "peers-quick" / "peers.json",
         "plot": WORK_DIR / "peers-quick" / "peers_accuracy_storage.png"}


class PeersMissingError(Exception):
    """The [peers] extra (tflite-micro) or TensorFlow is not installed."""


# --- the CNNs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arch:
    """conv3x3 (same padding, BN, ReLU) + maxpool 2 per entry of ``convs``; then a hidden dense
    layer of ``dense`` units on the flattened features, or (``dense`` 0) global average
    pooling, then the 10-way output layer."""
    name: str
    convs: tuple[int, ...]
    dense: int

    def describe(self) -> str:
        """One-line description of the layers, for the results table."""
        head = f"flatten, dense {self.dense}" if self.dense else "global avg pool"
        convs = "-".join(str(c) for c in self.convs)
        return f"conv3x3 {convs} (maxpool each), {head}, dense 10"


ARCHS = (Arch("cnn-s0", (4, 8, 16), 0), Arch("cnn-s1", (8, 16, 32), 0),
         Arch("cnn-s2", (12, 24, 32), 64), Arch("cnn-s3", (16, 32, 64), 160))


@dataclass(frozen=True)
class Peer:
    """One peer: the Keras CNN ``arch`` converted to ``fmt`` (float32 or int8), compared with
    the zoo model ``budget_name`` at its weight-storage budget of ``budget_bits``."""
    budget_name: str  # the zoo model it stands beside
    budget_bits: int
    fmt: str  # "float32" | "int8"
    arch: str

    @property
    def key(self) -> str:
        """``<arch>-<fmt>``, e.g. ``cnn-s2-int8``: names the peer in logs."""
        return f"{self.arch}-{self.fmt}"


# Each budget: the float CNN whose float32 weights fit, the int8 CNN whose int8 weights fit.
PEERS = (Peer("fashion-glt-1m", 1_000_000, "float32", "cnn-s2"),
         Peer("fashion-glt-1m", 1_000_000, "int8", "cnn-s3"),
         Peer("fashion-glt-256k", 256_000, "float32", "cnn-s1"),
         Peer("fashion-glt-256k", 256_000, "int8", "cnn-s2"),
         Peer("fashion-glt-64k", 64_000, "float32", "cnn-s0"),
         Peer("fashion-glt-64k", 64_000, "int8", "cnn-s1"))


def build_keras(arch: Arch):
    """An untrained ``tf.keras.Sequential`` for ``arch``: input [28, 28, 1] float (pixels
    / 255), output 10 logits. Imports TensorFlow directly: ImportError, not PeersMissingError,
    without it."""
    import tensorflow as tf
    L = tf.keras.layers
    layers = [L.Input((28, 28, 1))]
    for c in arch.convs:
        layers += [L.Conv2D(c, 3, padding="same", use_bias=False), L.BatchNormalization(),
                   L.ReLU(), L.MaxPool2D()]
    if arch.dense:
        layers += [L.Flatten(), L.Dense(arch.dense, activation="relu")]
    else:
        layers += [L.GlobalAveragePooling2D()]
    layers += [L.Dense(10)]
    return tf.keras.Sequential(layers, name=arch.name.replace("-", "_"))


# --- reading a .tflite flatbuffer ----------------------------------------------------------------

def _schema():
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError:  # tflite-micro ships the same generated schema
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return schema


def _buffer_bytes(model, index: int) -> int:
    if index <= 0:  # buffer 0 is the empty sentinel: not a constant
        return 0
    b = model.Buffers(index)
    if b.Offset() > 1:  # large models keep the data after the flatbuffer
        return int(b.Size())
    return int(b.DataLength())


def flatbuffer_summary(buf: bytes) -> dict:
    """Weight bytes and MACs of a converted model, read from its flatbuffer.

    Weights: the constant filter and bias tensors of the CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED operators, at their stored size (int8 filters, int32 biases in an int8
    model; float32 in a float one; quantisation scales are metadata, not counted). MACs per
    inference (batch 1) of those operators from the shapes of their output and filter
    tensors. ``constant_bytes`` counts every constant tensor (shape operands too)."""
    schema = _schema()
    model = schema.Model.GetRootAs(buf, 0)
    codes = [max(model.OperatorCodes(i).BuiltinCode(),
                 model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    weight_bytes, macs, layers, seen = 0, 0, [], set()
    by_type: dict[str, int] = {}
    constant_bytes = 0
    for s in range(model.SubgraphsLength()):
        g = model.Subgraphs(s)
        for t in range(g.TensorsLength()):
            constant_bytes += _buffer_bytes(model, g.Tensors(t).Buffer())
        for o in range(g.OperatorsLength()):
            op = g.Operators(o)
            kind = WEIGHT_OPS.get(codes[op.OpcodeIndex()])
            if kind is None:
                continue
            inputs = [op.Inputs(i) for i in range(op.InputsLength())]
            filt = g.Tensors(inputs[1])
            fshape = [int(d) for d in filt.ShapeAsNumpy()]
            out_shape = [int(d) for d in g.Tensors(op.Outputs(0)).ShapeAsNumpy()]
            if kind == "dense":
                op_macs = fshape[0] * fshape[1]
            elif kind == "conv2d":  # filter [Cout, kh, kw, Cin], output [1, H, W, Cout]
                op_macs = int(np.prod(out_shape[1:])) * fshape[1] * fshape[2] * fshape[3]
            else:  # depthwise: filter [1, kh, kw, Cout]
                op_macs = int(np.prod(out_shape[1:])) * fshape[1] * fshape[2]
            op_bytes = 0
            for ti in inputs[1:3]:
                if ti < 0 or (s, ti) in seen:
                    continue
                seen.add((s, ti))
                tensor = g.Tensors(ti)
                n = _buffer_bytes(model, tensor.Buffer())
                op_bytes += n
                tname = types.get(tensor.Type(), str(tensor.Type())).lower()
                by_type[tname] = by_type.get(tname, 0) + n
            weight_bytes += op_bytes
            macs += op_macs
            layers.append({"op": kind, "filter_shape": fshape, "weight_bytes": op_bytes,
                           "macs": op_macs})
    return {"weight_bytes": weight_bytes, "weight_bytes_by_type": by_type,
            "constant_bytes": constant_bytes, "file_bytes": len(buf), "macs": macs,
            "layers": layers}


# --- training and conversion ---------------------------------------------------------------------

def _import_tf():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise PeersMissingError(f"TensorFlow is not installed ({exc}); {INSTALL_HINT}") from None
    try:  # one thread each (a shared machine); fails only once TF has started its runtime
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    return tf


def check_requirements() -> None:
    """Raise :class:`PeersMissingError` naming the missing modules unless TensorFlow and
    tflite-micro are both importable; imports neither."""
    import importlib.util
    missing = [m for m in ("tensorflow", "tflite_micro") if importlib.util.find_spec(m) is None]
    if missing:
        raise PeersMissingError(f"{', '.join(missing)} not installed; {INSTALL_HINT}")


def load_data(path: str = DATA_PATH):
    """Fashion-MNIST via the project's loader: a ``pipeline.data.Dataset`` (uint8 images
    [N, 28, 28, 1], int64 labels). Raises ``DatasetMissingError`` / ``DatasetCorruptError``."""
    from pipeline.data import fashion_mnist
    return fashion_mnist.load(path)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def convert(keras_model, fmt: str, representative: np.ndarray) -> bytes:
    """The ``.tflite`` flatbuffer of ``keras_model``: float32 as is, or (``fmt`` "int8")
    full-integer post-training quantised (int8 input and output), calibrated on
    ``representative`` (float32 [N, 28, 28, 1] in [0, 1]). Raises PeersMissingError without TF."""
    tf = _import_tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if fmt == "int8":
        def rep():
            for i in range(len(representative)):
                yield [representative[i:i + 1]]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def train_arch(arch: Arch, ds, out_dir: Path, epochs: int = EPOCHS,
               train_limit: int | None = None, log=print) -> dict:
    """Train one CNN size, convert it to float32 and int8 .tflite, keep the float model's test
    predictions (for the agreement). Writes ``train.json`` last: its presence marks the model
    as done (an interrupted training starts this model again)."""
    tf = _import_tf()
    tf.keras.utils.set_random_seed(SEED)
    x = ds.train_images.astype(np.float32) / 255.0
    y = ds.train_labels.astype(np.int64)
    if train_limit:
        x, y = x[:train_limit], y[:train_limit]
    model = build_keras(arch)
    steps = epochs * -(-len(x) // BATCH)
    lr = tf.keras.optimizers.schedules.CosineDecay(RECIPE["lr"], decay_steps=steps)
    model.compile(optimizer=tf.keras.optimizers.Adam(lr),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    per_epoch = []
    cpu0, wall0 = _cpu(), time.monotonic()
    for epoch in range(epochs):
        c, w = _cpu(), time.monotonic()
        flip = np.random.default_rng([SEED, epoch]).random(len(x)) < 0.5
        xe = x.copy()
        xe[flip] = xe[flip][:, :, ::-1]
        hist = model.fit(xe, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
        per_epoch.append({"epoch": epoch + 1, "cpu_s": round(_cpu() - c, 1),
                          "wall_s": round(time.monotonic() - w, 1),
                          "train_loss": round(float(hist.history["loss"][-1]), 4),
                          "train_accuracy": round(float(hist.history["accuracy"][-1]), 4)})
        log(f"[peers] {arch.name} epoch {epoch + 1}/{epochs}: {per_epoch[-1]}")
    train_cpu, train_wall = _cpu() - cpu0, time.monotonic() - wall0
    xt = ds.test_images.astype(np.float32) / 255.0
    logits = model.predict(xt, batch_size=500, verbose=0)
    keras_pred = logits.argmax(1).astype(np.int16)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "keras_pred.npy", keras_pred)
    c = _cpu()
    rng = np.random.default_rng(SEED)
    rep = x[rng.choice(len(x), size=min(REPRESENTATIVE, len(x)), replace=False)]
    for fmt in ("float32", "int8"):
        (out_dir / f"{fmt}.tflite").write_bytes(convert(model, fmt, rep))
    convert_cpu = _cpu() - c
    record = {"arch": asdict(arch), "describe": arch.describe(), "epochs": epochs,
              "batch": BATCH, "recipe": RECIPE, "seed": SEED,
              "train_images": int(len(x)), "keras_params": int(model.count_params()),
              "train_cpu_s": round(train_cpu, 1), "train_wall_s": round(train_wall, 1),
              "convert_cpu_s": round(convert_cpu, 1), "per_epoch": per_epoch,
              "keras_float_test_accuracy":
                  float((keras_pred == ds.test_labels).mean()),
              "threads": 1, "tensorflow": tf.__version__}
    tmp = out_dir / "train.json.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, out_dir / "train.json")
    return record


# --- TFLite Micro evaluation ---------------------------------------------------------------------

def tflm_predict(tflite: bytes, images: np.ndarray, shape=(28, 28, 1)) -> np.ndarray:
    """Class of each uint8 image (pixels / 255 as the float input, quantised with the model's
    input scale and zero point for an int8 model), one invoke per image in the TFLM host
    interpreter."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise PeersMissingError(f"tflite-micro is not installed ({exc}); {INSTALL_HINT}") from None
    interp = runtime.Interpreter.from_bytes(tflite, arena_size=TFLM_ARENA)
    inp = interp.get_input_details(0)
    x = images.reshape(len(images), *shape).astype(np.float32) / 255.0
    if inp["dtype"] == np.int8:
        q = inp["quantization_parameters"]
        scale, zero = float(q["scales"][0]), int(q["zero_points"][0])
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    out = np.empty(len(images), dtype=np.int16)
    for i in range(len(images)):
        interp.set_input(x[i:i + 1], 0)
        interp.invoke()
        out[i] = int(np.argmax(interp.get_output(0)[0]))
    return out


def tflm_version() -> str | None:
    """The installed tflite-micro package's version, None when it is not installed."""
    try:
        import tflite_micro
        return tflite_micro.__version__
    except ImportError:
        return None


def evaluate_peer(peer: Peer, arch_dir: Path, ds, test_limit: int | None = None,
                  log=print) -> dict:
    """Accuracy in TFLM, weight bytes and MACs from the flatbuffer, agreement with the float
    Keras model. Cached in ``eval-<fmt>.json`` by the .tflite's digest."""
    tflite = (arch_dir / f"{peer.fmt}.tflite").read_bytes()
    digest = hashlib.sha256(tflite).hexdigest()
    images, labels = ds.test_images, ds.test_labels
    if test_limit:
        images, labels = images[:test_limit], labels[:test_limit]
    cache = arch_dir / f"eval-{peer.fmt}.json"
    cached = read_json(cache)
    if cached and cached.get("tflite_sha256") == digest and cached["test_images"] == len(images):
        return cached
    c, w = _cpu(), time.monotonic()
    pred = tflm_predict(tflite, images)
    keras_pred = np.load(arch_dir / "keras_pred.npy")[:len(images)]
    fb = flatbuffer_summary(tflite)
    doc = {"tflite_sha256": digest, "test_images": int(len(images)),
           "accuracy": float((pred == labels).mean()),
           "agreement_with_float_keras": float((pred == keras_pred).mean()),
           "interpreter": f"tflite-micro {tflm_version()} "
                          "(TFLM host interpreter, reference kernels)",
           "eval_cpu_s": round(_cpu() - c, 1), "eval_wall_s": round(time.monotonic() - w, 1),
           **{k: fb[k] for k in ("weight_bytes", "weight_bytes_by_type", "constant_bytes",
                                 "file_bytes", "macs", "layers")}}
    write_json(cache, doc)
    log(f"[peers] {peer.key}: accuracy {doc['accuracy']:.4f} in TFLM, "
        f"{doc['weight_bytes']:,} weight bytes, {doc['macs']:,} MACs")
    return doc


# --- the binary models ---------------------------------------------------------------------------

def _pick(d: dict, *keys):
    for k in keys:
        cur = d
        for part in k.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None and not isinstance(cur, dict):
            return cur
    return None


def ir_summary(ir_path: Path) -> dict:
    """``bits`` (total storage), ``binary_macs`` (summed over layers) and ``ir_sha256`` of the
    IR at ``ir_path``, as ``pipeline.ir.Model.load`` reads it (its errors propagate)."""
    from pipeline import ir
    model = ir.Model.load(ir_path)
    return {"bits": model.bits(), "binary_macs": sum(getattr(l, "macs", 0) for l in model.layers),
            "ir_sha256": model.sha256()}


def deploy_instructions(ir_path: Path, log=print) -> dict:
    """Instructions per inference on each board of BOARDS, from the project's own deploy of
    the IR (render, build, QEMU with -icount; stage-cached, so a rerun is quick)."""
    return {board: deploy_ir(ir_path, board, DEPLOY_DIR, "peers", log)
            .get("instructions_per_inference") for board, _cpu_name in BOARDS}


def _zoo_training(metrics: dict) -> str | None:
    """Epochs and CPU / wall seconds of a zoo model's training, as its metrics.json records
    them (``training``: teacher_epochs, student_epochs, cpu_seconds, wall_seconds)."""
    t = metrics.get("training") if isinstance(metrics.get("training"), dict) else {}
    parts = []
    if t.get("teacher_epochs") is not None or t.get("student_epochs") is not None:
        parts.append(f"{t.get('teacher_epochs') or 0} teacher + {t.get('student_epochs') or 0} "
                     "student epochs")
    if isinstance(t.get("cpu_seconds"), (int, float)):
        parts.append(f"{t['cpu_seconds']:,.0f} CPU s")
    if isinstance(t.get("wall_seconds"), (int, float)):
        parts.append(f"{t['wall_seconds']:,.0f} s wall")
    return ", ".join(parts) or None


def zoo_rows(zoo_dir: Path = ZOO_DIR, deploy: bool = True, log=print) -> list[dict]:
    """One row per zoo model of BUDGETS, from its metrics.json (status "not yet trained"
    without one); with its IR too, bits and MACs metrics.json lacks and (``deploy``) instructions
    per inference on each board (:func:`deploy_instructions`: BenchError on a failed deploy)."""
    rows = []
    for name, budget in BUDGETS:
        folder = zoo_dir / name
        metrics = read_json(folder / "metrics.json")
        ir_path = folder / "model.ir.json"
        row = {"model": name, "kind": "binary (zoo)", "budget_bits": budget,
               "status": "not yet trained", "accuracy": None, "bits": None,
               "binary_macs": None, "instructions": {b: None for b, _ in BOARDS},
               "source": f"zoo/{name}/metrics.json"}
        if metrics is not None:
            row.update(status="trained",
                       accuracy=_pick(metrics, "accuracy", "oracle_accuracy", "test_accuracy",
                                      "accuracy.oracle"),
                       bits=_pick(metrics, "bits.total", "bits", "model_bits"),
                       binary_macs=_pick(metrics, "macs.total", "macs", "binary_macs"),
                       test_images=_pick(metrics, "test_images"),
                       training=_zoo_training(metrics))
            if ir_path.is_file():
                s = ir_summary(ir_path)
                row["bits"] = row["bits"] or s["bits"]
                row["binary_macs"] = row["binary_macs"] or s["binary_macs"]
                if deploy:
                    row["instructions"] = deploy_instructions(ir_path, log)
                    row["instructions_source"] = ("python -m pipeline deploy --ir "
                                                  f"zoo/{name}/model.ir.json, report.json")
        rows.append(row)
    return rows


DEFAULT_IRS = (ROOT / "build" / "fashion_glt" / "model.ir.json",
               WORK_DIR / "e2e" / "build" / "fashion_glt" / "model.ir.json")


def default_recipe(config_path: Path = ROOT / "configs" / "fashion_glt.yaml") -> str:
    """How the default config trains, read from it (teacher, student epochs, distillation,
    pruning), for the peers table."""
    from pipeline.config import load_config
    cfg = load_config(config_path)
    kd = cfg.distill.enabled and cfg.teacher.enabled
    parts = [f"{cfg.teacher.epochs} teacher + " if kd else "",
             f"{cfg.train.epochs} student epochs",
             " with distillation" if kd else ", no distillation",
             " + pruning" if cfg.prune.enabled else ""]
    return "".join(parts)


def default_row(ir_path: Path | None = None, deploy: bool = True, log=print) -> dict:
    """The project's default model (configs/fashion_glt.yaml): from its IR when one is here
    (``make deploy`` or ``bench e2e`` trained it), deployed on each board; without one the row
    says so."""
    row = {"model": "fashion_glt (default)", "kind": "binary (default config)",
           "budget_bits": 1_000_000, "status": "trained", "accuracy": None, "bits": None,
           "binary_macs": None, "instructions": {b: None for b, _ in BOARDS}}
    row["training"] = default_recipe()
    candidates = [ir_path] if ir_path else [p for p in DEFAULT_IRS if p.is_file()]
    if candidates:
        path = candidates[0]
        s = ir_summary(path)
        ev = read_json(path.parent / "evaluation.json") or {}
        # compared at the smallest zoo budget that holds it (the 256k topology: 256,000 bits)
        row["budget_bits"] = min((b for _, b in BUDGETS if b >= s["bits"]),
                                 default=row["budget_bits"])
        row.update(bits=s["bits"], binary_macs=s["binary_macs"],
                   accuracy=ev.get("oracle_accuracy"), test_images=ev.get("test_images"),
                   source=f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        if deploy:
            row["instructions"] = deploy_instructions(path, log)
            row["instructions_source"] = "python -m pipeline deploy --ir, report.json"
        return row
    # No fallback to older bench results: they were measured on an earlier default topology.
    row.update(status="not deployed here (run `make deploy` first, or pass --ir)",
               source="no IR of the default config")
    return row


# --- the benchmark -------------------------------------------------------------------------------

def peer_row(peer: Peer, train: dict, ev: dict) -> dict:
    """The results row of ``peer`` from its training record (train.json) and its evaluation
    (:func:`evaluate_peer`); ``fits_budget``: weight bytes <= ``budget_bits`` / 8."""
    budget_bytes = peer.budget_bits // 8
    return {"model": f"{peer.arch} {peer.fmt}", "kind": f"{peer.fmt} CNN (Keras -> TFLite)",
            "budget_bits": peer.budget_bits, "budget_name": peer.budget_name,
            "budget_bytes": budget_bytes, "format": peer.fmt, "arch": train["describe"],
            "accuracy": ev["accuracy"], "test_images": ev["test_images"],
            "weight_bytes": ev["weight_bytes"], "weight_bytes_by_type": ev["weight_bytes_by_type"],
            "fits_budget": ev["weight_bytes"] <= budget_bytes,
            "macs": ev["macs"], "tflite_file_bytes": ev["file_bytes"],
            "agreement_with_float_keras": ev["agreement_with_float_keras"],
            "keras_float_accuracy": train["keras_float_test_accuracy"],
            "epochs": train["epochs"], "train_cpu_s": train["train_cpu_s"],
            "train_wall_s": train["train_wall_s"],
            "cpu_s_per_epoch": round(train["train_cpu_s"] / train["epochs"], 1),
            "interpreter": ev["interpreter"], "eval_cpu_s": ev["eval_cpu_s"],
            "tflite_sha256": ev["tflite_sha256"]}


def _trained_as_asked(rec: dict | None, arch: Arch, epochs: int, train_images: int) -> bool:
    """Whether a cached training record is this CNN, trained this long on these images."""
    return (rec is not None and rec.get("epochs") == epochs
            and rec.get("train_images") == train_images and rec.get("recipe") == RECIPE
            and rec.get("arch") == json.loads(json.dumps(asdict(arch))))


def run_peers(out: Path = RESULT, epochs: int = EPOCHS, train_limit: int | None = None,
              test_limit: int | None = None, zoo_dir: Path = ZOO_DIR,
              default_ir: Path | None = None, deploy: bool = True, peers_dir: Path = PEERS_DIR,
              plot: Path | None = PLOT, log=print) -> dict:
    """Train (or reuse from ``peers_dir``) every CNN, evaluate every peer in TFLM, gather the
    binary rows; write ``out`` (JSON) and the ``plot`` (unless None or no matplotlib). Returns the
    document plus ``written`` (the paths). Raises PeersMissingError without TF / tflite-micro,
    BenchError from a failed deploy."""
    check_requirements()
    ds = load_data()
    archs = {a.name: a for a in ARCHS}
    trained = {}
    for name in sorted({p.arch for p in PEERS}):
        arch_dir = peers_dir / name
        rec = read_json(arch_dir / "train.json")
        if not _trained_as_asked(rec, archs[name], epochs, train_limit or len(ds.train_images)):
            log(f"[peers] training {name}: {archs[name].describe()}, {epochs} epochs")
            rec = train_arch(archs[name], ds, arch_dir, epochs, train_limit, log)
        else:
            log(f"[peers] {name}: trained earlier ({arch_dir / 'train.json'})")
        trained[name] = rec
    rows = []
    for peer in PEERS:
        ev = evaluate_peer(peer, peers_dir / peer.arch, ds, test_limit, log)
        rows.append(peer_row(peer, trained[peer.arch], ev))
    binary = [default_row(default_ir, deploy, log)] + zoo_rows(zoo_dir, deploy, log)
    doc = {"benchmark": "peers", "date": today(), "machine": machine(),
           "dataset": "Fashion-MNIST (pipeline.data), train split for training, "
                      f"{rows[0]['test_images']:,} test images for accuracy",
           "interpreter": rows[0]["interpreter"],
           "settings": {"epochs": epochs, "batch": BATCH, "seed": SEED, "threads": 1,
                        "recipe": RECIPE,
                        "representative_images": REPRESENTATIVE,
                        "train_images": trained[PEERS[0].arch]["train_images"],
                        "quantisation": "TFLite full-integer post-training quantisation, "
                                        "int8 weights/activations/input/output"},
           "note": "weight bytes: the constant filter + bias tensors of every conv / dense op in "
                   "the converted .tflite (int8 filters, int32 biases; float32 in a float model). "
                   "MACs: those ops, batch 1. CPU seconds: user + system of the training process "
                   "(one TF thread), on a machine shared with other jobs.",
           "peers": rows, "binary": binary}
    if train_limit or test_limit:
        doc["note"] += (f" QUICK CHECK of the harness ({train_limit} training, {test_limit} test "
                        "images): not results.")
    write_json(out, doc)
    written = [out]
    if plot is not None and write_plot(doc, plot):
        written.append(plot)
    return {**doc, "written": ", ".join(str(w) for w in written)}


def refresh_binary_rows(out: Path = RESULT, zoo_dir: Path = ZOO_DIR,
                        default_ir: Path | None = None, deploy: bool = True,
                        plot: Path | None = PLOT, log=print) -> dict:
    """Re-read the binary rows of an earlier :func:`run_peers` document at ``out`` (the zoo's
    and, when its IR is here, the default model's; deployed again unless ``deploy`` is false)
    without retraining or re-evaluating the peers, which keep their rows and date. The default
    row keeps its earlier value when no default IR is here. Writes ``out`` and the plot; returns
    the document plus ``written``. :class:`BenchError` when ``out`` holds no earlier result."""
    doc = read_json(out)
    if not doc or "peers" not in doc:
        raise BenchError(f"{out}: no earlier peers result to refresh; run `python -m bench peers`")
    old_default = next((r for r in doc.get("binary", []) if "default" in r.get("kind", "")), None)
    default = default_row(default_ir, deploy, log)
    if default.get("accuracy") is None and old_default is not None:
        default = old_default
    doc["binary"] = [default] + zoo_rows(zoo_dir, deploy, log)
    doc["binary_rows_date"] = today()
    write_json(out, doc)
    written = [out]
    if plot is not None and write_plot(doc, plot):
        written.append(plot)
    return {**doc, "written": ", ".join(str(w) for w in written)}


# --- the plot ------------------------------------------------------------------------------------

def write_plot(doc: dict, path: Path = PLOT) -> Path | None:
    """Accuracy (%) against weight storage (KB, log scale) of the peers and binary models of
    ``doc`` (a :func:`run_peers` document) as a PNG at ``path``, written atomically; returns
    ``path``, or None (nothing written) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"float32": ("s", "tab:blue", "float32 CNN (TFLM)"),
              "int8": ("o", "tab:orange", "int8 CNN (TFLM)")}
    for fmt, (marker, color, label) in styles.items():
        pts = sorted((r["weight_bytes"], r["accuracy"]) for r in doc["peers"] if r["format"] == fmt)
        if pts:
            ax.plot([p[0] / 1000 for p in pts], [100 * p[1] for p in pts], marker=marker,
                    color=color, label=label)
    pts = [(r["bits"] / 8, r["accuracy"], r["model"]) for r in doc["binary"]
           if r.get("accuracy") is not None and r.get("bits")]
    if pts:
        ax.scatter([p[0] / 1000 for p in pts], [100 * p[1] for p in pts], marker="*", s=140,
                   color="tab:green", label="binary (GLT-BNN)", zorder=3)
        for x, y, name in pts:
            ax.annotate(name, (x / 1000, 100 * y), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)
    for _, bits in BUDGETS:
        ax.axvline(bits / 8000, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("weight storage, KB (1 KB = 1000 bytes; dotted: the zoo budgets)")
    ax.set_ylabel("Fashion-MNIST test accuracy, %")
    ax.set_title(f"Accuracy vs weight storage ({doc['date']})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
