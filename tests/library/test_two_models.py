"""Two models of different shapes linked into one program, on the host and in QEMU: every
logit of every vector equals the oracle's, runs in distinct arenas are independent (a run nested
in another's hook), and bad arguments give BNN_ERR_ARGUMENT."""
from pathlib import Path

import pytest

from library_helpers import BOARD, HERE, run
from pipeline import boards, build, emulate, resources

MAIN = HERE / "two_models_main.c"
TARGET_ONLY = {"startup.c", "fault.c", "icount.c", "semihosting.c", "stack.c"}
BNN_ERR_ARGUMENT = -1


def _sources(rendered) -> tuple[list[Path], list[Path]]:
    alpha, beta = rendered["alpha"].out, rendered["beta"].out
    # one runtime for both: the two copies are identical
    for f in alpha.runtime_dir.rglob("*"):
        if f.is_file():
            assert f.read_bytes() == (beta.runtime_dir / f.relative_to(alpha.runtime_dir)).read_bytes()
    sources = [MAIN, *sorted(alpha.model_dir.glob("*.c")), *sorted(beta.model_dir.glob("*.c")),
               *sorted(alpha.runtime_dir.glob("*.c")),
               alpha.harness_dir / "alpha_vectors.c", beta.harness_dir / "beta_vectors.c"]
    includes = [alpha.model_dir, beta.model_dir, alpha.runtime_dir, alpha.harness_dir,
                beta.harness_dir]
    return sources, includes


def check_records(records, rendered) -> None:
    vec = {(r["model"], int(r["i"])): r for tag, r in records if tag == "vec"}
    for name in ("alpha", "beta"):
        m = rendered[name]
        for i in range(len(m.images)):
            got = vec[(name, i)]
            assert [int(v) for v in got["logits"].split(",")] == m.logits[i].tolist(), (name, i)
            assert int(got["class"]) == int(m.classes[i])
    alpha, beta = rendered["alpha"], rendered["beta"]
    nested = [r for tag, r in records if tag == "nested"]
    assert len(nested) == len(alpha.images)
    for r in nested:
        i = int(r["i"])
        assert int(r["status"]) == 0
        want = alpha.logits[(i + 1) % len(alpha.images)].tolist()
        assert [int(v) for v in r["logits"].split(",")] == want
        assert int(r["beta_class"]) == int(beta.classes[i % len(beta.images)])
    (errors,) = [r for tag, r in records if tag == "errors"]
    assert int(errors["misaligned"]) == BNN_ERR_ARGUMENT
    assert int(errors["null"]) == BNN_ERR_ARGUMENT
    assert int(errors["classify_null"]) == BNN_ERR_ARGUMENT


def test_two_models_in_one_host_program(tmp_path, rendered):
    sources, includes = _sources(rendered)
    platform = resources.platform_dir()
    exe = tmp_path / "two_models"
    run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", *(f"-I{d}" for d in includes), f"-I{platform}",
         *sources, platform / "record.c", resources.templates_dir() / "host" / "host_platform.c",
         "-o", exe])
    proc = run([exe], timeout=120)
    check_records(emulate.parse_records(proc.stdout), rendered)


def test_two_models_in_one_qemu_firmware(tmp_path, rendered):
    board = boards.load_board(BOARD)
    sources, includes = _sources(rendered)
    built = build.build_firmware(board, sources, includes, tmp_path)
    result = emulate.run_firmware(board, built.elf, timeout_s=120)
    assert result.exit_code == 0, result.output[-2000:]
    check_records(result.records, rendered)


def test_check_records_fails_on_a_changed_logit(rendered):
    records = []
    for name in ("alpha", "beta"):
        m = rendered[name]
        for i in range(len(m.images)):
            records.append(("vec", {"model": name, "i": str(i), "class": str(m.classes[i]),
                                    "logits": ",".join(map(str, m.logits[i].tolist()))}))
    records[1][1]["logits"] = ",".join(
        str(int(v) + (k == 0)) for k, v in enumerate(records[1][1]["logits"].split(",")))
    with pytest.raises(AssertionError):
        check_records(records, rendered)
