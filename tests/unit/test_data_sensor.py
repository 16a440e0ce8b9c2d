"""Raw-sensor simulation (pipeline.data.sensor): exact values where the model is deterministic,
noise statistics against their definitions with tolerances from the sample size."""
import math

import numpy as np
import pytest

from pipeline.data.dataset import Dataset
from pipeline.data.sensor import (SensorConfig, draw_exposures, sensor_response, simulate,
                                  simulate_dataset, simulate_raw, srgb_to_linear, to_pixel_codes)

# Published inverse-sRGB values (IEC 61966-2-1), independent of the implementation.
SRGB_LINEAR = {0: 0.0, 10: 0.0030352698, 64: 0.0512694, 128: 0.2158605, 200: 0.5775804, 255: 1.0}
# Shot noise so small (1e12 e- full well) that the output is the rounded noiseless value.
QUIET = dict(full_well=1e12, read_noise=0.0)


def _flat(level, n, shape=(1, 100, 100, 1)):
    """n images holding one pixel code everywhere."""
    return np.full((n,) + shape[1:], level, np.uint8)


def _fixed(e, **kw):
    return SensorConfig(enabled=True, exposure=[e, e], **kw)


def test_srgb_curve_matches_the_standard():
    codes = np.array(sorted(SRGB_LINEAR))
    np.testing.assert_allclose(srgb_to_linear(codes), [SRGB_LINEAR[c] for c in codes],
                               rtol=2e-6, atol=1e-9)
    lin = srgb_to_linear(np.arange(256))
    assert np.all(np.diff(lin) > 0)


def test_defaults_are_valid_and_documented_values():
    cfg = SensorConfig()
    assert cfg.check() == []
    assert cfg.validate() is cfg
    assert (cfg.enabled, cfg.exposure, cfg.full_well, cfg.read_noise, cfg.black_level,
            cfg.adc_bits, cfg.seed) == (False, [1 / 32, 1 / 2], 4000.0, 3.0, 0, 8, None)
    assert cfg.max_code == 255 and cfg.gain == 255 / 4000


def test_noiseless_output_exact_codes():
    # 255 * e * L(p), rounded: e=0.5 -> p=128: 27.52 -> 28; p=64: 6.54 -> 7; p=200: 73.6 -> 74
    x = np.array([0, 10, 64, 128, 200, 255], np.uint8).reshape(1, 1, 6, 1)
    out = simulate(x, _fixed(0.5, **QUIET), np.random.default_rng(0))
    assert out.ravel().tolist() == [0, 0, 7, 28, 74, 128]
    # exposure 2 saturates everything above L = 0.5
    out = simulate(x, _fixed(2.0, **QUIET), np.random.default_rng(0))
    assert out.ravel().tolist() == [0, 2, 26, 110, 255, 255]


def test_sensor_response_values_and_scales():
    cfg = _fixed(0.5, black_level=16, adc_bits=10, full_well=1000.0)
    k = (1023 - 16) / 1000.0
    raw = sensor_response(np.array([0, 128, 255]), 0.5, cfg, raw=True)
    np.testing.assert_allclose(raw, [16, 16 + k * 0.5 * 0.2158605 * 1000, 16 + k * 500],
                               rtol=1e-6)
    np.testing.assert_allclose(sensor_response([0, 128, 255], 0.5, cfg), raw * 255 / 1023)
    # broadcasting: rows = exposures; clipped at the top code
    grid = sensor_response(np.arange(256), np.array([[0.25], [1.0], [4.0]]), cfg, raw=True)
    assert grid.shape == (3, 256) and grid.max() == 1023 and grid[2, 200] == 1023 and grid[2, 128] < 1023
    assert grid[1, 255] == pytest.approx(1023, abs=1e-9)


def test_response_monotonic_in_exposure_and_code():
    cfg = SensorConfig()
    e = np.geomspace(1 / 64, 1.0, 13)[:, None]
    r = sensor_response(np.arange(256), e, cfg)
    assert np.all(np.diff(r, axis=0)[:, 1:] > 0)      # every code > 0 brightens with exposure
    assert np.all(np.diff(r, axis=1) > 0)             # unsaturated rows rise with the code


def test_noisy_mean_monotonic_in_exposure():
    x = _flat(100, 4)
    means, ses = [], []
    for e in (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2):
        out = simulate(x, _fixed(e), np.random.default_rng(1)).astype(np.float64)
        means.append(out.mean())
        ses.append(out.std() / math.sqrt(out.size))
    for i in range(4):
        assert means[i + 1] - means[i] > 5 * math.hypot(ses[i], ses[i + 1])


def test_noisy_mean_matches_response():
    cfg = _fixed(0.25, black_level=8)
    out = simulate(_flat(180, 4), cfg, np.random.default_rng(2)).astype(np.float64)
    se = out.std() / math.sqrt(out.size)
    assert abs(out.mean() - sensor_response(180, 0.25, cfg)) < 5 * se + 0.01


@pytest.mark.parametrize("level,read_noise,full_well,bits", [
    (128, 3.0, 4000.0, 12), (0, 5.0, 4000.0, 12), (255, 10.0, 4000.0, 12),
    (128, 0.0, 4031.0, 12),   # K = 1 code/e- exactly: codes - 64 are the electron counts
    (255, 3.0, 4000.0, 8), (128, 3.0, 1000.0, 10)])
def test_variance_is_shot_plus_read_noise(level, read_noise, full_well, bits):
    # var = K^2 (mu + read_noise^2) [EMVA 1288 eq. 6] + 1/12 code^2 of quantisation noise
    # (Sheppard; exact enough when the continuous read noise dithers over >= 1 code; none at all
    # when K = 1 and the input is the integer electron count).
    cfg = _fixed(0.25, full_well=full_well, read_noise=read_noise, black_level=64 if bits > 8
                 else 16, adc_bits=bits)
    raw = simulate_raw(_flat(level, 20), cfg, np.random.default_rng(3)).astype(np.float64)
    n = raw.size
    k = cfg.gain
    mu = 0.25 * SRGB_LINEAR[level] * full_well
    var = k * k * (mu + read_noise ** 2) + (1 / 12 if read_noise else 0.0)
    assert raw.min() > 0 and raw.max() < cfg.max_code   # no clipping
    # standard errors of the sample mean and variance (Gaussian approximation, n = 200,000)
    assert abs(raw.mean() - (cfg.black_level + k * mu)) < 5 * math.sqrt(var / n)
    assert abs(raw.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (n - 1))


def test_shot_noise_is_poisson():
    # K = 1 code/e- exactly and no read noise: codes are the electron counts themselves.
    cfg = _fixed(1.0, full_well=4095.0, read_noise=0.0, adc_bits=12)
    level = 20  # L = 0.0069954 -> mu = 28.6 e-
    mu = 1.0 * float(srgb_to_linear(level)) * 4095.0
    raw = simulate_raw(_flat(level, 10), cfg, np.random.default_rng(4)).ravel()
    n = raw.size
    counts = np.bincount(raw, minlength=80)[:80]
    ks = np.arange(80)
    pmf = np.exp(ks * math.log(mu) - mu - np.array([math.lgamma(k + 1) for k in ks]))
    for k in range(int(mu) - 10, int(mu) + 11):  # each bin within 5 binomial standard errors
        assert abs(counts[k] - n * pmf[k]) < 5 * math.sqrt(n * pmf[k] * (1 - pmf[k]))
    assert abs(raw.var(ddof=1) - mu) < 5 * mu * math.sqrt(2 / (n - 1))


def test_seeded_reproducibility():
    x = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    cfg = SensorConfig(enabled=True)
    a = simulate(x, cfg, np.random.default_rng(123))
    b = simulate(x, cfg, np.random.default_rng(123))
    c = simulate(x, cfg, np.random.default_rng(124))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_chunked_equals_expected_stream():
    # Larger than one chunk: still deterministic, and every image gets its own exposure.
    x = _flat(200, 1400, (1, 28, 28, 1))
    cfg = SensorConfig(enabled=True)
    a = simulate(x, cfg, np.random.default_rng(5))
    assert np.array_equal(a, simulate(x, cfg, np.random.default_rng(5)))
    assert len(np.unique(a.reshape(len(a), -1).mean(1))) > 1000


@pytest.mark.parametrize("shape", [(3, 28, 28, 1), (2, 9, 7, 3), (0, 5, 5, 1)])
@pytest.mark.parametrize("bits", [8, 4, 12])
def test_dtype_and_shape_preserved(shape, bits):
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    cfg = SensorConfig(enabled=True, adc_bits=bits)
    out = simulate(x, cfg, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == shape
    raw = simulate_raw(x, cfg, np.random.default_rng(0))
    assert raw.shape == shape and raw.dtype == (np.uint16 if bits > 8 else np.uint8)
    assert not raw.size or raw.max() <= 2 ** bits - 1


def test_rejects_non_uint8_images():
    with pytest.raises(ValueError, match="uint8"):
        simulate(np.zeros((2, 4, 4, 1), np.float32), SensorConfig(), np.random.default_rng(0))


def test_black_level_offsets_dark_pixels():
    # Dark pixels sit at the black level, with the read noise around it (not clipped at 0).
    cfg = _fixed(0.5, read_noise=20.0, black_level=16)
    out = simulate(_flat(0, 4), cfg, np.random.default_rng(6)).astype(np.float64)
    k = cfg.gain  # 239/4000 codes/e-: sigma = 1.195 codes
    assert abs(out.mean() - 16) < 5 * out.std() / math.sqrt(out.size)
    assert out.min() < 16 < out.max()
    assert out.min() > 0
    assert abs(out.var() - (k * 20) ** 2 - 1 / 12) < 0.05
    quiet = simulate(_flat(0, 1), _fixed(0.5, black_level=16, **QUIET), np.random.default_rng(0))
    assert np.all(quiet == 16)


def test_black_level_shrinks_the_range_above_it():
    cfg = _fixed(1.0, black_level=15, **QUIET)
    x = np.array([0, 128, 255], np.uint8).reshape(1, 1, 3, 1)
    # 15 + 240 * L: 15, 15 + 51.81 = 66.8 -> 67, 255
    assert simulate(x, cfg, np.random.default_rng(0)).ravel().tolist() == [15, 67, 255]


def test_clipping_at_zero_and_full_scale():
    # no black level: read noise below zero is clipped to code 0
    out = simulate(_flat(0, 2), _fixed(0.5, read_noise=30.0), np.random.default_rng(7))
    assert out.min() == 0 and (out == 0).mean() > 0.4
    # over-exposure saturates at the top code
    out = simulate(_flat(255, 2), _fixed(8.0), np.random.default_rng(7))
    assert np.all(out == 255)
    raw = simulate_raw(_flat(255, 2), _fixed(8.0, adc_bits=10), np.random.default_rng(7))
    assert raw.dtype == np.uint16 and np.all(raw == 1023)


def test_low_bit_adc_levels():
    cfg = SensorConfig(enabled=True, adc_bits=4)
    x = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    raw = simulate_raw(x, cfg, np.random.default_rng(8))
    out = simulate(x, cfg, np.random.default_rng(8))
    assert raw.max() <= 15
    assert np.array_equal(out, raw.astype(np.uint8) * 17)   # 4 bits -> multiples of 17
    # noiseless 4-bit: round(15 * 0.4 * L): p=128 -> 1.30 -> 1, p=200 -> 3.47 -> 3, p=255 -> 6
    x = np.array([0, 128, 200, 255], np.uint8).reshape(1, 1, 4, 1)
    assert simulate_raw(x, _fixed(0.4, adc_bits=4, **QUIET),
                        np.random.default_rng(0)).ravel().tolist() == [0, 1, 3, 6]


def test_high_bit_adc_rescaled_to_pixel_codes():
    assert to_pixel_codes(np.array([0, 1, 2, 2047, 2048, 4094, 4095]), 12).tolist() == \
        [0, 0, 0, 127, 128, 255, 255]
    assert to_pixel_codes(np.arange(16), 4).tolist() == list(range(0, 256, 17))
    assert to_pixel_codes(np.arange(2), 1).tolist() == [0, 255]
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    cfg = SensorConfig(enabled=True, adc_bits=12)
    raw = simulate_raw(x, cfg, np.random.default_rng(9))
    assert raw.dtype == np.uint16 and raw.max() > 255
    assert np.array_equal(simulate(x, cfg, np.random.default_rng(9)), to_pixel_codes(raw, 12))
    # 8 bits: identity
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(to_pixel_codes(codes, 8), codes)


def test_exposures_log_uniform_and_override():
    cfg = SensorConfig(exposure=[1 / 32, 1 / 2])
    e = draw_exposures(100_000, cfg, np.random.default_rng(10))
    assert e.min() >= 1 / 32 and e.max() <= 1 / 2
    u = (np.log(e) - math.log(1 / 32)) / math.log(16)   # should be U(0, 1)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / e.size)
    hist = np.bincount(np.minimum((u * 4).astype(int), 3), minlength=4) / e.size
    assert np.all(np.abs(hist - 0.25) < 5 * math.sqrt(0.25 * 0.75 / e.size))
    assert np.all(draw_exposures(5, _fixed(0.3), np.random.default_rng(0)) == 0.3)
    # explicit exposures override the draw
    x = np.array([255, 255], np.uint8).reshape(2, 1, 1, 1)
    out = simulate(x, SensorConfig(**QUIET), np.random.default_rng(0),
                   exposures=np.array([0.5, 0.25]))
    assert out.ravel().tolist() == [128, 64]
    with pytest.raises(ValueError, match="exposures"):
        simulate(x, SensorConfig(), np.random.default_rng(0), exposures=np.array([0.5, 0.0]))


def test_simulate_dataset_seeds_and_enabled():
    rng = np.random.default_rng(0)
    ds = Dataset(rng.integers(0, 256, (5, 8, 8, 1), dtype=np.uint8), np.zeros(5, np.int64),
                 rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8), np.zeros(3, np.int64), ("a",))
    assert simulate_dataset(ds, SensorConfig(enabled=False), 0) is ds
    on = SensorConfig(enabled=True)
    a, b = simulate_dataset(ds, on, 1), simulate_dataset(ds, on, 1)
    assert np.array_equal(a.train_images, b.train_images)
    assert np.array_equal(a.test_images, b.test_images)
    assert not np.array_equal(a.train_images, simulate_dataset(ds, on, 2).train_images)
    # a fixed sensor seed ignores the run seed
    fixed = SensorConfig(enabled=True, seed=7)
    assert np.array_equal(simulate_dataset(ds, fixed, 1).test_images,
                          simulate_dataset(ds, fixed, 2).test_images)
    # the test split's captures do not depend on the training split
    smaller = Dataset(ds.train_images[:2], ds.train_labels[:2], ds.test_images, ds.test_labels,
                      ds.classes)
    assert np.array_equal(simulate_dataset(smaller, on, 1).test_images, a.test_images)
    assert np.array_equal(a.train_labels, ds.train_labels) and a.classes == ds.classes


@pytest.mark.parametrize("field,value", [
    ("exposure", [0.5, 0.25]), ("exposure", [0.0, 0.5]), ("exposure", [0.1]),
    ("exposure", "bright"), ("exposure", [0.1, float("inf")]),
    ("full_well", 0.0), ("full_well", -5.0), ("full_well", 1e16), ("full_well", "4000"),
    ("read_noise", -0.1), ("read_noise", float("nan")),
    ("black_level", -1), ("black_level", 255), ("black_level", 1.5),
    ("adc_bits", 0), ("adc_bits", 17), ("adc_bits", 8.0), ("adc_bits", True),
    ("enabled", 1), ("seed", -1), ("seed", 1.5),
])
def test_invalid_values_name_the_field(field, value):
    cfg = SensorConfig(**{field: value})
    problems = cfg.check()
    assert len(problems) == 1 and f"'{field}'" in problems[0]
    with pytest.raises(ValueError, match=f"'{field}'"):
        cfg.validate()
    with pytest.raises(ValueError, match=f"'{field}'"):
        simulate(_flat(1, 1, (1, 2, 2, 1)), cfg, np.random.default_rng(0))


def test_black_level_limit_depends_on_bits():
    assert SensorConfig(black_level=1000, adc_bits=12).check() == []
    assert "'black_level'" in SensorConfig(black_level=1000, adc_bits=8).check()[0]
    # the product limit names full_well
    assert "'full_well'" in SensorConfig(full_well=1e15, exposure=[1.0, 2.0]).check()[0]


def test_config_section_reaches_the_loader_and_is_checked():
    """data.sensor in a config: validated when the config loads, applied by load_dataset."""
    import pytest as _pytest

    from pipeline.config import ConfigError, config_from_dict
    from pipeline.data import load_dataset
    with _pytest.raises(ConfigError, match="data.sensor: 'exposure'"):
        config_from_dict({"data": {"sensor": {"exposure": [0.5, 0.1]}}})
    limits = {"train_limit": 64, "test_limit": 32}
    plain = load_dataset(config_from_dict({"data": limits}).data, 0)
    raw = load_dataset(config_from_dict({"data": {**limits, "sensor": {"enabled": True}}}).data, 0)
    assert raw.train_images.shape == plain.train_images.shape
    assert raw.train_images.mean() < plain.train_images.mean() / 2  # exposure <= 1/2: darker
