"""Random IRs rendered, built and run under QEMU; every vector's logits, class and the CRC of
every layer's output are compared with the oracle in Python (pipeline.verify)."""
import pytest

from pipeline import boards, build, emulate, ops, random_ir, reference, render, verify

VECTORS = 3


def deploy_ir(model, board_name, work, variant="opt", seed=0):
    board = boards.load_board(board_name)
    images = random_ir.random_images(seed, VECTORS, model.input_shape)
    logits = reference.run(model, images).logits
    out = render.render(model, board, work, images, logits, variant)
    result = build.build_firmware(board, out.firmware_sources(), out.include_dirs(), work,
                                  linker_script=out.linker_script)
    run = emulate.run_firmware(board, result.elf, timeout_s=120)
    return run, verify.verify(run.records, model, images)


def _check(run, checked, model):
    assert run.exit_code == 0, run.output[-2000:]
    assert checked.mismatches == 0, (checked.logit_mismatches, checked.layer_mismatches)
    assert checked.vectors == VECTORS
    assert len(checked.layer_counts) == len(model.layers)
    assert all(row["instructions"] > 0 for row in checked.layer_counts)
    assert checked.inference_count > 0 and checked.stack_used > 0


@pytest.mark.parametrize("board_name", ["mps2-an386", "microbit"])
@pytest.mark.parametrize("seed", range(20))
def test_random_ir_matches_oracle(tmp_path, board_name, seed):
    model = random_ir.random_model(1000 + seed)
    run, checked = deploy_ir(model, board_name, tmp_path, seed=seed)
    _check(run, checked, model)


@pytest.mark.parametrize("kind", ops.kinds())
def test_every_registered_kind_runs_in_qemu(tmp_path, kind):
    """Every kind of the registry in firmware under QEMU (Cortex-M4), logits and every layer's
    CRC against the oracle."""
    model = random_ir.model_with(50, kind)
    assert kind in [layer.kind for layer in model.layers]
    run, checked = deploy_ir(model, "mps2-an386", tmp_path)
    _check(run, checked, model)


@pytest.mark.parametrize("board_name", ["mps2-an385", "mps2-an500", "mps2-an505", "mps3-an547",
                                        "netduinoplus2"])
def test_every_qemu_board_runs_a_model(tmp_path, board_name):
    model = random_ir.random_model(77)
    run, checked = deploy_ir(model, board_name, tmp_path)
    _check(run, checked, model)


def test_reference_kernels_in_firmware_match_too(tmp_path):
    model = random_ir.random_model(5)
    run, checked = deploy_ir(model, "mps2-an386", tmp_path, variant="ref")
    _check(run, checked, model)


def test_verify_catches_a_changed_logit_and_a_changed_layer(tmp_path):
    model = random_ir.random_model(3)
    run, checked = deploy_ir(model, "mps2-an386", tmp_path)
    _check(run, checked, model)
    images = random_ir.random_images(0, VECTORS, model.input_shape)
    tampered = []
    for tag, rec in run.records:
        rec = dict(rec)
        if tag == "vec" and rec["i"] == "1":
            values = rec["logits"].split(",")
            values[0] = str(int(values[0]) + 1)
            rec["logits"] = ",".join(values)
        if tag == "act" and rec["i"] == "2" and rec["layer"] == "1":
            rec["crc"] = hex(int(rec["crc"], 0) ^ 1)
        tampered.append((tag, rec))
    bad = verify.verify(tampered, model, images)
    assert bad.mismatches == 2
    assert bad.logit_mismatches == [1]
    assert bad.layer_mismatches == [(2, 1)]
    with pytest.raises(verify.FirmwareOutputError):
        verify.verify([r for r in run.records if not (r[0] == "vec" and r[1]["i"] == "0")],
                      model, images)


@pytest.mark.parametrize("board_name", ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505"])
def test_sliced_dense_layout_runs_on_thumb2_boards(tmp_path, board_name):
    """A model whose hidden dense layer the renderer writes in the sliced layout (Cortex-M3,
    M4, M7, M33): logits and every layer's CRC against the oracle."""
    model = random_ir.random_model(1001, hidden_dense=32)
    paths = [r["path"] for r in render.kernel_choices(model, boards.load_board(board_name))["layers"]]
    assert "sliced" in paths
    run, checked = deploy_ir(model, board_name, tmp_path)
    _check(run, checked, model)
