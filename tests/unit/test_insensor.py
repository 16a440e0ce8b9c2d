"""In-sensor export: DAC comparator codes reproduce the thermometer on an analogue input."""
import json

import numpy as np
import pytest

from pipeline import insensor, random_ir


def planes_from_voltage(v, thresholds):
    """The IR's thermometer after an ideal 8-bit ADC: code = floor(v * 256), +1 if code >= T."""
    code = np.floor(v * 256).astype(np.int64)
    return code[:, None] >= thresholds[None, :]


def planes_from_comparators(v, codes, bits):
    return v[:, None] >= codes[None, :] / (1 << bits)


VOLTS = (np.arange(1 << 16) + 0.5) / (1 << 16)  # dense sweep of [0, Vref), Vref = 1


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_dac_codes_are_exact_from_8_bits(bits):
    t = np.array([0, 1, 37, 128, 200, 255, 256])
    codes, err = insensor.dac_codes(t, bits)
    assert np.all(err == 0)
    assert np.array_equal(planes_from_voltage(VOLTS, t), planes_from_comparators(VOLTS, codes, bits))


def test_coarse_dac_reports_its_error():
    t = np.array([3, 100, 130])
    codes, err = insensor.dac_codes(t, 6)
    assert np.any(err != 0)
    assert np.all(np.abs(err) <= 2)  # half a 6-bit step is 2 pixel codes
    assert not np.array_equal(planes_from_voltage(VOLTS, t),
                              planes_from_comparators(VOLTS, codes, 6))


def test_export_writes_json_and_header(tmp_path):
    model = random_ir.random_model(4, mode="thresholds", planes=5, in_channels=3)
    insensor.write_insensor(model, tmp_path, 10)
    doc = json.loads((tmp_path / "insensor.json").read_text())
    t = model.layers[0].thresholds
    got = np.array([[p["dac_code"] for p in ch["planes"]] for ch in doc["table"]])
    assert np.array_equal(got, t.astype(np.int64) << 2)
    assert doc["exact"] is True and doc["ir_sha256"] == model.sha256()
    header = (tmp_path / "insensor.h").read_text()
    assert "BNN_SENSOR_PLANES 5" in header and f"{{ {', '.join(map(str, got[0]))} }}" in header


def test_base2_has_no_thresholds():
    model = random_ir.random_model(4, mode="base2", planes=4)
    doc = insensor.export_insensor(model)
    assert doc["table"] == [] and "ADC's own binary code" in doc["note"]


def test_bad_dac_width():
    with pytest.raises(insensor.InSensorError):
        insensor.dac_codes(np.array([1]), 0)
