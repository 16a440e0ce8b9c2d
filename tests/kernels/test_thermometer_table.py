"""The table path of bnn_thermometer_opt (bnn_thermometer_table_opt, predicate
bnn_thermometer_is_table) against the oracle: images of 64 pixels and more, 1-4 channels, 1-10
planes, both modes, one output group or one per channel; where the predicate does not hold the
path must refuse with BNN_ERR_SHAPE. Pixels sit on the thresholds often (the >= edge)."""
import numpy as np
import pytest

from kernel_harness import BNN_ERR_SHAPE, BNN_OK, Case, run_cases
from pipeline import random_ir as R
from pipeline import reference as ref

SEED = 20261201


def table_fits(h, w, channels, planes, groups):
    """Mirror of thermometer_table_fits() in bnn_thermometer.c."""
    if planes > 8 or h * w < 64:
        return False
    return channels * planes <= 32 if groups == 1 else channels * planes // groups == planes


def cases():
    rng = np.random.default_rng(SEED)
    out = []
    for i in range(120):
        mode = "base2" if i % 4 == 0 else "thresholds"
        channels = int(rng.choice([1, 1, 2, 3, 4]))
        planes = int(rng.integers(1, 9 if mode == "base2" else 11))
        h, w = (int(v) for v in rng.integers(6, 13, size=2))
        layer = R.random_thermometer(rng, (h, w, channels), planes, mode)
        groups = int(rng.choice([1, channels] if i % 3 else [g for g in range(1, 5)
                                                              if channels * planes % g == 0]))
        image = R.random_images(int(rng.integers(1 << 30)), 1, (h, w, channels))
        if mode == "thresholds":
            hit = rng.random(image.shape) < 0.3
            pick = layer.thresholds[np.arange(channels), rng.integers(0, planes, size=channels)]
            image = np.where(hit, np.clip(pick, 0, 255), image).astype(np.uint8)
        expected = ref.thermometer(layer, image, groups)[0]
        params = [h, w, channels, planes, {"thresholds": 0, "base2": 1}[mode], groups,
                  expected.size]
        out.append((Case(params, [layer.thresholds.astype(np.uint16), image[0]]),
                    np.ascontiguousarray(expected).reshape(-1).view(np.uint32),
                    table_fits(h, w, channels, planes, groups)))
    return out


@pytest.mark.parametrize("variant", ["table", "opt"])
def test_thermometer_table_path(driver, tmp_path, variant):
    all_cases = cases()
    assert sum(fit for *_, fit in all_cases) >= 40 and not all(fit for *_, fit in all_cases)
    results = run_cases(driver, "thermometer", variant, [c for c, *_ in all_cases], tmp_path)
    bad = []
    for i, ((case, expected, fit), (status, got)) in enumerate(zip(all_cases, results)):
        if fit or variant == "opt":
            if status != BNN_OK or not np.array_equal(got, expected):
                bad.append(f"case {i} params={case.params}: status {status}")
        elif status != BNN_ERR_SHAPE:
            bad.append(f"case {i} params={case.params}: status {status}, want BNN_ERR_SHAPE")
    assert not bad, "\n".join(bad[:10])
