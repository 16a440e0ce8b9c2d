"""`python -m bench peers` without its training: weight bytes and MACs read from a tiny converted
model's flatbuffer, TFLite Micro against TensorFlow's interpreter on it, the budgets the peer
CNNs are sized for, zoo metrics reading, and the docs table."""
import json

import numpy as np
import pytest

from bench import docs, peers


@pytest.fixture(scope="module")
def tiny():
    """conv3x3 1->2 (same) -> maxpool 2 -> flatten (4x4x2 = 32) -> dense 3, on 8x8x1 inputs,
    converted to float32 and to full-integer int8."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    # non-zero biases: the converter drops an all-zero dense bias (the file then has none)
    model = tf.keras.Sequential([L.Input((8, 8, 1)),
                                 L.Conv2D(2, 3, padding="same", bias_initializer="ones"),
                                 L.MaxPool2D(), L.Flatten(), L.Dense(3, bias_initializer="ones")])
    rep = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    return model, {fmt: peers.convert(model, fmt, rep) for fmt in ("float32", "int8")}


def test_weight_bytes_and_macs_come_from_the_flatbuffer(tiny):
    _, tflite = tiny
    f = peers.flatbuffer_summary(tflite["float32"])
    # conv: 2*3*3*1 weights + 2 biases, dense: 3*32 + 3, all float32
    assert f["weight_bytes"] == 4 * (18 + 2 + 96 + 3)
    assert f["weight_bytes_by_type"] == {"float32": 4 * 119}
    assert f["macs"] == 8 * 8 * 2 * 9 + 32 * 3
    assert [layer["op"] for layer in f["layers"]] == ["conv2d", "dense"]
    q = peers.flatbuffer_summary(tflite["int8"])
    assert q["weight_bytes_by_type"] == {"int8": 18 + 96, "int32": 4 * (2 + 3)}
    assert q["weight_bytes"] == 114 + 20
    assert q["macs"] == f["macs"]
    assert q["file_bytes"] == len(tflite["int8"]) and q["constant_bytes"] >= q["weight_bytes"]


def test_tflite_micro_runs_the_int8_model_like_tensorflow_lite(tiny):
    pytest.importorskip("tflite_micro")
    tf = pytest.importorskip("tensorflow")
    _, tflite = tiny
    images = np.random.default_rng(1).integers(0, 256, (12, 8, 8), dtype=np.uint8)
    interp = tf.lite.Interpreter(model_content=tflite["int8"])
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zero = inp["quantization"]
    want = []
    for img in images:
        x = np.clip(np.round(img[None, :, :, None] / 255.0 / scale) + zero, -128, 127)
        interp.set_tensor(inp["index"], x.astype(np.int8))
        interp.invoke()
        want.append(int(np.argmax(interp.get_tensor(out["index"])[0])))
    got = peers.tflm_predict(tflite["int8"], images, shape=(8, 8, 1))
    assert got.tolist() == want


def test_every_peer_is_sized_for_its_budget():
    archs = {a.name: a for a in peers.ARCHS}
    assert {(p.budget_name, p.fmt) for p in peers.PEERS} == {
        (name, fmt) for name, _ in peers.BUDGETS for fmt in ("float32", "int8")}
    for p in peers.PEERS:
        a = archs[p.arch]
        chans = (1,) + a.convs
        weights = sum(9 * i * o for i, o in zip(chans, chans[1:]))
        biases = sum(a.convs)
        feat = a.convs[-1] * (9 if a.dense else 1)  # 28 -> 14 -> 7 -> 3 after three pools
        if a.dense:
            weights += feat * a.dense
            biases += a.dense
            feat = a.dense
        weights, biases = weights + feat * 10, biases + 10
        size = 4 * (weights + biases) if p.fmt == "float32" else weights + 4 * biases
        assert size <= p.budget_bits // 8, (p, size)
        assert size > p.budget_bits // 8 // 2, (p, size)  # and uses the budget


def test_zoo_rows_read_metrics_and_say_not_yet_trained(tmp_path):
    (tmp_path / "fashion-glt-256k").mkdir()
    (tmp_path / "fashion-glt-256k" / "metrics.json").write_text(json.dumps({
        "accuracy": 0.875, "test_images": 10000, "bits": {"total": 250000, "per_layer": {}},
        "macs": {"total": 1234567, "per_layer": {}},
        "training": {"teacher_epochs": 4, "student_epochs": 10, "wall_seconds": 3000.0,
                     "cpu_seconds": 2900.0}}))
    rows = {r["model"]: r for r in peers.zoo_rows(tmp_path, deploy=False)}
    assert rows["fashion-glt-1m"]["status"] == "not yet trained"
    r = rows["fashion-glt-256k"]
    assert (r["status"], r["accuracy"], r["bits"], r["binary_macs"]) == (
        "trained", 0.875, 250000, 1234567)
    assert r["training"] == "4 teacher + 10 student epochs, 2,900 CPU s, 3,000 s wall"


def _doc():
    peer = {"model": "cnn-s1 int8", "kind": "int8 CNN (Keras -> TFLite)", "budget_bits": 64000,
            "format": "int8", "arch": "conv3x3 8-16-32", "accuracy": 0.8512, "test_images": 10000,
            "weight_bytes": 6416, "fits_budget": True, "macs": 508352,
            "agreement_with_float_keras": 0.9961, "epochs": 5, "train_cpu_s": 101.0}
    over = dict(peer, model="cnn-big float32", format="float32", weight_bytes=9000,
                fits_budget=False)
    return {"date": "2026-11-30", "machine": {"cpus": 2}, "interpreter": "tflite-micro X",
            "note": "NOTE.", "settings": {"epochs": 5, "batch": 128, "seed": 0,
                                          "train_images": 60000, "quantisation": "int8 PTQ",
                                          "representative_images": 500},
            "peers": [peer, over],
            "binary": [{"model": "fashion_glt (default)", "kind": "binary (default config)",
                        "budget_bits": 1_000_000, "status": "trained", "accuracy": 0.8832,
                        "bits": 993056, "binary_macs": None,
                        "instructions": {"mps2-an386": 5344678, "mps3-an547": None},
                        "source": "bench/results/agreement.json"},
                       {"model": "fashion-glt-64k", "kind": "binary (zoo)",
                        "budget_bits": 64000, "status": "not yet trained"}]}


def test_peers_table_renders_every_row_with_its_budget():
    text = docs.peers_section(_doc())
    lines = [l for l in text.splitlines() if l.startswith("| ")]
    assert len(lines) == 1 + 4  # header + default, zoo, two peers
    assert "| 125 KB | fashion_glt (default) |" in text and "5,344,678" in text
    assert "| 8 KB | fashion-glt-64k | binary (zoo) | not yet trained |" in text
    assert "85.12 %" in text and "6.4 KB" in text and "508,352 int8" in text
    assert "99.61 % with float" in text and "5 epochs, 101 CPU s" in text
    assert "9.0 KB **over budget**" in text
    assert all(l.count("|") == lines[0].count("|") for l in lines)
    assert "No result yet" in docs.peers_section(None)


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    out = peers.write_plot(_doc(), tmp_path / "p.png")
    assert out.is_file() and out.stat().st_size > 1000


def test_peers_command_without_the_extra_is_one_line_and_exit_2(monkeypatch, capsys):
    from bench.__main__ import main

    def missing():
        raise peers.PeersMissingError("tflite_micro not installed; " + peers.INSTALL_HINT)
    monkeypatch.setattr(peers, "check_requirements", missing)
    assert main(["peers"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0]


def test_a_cached_training_record_is_reused_after_its_json_round_trip():
    arch = peers.ARCHS[0]
    rec = json.loads(json.dumps({"arch": peers.asdict(arch), "epochs": 5, "train_images": 60000,
                                  "recipe": peers.RECIPE}))
    assert peers._trained_as_asked(rec, arch, 5, 60000)
    assert not peers._trained_as_asked(rec, arch, 4, 60000)
    assert not peers._trained_as_asked(rec, peers.ARCHS[1], 5, 60000)
    assert not peers._trained_as_asked(None, arch, 5, 60000)


def test_gap_to_the_binary_model_at_its_budget():
    doc = _doc()
    doc["binary"][1].update(status="trained", accuracy=0.80, bits=60000)
    assert [(n, b, round(d, 4)) for n, b, d in docs.peers_gaps(doc)] == [
        ("fashion-glt-64k", 64000, 0.0512)]
    assert "fashion-glt-64k (8 KB): +5.12 points" in docs.peers_section(doc)


def test_binary_only_refresh_keeps_the_peers(tmp_path, monkeypatch):
    """`bench peers --binary-only`: the zoo rows are read again, the peers' rows and date and
    (without a default IR here) the default row stay as they were."""
    monkeypatch.setattr(peers, "DEFAULT_IRS", [])
    out = tmp_path / "peers.json"
    old = {"date": "2026-11-30", "peers": [{"model": "int8-x", "accuracy": 0.9}],
           "binary": [{"model": "fashion_glt (default)", "kind": "binary (default config)",
                       "accuracy": 0.885},
                      {"model": "stale", "kind": "binary (zoo)", "accuracy": 0.1}]}
    out.write_text(json.dumps(old))
    doc = peers.refresh_binary_rows(out, deploy=False, plot=None)
    saved = json.loads(out.read_text())
    assert saved["peers"] == old["peers"] and saved["date"] == "2026-11-30"
    assert saved["binary"][0] == old["binary"][0]
    zoo = sorted(p.parent.name for p in peers.ZOO_DIR.glob("*/metrics.json"))
    assert sorted(r["model"] for r in saved["binary"][1:]) == zoo
    assert "binary_rows_date" in saved and doc["written"] == str(out)


def test_binary_only_refresh_needs_an_earlier_result(tmp_path):
    with pytest.raises(peers.BenchError, match="no earlier peers result"):
        peers.refresh_binary_rows(tmp_path / "none.json", deploy=False, plot=None)
