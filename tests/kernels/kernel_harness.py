"""Build the C runtime with the sanitizers and run batches of cases through tests/kernels/driver.c.

One driver process per (kernel, variant) batch: AddressSanitizer inside a ctypes-loaded library
would need LD_PRELOAD in the Python process, a separate executable does not.
The case and result formats are documented at the top of driver.c.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "firmware_templates" / "runtime"
DRIVER_SOURCE = Path(__file__).resolve().parent / "driver.c"

HOST_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
               "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
               "-fno-omit-frame-pointer"]
# status codes of bnn.h
BNN_OK, BNN_ERR_ARGUMENT, BNN_ERR_SHAPE, BNN_ERR_BUFFER = 0, -1, -2, -3
VARIANTS = ("ref", "opt", "wrapper")


@dataclass
class Case:
    """One kernel call: int32 parameters (the last is the output size in words) and arrays."""
    params: list[int]
    arrays: list[np.ndarray]


def runtime_sources() -> list[Path]:
    return sorted(RUNTIME.glob("*.c"))


def build_driver(out_dir: Path) -> Path:
    """Compile driver.c + every runtime .c with host gcc and the sanitizers into out_dir."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise RuntimeError("host gcc not found: install the Debian package gcc")
    exe = Path(out_dir) / "bnn_driver"
    cmd = [gcc, *HOST_CFLAGS, f"-I{RUNTIME}", str(DRIVER_SOURCE),
           *map(str, runtime_sources()), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the kernel driver failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return exe


def _encode(cases: list[Case]) -> bytes:
    parts = []
    for case in cases:
        parts.append(np.array([len(case.params), *case.params, len(case.arrays)], "<i4").tobytes())
        for arr in case.arrays:
            raw = np.ascontiguousarray(arr).tobytes()
            parts.append(np.array([len(raw)], "<i4").tobytes())
            parts.append(raw + b"\0" * (-len(raw) % 4))
    return b"".join(parts)


def _decode(raw: bytes, count: int) -> list[tuple[int, np.ndarray]]:
    words = np.frombuffer(raw, dtype="<u4")
    out, pos = [], 0
    for _ in range(count):
        status = int(words[pos:pos + 1].view(np.int32)[0])
        n = int(words[pos + 1])
        out.append((status, words[pos + 2:pos + 2 + n].copy()))
        pos += 2 + n
    if pos != len(words):
        raise AssertionError(f"driver wrote {len(words) - pos} unexpected trailing words")
    return out


def run_cases(driver: Path, kernel: str, variant: str, cases: list[Case],
              work_dir: Path) -> list[tuple[int, np.ndarray]]:
    """Run every case through one driver process; returns (status, output words) per case."""
    work_dir = Path(work_dir)
    cases_file = work_dir / f"{kernel}-{variant}.cases"
    results_file = work_dir / f"{kernel}-{variant}.results"
    cases_file.write_bytes(_encode(cases))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    proc = subprocess.run([str(driver), kernel, variant, str(cases_file), str(results_file)],
                          capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"driver {kernel} {variant} exited with {proc.returncode}:\n"
                             f"{proc.stderr[-6000:]}")
    return _decode(results_file.read_bytes(), len(cases))
