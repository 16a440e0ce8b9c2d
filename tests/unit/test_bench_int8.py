"""`python -m bench int8` without CMSIS-NN: a missing or wrong --cmsis-nn is one line and exit 2
before anything is built, and the docs table renders a result."""
import subprocess
import sys

import pytest

from bench import docs, int8_first_layer as I


def test_no_checkout_is_named(tmp_path):
    with pytest.raises(I.CmsisNnMissing, match="--cmsis-nn PATH is required"):
        I.check_cmsis(None)
    with pytest.raises(I.CmsisNnMissing, match="arm_nnfunctions.h"):
        I.check_cmsis(tmp_path)
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "arm_nnfunctions.h").write_text("")
    for d in I.CMSIS_SOURCES:
        (tmp_path / "Source" / d).mkdir(parents=True)
    assert I.check_cmsis(tmp_path) == tmp_path


def test_cli_refuses_before_work(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench", "int8", "--cmsis-nn", str(tmp_path)],
                          capture_output=True, text=True, cwd=I.ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not a CMSIS-NN checkout" in proc.stderr


def test_docs_table():
    cell = {"ours": {"instructions": 580, "thermometer": 4, "conv": 576,
                     "conv_path": "bitsliced_mve"},
            "int8-O2": {"instructions": 655}, "int8-O3": {"instructions": 634},
            "ours_over_best_int8": 0.915}
    d = {"date": "2026-12-01", "cmsis_nn": "abc 2026-07-15",
         "results": [{"model": "m", "out_channels": 32, "planes": 8,
                      "boards": {"mps3-an547": cell}}]}
    text = docs.int8_section(d)
    assert "| m | 28x28 -> 32 | mps3-an547 | 580 (4 + 576, bitsliced_mve) | 655 | 634 | 0.915 |" \
        in text
    assert "No result yet" in docs.int8_section(None)
