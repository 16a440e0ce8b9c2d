"""The stage cache (pipeline.stages): fingerprints, output digests, derived code inputs, and the
per-build-directory lock of deploy."""
import json
import threading
import time

import pytest
from filelock import FileLock

from pipeline import deploy, stages
from pipeline.stages import Stage, module_closure, run_stage


def make_stage(tmp_path, **params):
    src = tmp_path / "in.txt"
    if not src.exists():
        src.write_text("input")
    out = tmp_path / "out"
    return Stage("demo", tmp_path, [src], params, [out / "a.c", out])


def produce(tmp_path):
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / "a.c").write_text("int a;")
    (tmp_path / "out" / "b.c").write_text("int b;")


def test_second_run_skips_and_changed_input_reruns(tmp_path):
    ran = []
    action = lambda: (produce(tmp_path), ran.append(1))  # noqa: E731
    assert run_stage(make_stage(tmp_path), action, log=lambda m: None)
    assert not run_stage(make_stage(tmp_path), action, log=lambda m: None)
    (tmp_path / "in.txt").write_text("changed")
    assert run_stage(make_stage(tmp_path), action, log=lambda m: None)
    assert not run_stage(make_stage(tmp_path), action, log=lambda m: None)
    assert run_stage(make_stage(tmp_path, option=2), action, log=lambda m: None)
    assert len(ran) == 3


@pytest.mark.parametrize("damage, reason", [
    (lambda t: (t / "out" / "a.c").unlink(), "missing"),        # a listed output deleted
    (lambda t: (t / "out" / "b.c").unlink(), "changed"),        # a file inside an output folder
    (lambda t: (t / "out" / "a.c").write_text("int x;"), "changed"),  # edited
    (lambda t: (t / "out" / "new.c").write_text(""), "changed"),      # an extra file appeared
])
def test_damaged_outputs_are_never_trusted(tmp_path, damage, reason):
    stage = make_stage(tmp_path)
    run_stage(stage, lambda: produce(tmp_path), log=lambda m: None)
    assert stage.up_to_date()
    damage(tmp_path)
    assert reason in stage.why_stale()
    logs = []
    assert run_stage(stage, lambda: produce(tmp_path), log=logs.append)
    assert "running" in logs[0] and reason in logs[0]


def test_stamp_written_after_success_only_and_under_a_unique_name(tmp_path):
    stage = make_stage(tmp_path)

    def fail():
        produce(tmp_path)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        run_stage(stage, fail, log=lambda m: None)
    assert not stage.stamp.exists()
    run_stage(stage, lambda: produce(tmp_path), log=lambda m: None)
    doc = json.loads(stage.stamp.read_text())
    assert set(doc) == {"fingerprint", "outputs"}
    assert [p.name for p in stage.stamp.parent.iterdir()] == ["demo.json"]  # no temp left


def names(paths):
    return {p.relative_to(stages.PACKAGE_DIR).as_posix() for p in paths}


def test_code_inputs_are_the_import_closure():
    lower = names(module_closure("pipeline.lower"))
    assert {"lower.py", "ir.py", "bits.py", "nn/models.py", "nn/arch.py"} <= lower
    emulate = names(module_closure("pipeline.emulate", "pipeline.verify"))
    assert {"verify.py", "reference.py", "bits.py", "emulate.py", "toolchain.py"} <= emulate
    assert "train.py" not in emulate and "render.py" not in emulate
    assert {"train.py", "data/fingerprint.py", "nn/prune.py"} <= names(module_closure("pipeline.train"))
    with pytest.raises(ValueError):
        module_closure("numpy")


def test_a_changed_module_changes_the_stage_fingerprint(tmp_path, monkeypatch):
    """Modules are found under PACKAGE_DIR: a copy of a tiny package stands in for it."""
    pkg = tmp_path / "pipeline"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "stage.py").write_text("from . import helper\n\ndef run():\n    from .lazy import x\n")
    (pkg / "helper.py").write_text("A = 1\n")
    (pkg / "lazy.py").write_text("x = 1\n")
    (pkg / "unrelated.py").write_text("")
    monkeypatch.setattr(stages, "PACKAGE_DIR", pkg)
    stages._closure.cache_clear()
    try:
        stage = Stage("s", tmp_path / "b", [], {}, [], code=("pipeline.stage",))
        assert names(stage.all_inputs()) == {"__init__.py", "stage.py", "helper.py", "lazy.py"}
        before = stage.fingerprint()
        (pkg / "unrelated.py").write_text("y = 2\n")
        assert stage.fingerprint() == before
        (pkg / "lazy.py").write_text("x = 2\n")  # imported inside a function: still an input
        assert stage.fingerprint() != before
    finally:
        stages._closure.cache_clear()


def test_deploy_stages_list_their_code_and_templates():
    """The stages deploy builds name the modules they run; bits.py, verify.py and the linker
    template are inputs of the stages they affect (issue: they were inputs of none)."""
    by_stage = deploy.stage_code_inputs()
    assert "bits.py" in names(by_stage["lower"]) and "bits.py" in names(by_stage["render"])
    assert "verify.py" in names(by_stage["emulate"])
    build_files = [f for p in deploy.stage_resource_inputs()["build"]
                   for f in ([p] if p.is_file() else p.rglob("*"))]
    assert any(f.name == "linker.ld.j2" for f in build_files)


def test_a_second_deploy_into_the_same_folder_waits_then_fails_named(tmp_path):
    holder = FileLock(str(tmp_path / ".deploy.lock"))
    holder.acquire()
    try:
        start = time.monotonic()
        with pytest.raises(deploy.DeployLockedError, match="locked"):
            with deploy.deploy_lock(tmp_path, timeout_s=0.3):
                pass
        assert time.monotonic() - start >= 0.3
    finally:
        holder.release()
    order = []

    def second():
        with deploy.deploy_lock(tmp_path, timeout_s=10):
            order.append("second")

    with deploy.deploy_lock(tmp_path, timeout_s=1):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first")
    t.join()
    assert order == ["first", "second"]
