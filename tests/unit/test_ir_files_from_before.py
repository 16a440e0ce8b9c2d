"""IR files written before the layer-kind registry (commit 9a40851, format version 1) still load,
hash the same and give the same logits: the registry changed where code lives, not the format."""
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import ir, reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ir_v1"


@pytest.mark.parametrize("stem", ["seed3", "seed4"])
def test_an_ir_written_before_the_registry_loads_and_runs_the_same(stem):
    path = FIXTURES / f"{stem}.ir.json"
    doc = json.loads(path.read_text())
    assert doc["format_version"] == ir.FORMAT_VERSION == 1
    model = ir.Model.load(path)
    assert model.sha256() == doc["sha256"]
    assert model.bits() == doc["bits"]["total"]
    assert model.to_json(doc["arrays_file"])["layers"] == doc["layers"]
    with np.load(FIXTURES / f"{stem}.expected.npz") as npz:
        images, logits = npz["images"], npz["logits"]
    got = reference.run(model, images).logits
    assert got.dtype == logits.dtype and np.array_equal(got, logits)
