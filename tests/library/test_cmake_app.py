"""examples/cmake-app, a standalone CMake project, consumes a render's model/ + runtime/: built
for real with CMake, for the Cortex-M4 (arm-none-eabi toolchain file, run under QEMU) and for
the host (raw image files in, logits out); every logit is compared with the oracle."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from library_helpers import BOARD, run
from pipeline import boards, emulate, reference
from pipeline.toolchain import arm_tool

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "cmake-app"
APP_IMAGES = 4


def cmake() -> str:
    path = shutil.which("cmake")
    if path is None:
        pytest.fail("cmake is not installed: run `make setup` (Debian package cmake)")
    return path


def xorshift_images(n: int, shape) -> np.ndarray:
    """The images main.c draws on bare metal: xorshift32 from seed 1, low byte of each draw."""
    size = int(np.prod(shape))
    state, out = 1, np.empty(n * size, np.uint8)
    for k in range(n * size):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out[k] = state & 0xFF
    return out.reshape(n, *shape)


def parse_lines(text: str) -> dict[int, tuple[int, list[int]]]:
    """{image index: (class, logits)} from the app's `image i class c logits ...` lines."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["image"]:
            assert parts[2] == "class" and parts[4] == "logits", line
            rows[int(parts[1])] = (int(parts[3]), [int(v) for v in parts[5:]])
    return rows


def configure_and_build(build_dir: Path, deploy: Path, name: str, *extra: str) -> None:
    run([cmake(), "-S", APP, "-B", build_dir, f"-DBNN_DEPLOY_DIR={deploy}",
         f"-DBNN_MODEL_NAME={name}", "-DCMAKE_BUILD_TYPE=Release", *extra])
    run([cmake(), "--build", build_dir])


def check(rows, model, images) -> None:
    oracle = reference.run(model, images)
    assert sorted(rows) == list(range(len(images)))
    for i in range(len(images)):
        cls, logits = rows[i]
        assert logits == oracle.logits[i].tolist(), i
        assert cls == int(oracle.classes[i])


def test_cmake_app_on_cortex_m4_in_qemu(tmp_path, rendered):
    m = rendered["alpha"]
    build_dir = tmp_path / "arm"
    configure_and_build(build_dir, m.out.root, m.name,
                        f"-DCMAKE_TOOLCHAIN_FILE={APP / 'arm-none-eabi.cmake'}")
    # the runtime is a static library built with the toolchain file's CPU flags
    (lib,) = build_dir.rglob("libbnn_runtime.a")
    attrs = run([arm_tool("readelf"), "-A", lib]).stdout
    assert "Tag_CPU_arch: v7E-M" in attrs and "Tag_ABI_VFP_args: VFP registers" in attrs
    elf = build_dir / "bnn_app"
    result = emulate.run_firmware(boards.load_board(BOARD), elf, timeout_s=120)
    assert result.exit_code == 0, result.output[-2000:]
    rows = parse_lines(result.output)
    check(rows, m.model, xorshift_images(APP_IMAGES, m.model.input_shape))


def test_cmake_app_on_the_host_reads_images_and_prints_logits(tmp_path, rendered):
    m = rendered["beta"]
    build_dir = tmp_path / "host"
    configure_and_build(build_dir, m.out.root, m.name)
    files = []
    for i, image in enumerate(m.images):
        path = tmp_path / f"image{i}.bin"
        path.write_bytes(np.ascontiguousarray(image, np.uint8).tobytes())
        files.append(path)
    proc = run([build_dir / "bnn_app", *files], timeout=60)
    check(parse_lines(proc.stdout), m.model, m.images)


def test_parse_and_check_catch_a_wrong_logit(rendered):
    m = rendered["beta"]
    oracle = reference.run(m.model, m.images)
    text = "\n".join(f"image {i} class {oracle.classes[i]} logits "
                     + " ".join(str(v + (i == 1 and k == 0)) for k, v in enumerate(row))
                     for i, row in enumerate(oracle.logits.tolist()))
    with pytest.raises(AssertionError):
        check(parse_lines(text), m.model, m.images)
