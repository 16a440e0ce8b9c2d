"""Render records which kernel path every layer takes on the board (kernels.json), and the
report shows it per layer (report.json "path", the report.md layer table). Whether the mirror
agrees with the C runtime is tests/kernels/test_path_mirror.py; here the records themselves."""
import json

import numpy as np
import pytest

from pipeline import boards, random_ir, reference, render, report, targets
from pipeline.ops.bconv2d import fast_path
from pipeline.ops.bdense import dense_path
from pipeline.ops.thermometer import thermometer_path


def _model():
    # 3 convs of up to 40 channels: several paths in one model, one thermometer
    return random_ir.random_model(3, conv_layers=3, max_channels=40, height=12, width=12)


def _render(model, board, out, variant="opt"):
    images = random_ir.random_images(0, 2, model.input_shape)
    return render.render(model, board, out, images, reference.run(model, images).logits,
                         variant)


def _expected(model, board):
    target = targets.for_board(boards.load_board(board))
    want = []
    for i, layer in enumerate(model.layers):
        if layer.kind == "bconv2d":
            want.append(fast_path(layer, target))
        elif layer.kind == "thermometer":
            want.append(thermometer_path(layer, model.out_pack_groups(i), target))
        elif layer.kind == "bdense":  # Helium vector rows, the sliced layout or scalar rows
            want.append(dense_path(layer, model.out_pack_groups(i), target))
        else:
            want.append(None)
    return target, want


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "microbit"])
def test_kernels_json_records_each_layers_path(tmp_path, board):
    model = _model()
    out = _render(model, board, tmp_path)
    doc = json.loads(out.kernels_json.read_text())
    target, want = _expected(model, board)
    assert doc["board"] == board and doc["target"] == target.name and doc["variant"] == "opt"
    assert [r["name"] for r in doc["layers"]] == [layer.name for layer in model.layers]
    assert [r["path"] for r in doc["layers"]] == want
    assert doc["layers"][0]["path"] in ("table", "words", "words_mve", "ref")
    assert all(r["path"] for r in doc["layers"] if r["kind"] == "bconv2d")


def test_helium_and_scalar_boards_choose_differently():
    """The point of recording per board: the same conv runs another path on Cortex-M55."""
    model = _model()
    convs = [layer for layer in model.layers if layer.kind == "bconv2d"]
    assert any(fast_path(c, targets.HELIUM) == "mve" for c in convs)
    assert all(fast_path(c, targets.THUMB2) != "mve" for c in convs)


def test_ref_variant_records_ref(tmp_path):
    model = _model()
    doc = json.loads(_render(model, "mps2-an386", tmp_path, "ref").kernels_json.read_text())
    assert {r["path"] for r in doc["layers"]} == {"ref"} and doc["variant"] == "ref"


def test_report_shows_the_paths(tmp_path):
    model = _model()
    board = boards.load_board("mps3-an547")
    _render(model, board, tmp_path)
    # what the build stage would have written (the report needs it)
    (tmp_path / "size.json").write_text(json.dumps({
        "flash_bytes": 1000, "ram_bytes": 2000, "budget": {"flash": 4096, "ram": 4096},
        "sections": [{"name": ".text", "flash": 1000, "ram": 0}]}))
    rep = report.build_report(board, model, tmp_path, tmp_path)
    _, want = _expected(model, "mps3-an547")
    assert rep["kernel_target"] == "helium"
    assert [row["path"] for row in rep["layers"]] == want
    md = report.render_markdown(rep, [])
    for layer, path in zip(model.layers, want):
        assert f"| {layer.name} | {layer.kind} | {path or '-'} |" in md
    json.dumps(rep)  # report.json stays plain JSON


def test_report_without_kernels_json_says_nothing_about_paths(tmp_path):
    """An older render (no kernels.json): the paths are missing, not guessed."""
    model = _model()
    (tmp_path / "size.json").write_text(json.dumps({
        "flash_bytes": 1, "ram_bytes": 1, "budget": {"flash": 2, "ram": 2}, "sections": []}))
    rep = report.build_report(boards.load_board("mps2-an386"), model, tmp_path, tmp_path)
    assert rep["kernel_target"] is None and all(r["path"] is None for r in rep["layers"])
    assert "| - |" in report.render_markdown(rep, [])


def test_model_sources_do_not_depend_on_the_recorded_paths(tmp_path):
    """The generated code calls each kind's dispatching kernel (bnn_bconv2d), so the model's C
    is the same whatever path the board takes: only the provenance line names the board. The
    one exception is data: a hidden dense layer whose path is "sliced" on one board has its
    weights in the sliced layout there (which every build of the runtime runs)."""
    model = _model()
    a = _render(model, "mps2-an386", tmp_path / "a")
    b = _render(model, "mps3-an547", tmp_path / "b")
    paths = [json.loads(r.kernels_json.read_text())["layers"] for r in (a, b)]
    layout_differs = [(pa["path"] == "sliced") != (pb["path"] == "sliced")
                      for pa, pb in zip(*paths)]
    assert any(layout_differs)  # the test model has a hidden dense layer sliced on the M4
    for f in sorted(a.model_dir.glob("*.c")):
        ta = f.read_text().replace("mps2-an386", "BOARD").split("/* layer ")
        tb = (b.model_dir / f.name).read_text().replace("mps3-an547", "BOARD").split("/* layer ")
        assert len(ta) == len(tb), f.name
        for chunk_a, chunk_b in zip(ta, tb):  # weights.c: one chunk per layer after the head
            index = int(chunk_a.split(":")[0]) if chunk_a[:1].isdigit() else None
            if index is None or not layout_differs[index]:
                assert chunk_a == chunk_b, f.name
    assert "bnn_bconv2d(&ctx" in (a.model_dir / "model.c").read_text()
    assert not np.any([p in (a.model_dir / "model.c").read_text()
                       for p in ("_field9_opt", "_mve_opt", "_bitsliced_opt")])


def test_sliced_dense_layout_is_rendered_where_its_path_is_chosen(tmp_path):
    """A hidden dense layer whose path is "sliced" on Cortex-M4 gets the sliced layout only (no
    rows, thresholds or flips in flash); on Cortex-M0 and M55 the same layer keeps the rows."""
    model = random_ir.random_model(2, conv_layers=1, max_channels=16, height=8, width=8,
                                   hidden_dense=32)
    i = next(i for i, layer in enumerate(model.layers)
             if layer.kind == "bdense" and not layer.output)
    assert dense_path(model.layers[i], model.out_pack_groups(i), targets.THUMB2) == "sliced"
    for board, sliced in (("mps2-an386", True), ("microbit", False), ("mps3-an547", False)):
        out = _render(model, board, tmp_path / board)
        text = (out.model_dir / f"{out.name}_weights.c").read_text()
        pre = f"{out.name}_layer{i}"
        assert (f"{pre}_sliced[" in text) == sliced, board
        assert (f"{pre}_weights[" in text) != sliced, board
        assert (f"{pre}_threshold[" in text) != sliced, board


def test_dense_path_follows_the_cost_model():
    """dense_path: Helium rows on M55, the rows on M0 and for output layers, and on the other
    Thumb-2 cores the sliced layout where the cost model (fitted on Cortex-M4) says it runs
    fewer instructions: full 32-row words up to about 180 input words, short words on short
    inputs only."""
    rng = np.random.default_rng(0)

    def hidden(shape, n_out):
        return random_ir.random_bdense(rng, shape, n_out, output=False)

    dense6 = hidden((3, 3, 192), 512)  # 54 input words, 16 words of 32 rows
    assert dense_path(dense6, 1, targets.THUMB2) == "sliced"
    assert dense_path(dense6, 1, targets.V6M) == "rows"
    assert dense_path(dense6, 1, targets.HELIUM) == "mve"
    output = random_ir.random_bdense(rng, (3, 3, 192), 10, output=True)
    assert dense_path(output, 1, targets.THUMB2) == "rows"
    assert dense_path(hidden((1, 1, 32 * 150), 32), 1, targets.THUMB2) == "sliced"
    assert dense_path(hidden((1, 1, 32 * 190), 32), 1, targets.THUMB2) == "rows"
    assert dense_path(hidden((1, 1, 32 * 54), 20), 1, targets.THUMB2) == "rows"
    assert dense_path(hidden((1, 1, 32), 8), 1, targets.THUMB2) == "sliced"
    # packing groups split the rows into short words: 64 rows in 8 groups of 8
    assert dense_path(hidden((3, 3, 192), 64), 8, targets.THUMB2) == "rows"
