"""Flash reads per inference (bench/flash_reads.py): the deployed firmware run again in Unicorn.

Unicorn's instruction count of every measured region must equal QEMU's counter, and the weight
bytes each layer reads from flash must equal what its kernel path's access pattern predicts
(written out here from the geometry, independently of the emulator): word-per-tap conv paths
read every channel's field once per output pixel, lanes and bit-sliced paths copy the weights
to RAM once per call, a dense layer reads each row once, pools and thermometers have none."""
import pytest

from bench import BenchError
from bench import flash_reads
from bench.kernels import weight_words_streamed
from pipeline.ops.bdense import sliced_blocks
from pipeline import boards, random_ir, render

from test_models_in_qemu import deploy_ir


def expected_weight_bytes(layer, path: str, out_pack_groups: int) -> int:
    if layer.kind == "bconv2d":
        oh, ow, oc = layer.out_shape
        kh, kw = layer.kernel
        field = kh * kw * ((layer.in_shape[2] // layer.groups + 31) // 32)
        per_call = path in ("lanes", "bitsliced")
        return 4 * oc * field * (1 if per_call else oh * ow)
    if layer.kind == "bdense":  # each row once; the sliced layout: each word's block once
        if path == "sliced":
            return 4 * int(sliced_blocks(layer, out_pack_groups).size)
        return 4 * int(layer.weights.size)
    return 0


def _measure(model, board_name, tmp_path, seed=0):
    run, checked = deploy_ir(model, board_name, tmp_path, seed=seed)
    assert run.exit_code == 0 and checked.mismatches == 0
    board = boards.load_board(board_name)
    paths = {l["name"]: l["path"] for l in render.kernel_choices(model, board)["layers"]}
    elf = next(tmp_path.rglob("*.elf"))
    return flash_reads.measure_firmware(board, elf, checked.layer_counts,
                                        checked.inference_count, paths), checked


@pytest.mark.parametrize("board_name", ["mps2-an386", "microbit", "mps2-an385", "mps2-an500"])
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_weight_reads_match_the_access_pattern(tmp_path, board_name, seed):
    model = random_ir.random_model(1000 + seed)
    rec, _ = _measure(model, board_name, tmp_path, seed)
    convs = 0
    for i, (layer, row) in enumerate(zip(model.layers, rec["layers"])):
        groups = model.out_pack_groups(i)
        want = expected_weight_bytes(layer, row["path"], groups)
        assert row["by_category"]["weights"] == want, (layer.name, row["path"])
        if layer.kind in ("bconv2d", "bdense"):
            convs += 1
            assert want == 4 * weight_words_streamed(layer, row["path"], groups)  # bench's model
    assert convs > 0
    total = rec["inference"]["by_category"]["weights"]
    assert total == sum(r["by_category"]["weights"] for r in rec["layers"])
    assert rec["inference"]["flash_read_bytes"] >= total > 0


@pytest.mark.parametrize("board_name", ["mps2-an386", "mps2-an385"])
def test_sliced_dense_reads_each_block_once(tmp_path, board_name):
    """The sliced layout of a hidden dense layer: every word of every output word's block (its
    transposed weights, limit planes and invert word) is read from flash exactly once."""
    model = random_ir.random_model(1001, hidden_dense=32)
    rec, _ = _measure(model, board_name, tmp_path)
    rows = [(i, layer, row) for i, (layer, row) in enumerate(zip(model.layers, rec["layers"]))
            if row["path"] == "sliced"]
    assert rows
    for i, layer, row in rows:
        want = 4 * int(sliced_blocks(layer, model.out_pack_groups(i)).size)
        assert row["by_category"]["weights"] == want
        assert row["by_category"]["per_channel"] == 0  # no thresholds or flips in flash


def test_a_wrong_qemu_count_is_refused(tmp_path):
    model = random_ir.random_model(1000)
    run, checked = deploy_ir(model, "mps2-an386", tmp_path)
    board = boards.load_board("mps2-an386")
    elf = next(tmp_path.rglob("*.elf"))
    layers = [dict(c) for c in checked.layer_counts]
    layers[0]["instructions"] = int(layers[0]["instructions"]) + 1
    with pytest.raises(BenchError, match="another instruction stream"):
        flash_reads.measure_firmware(board, elf, layers, checked.inference_count)


def test_boards_it_cannot_measure_are_named():
    with pytest.raises(BenchError, match="cortex-m55"):
        flash_reads.check_board("mps3-an547")
    with pytest.raises(BenchError, match="hardware-only"):
        flash_reads.check_board("nucleo-f446re")


def test_an_early_exit_is_reported_with_its_code(tmp_path):
    """A firmware that exits before its regions close (here: asked for more regions than the
    harness measures) ends the run at its semihosting exit, with the exit code."""
    model = random_ir.random_model(1000)
    run, checked = deploy_ir(model, "mps2-an386", tmp_path)
    elf = next(tmp_path.rglob("*.elf"))
    with pytest.raises(BenchError, match="exited with code 0 after"):
        flash_reads.run_regions(boards.load_board("mps2-an386"), elf, 10_000)
