"""Raw image sensor simulation: what a sensor + ADC would deliver for a processed 8-bit image.

Datasets such as Fashion-MNIST hold *processed* images: exposed well, tone mapped and
gamma-encoded (sRGB-like) by a camera pipeline. An in-sensor network sees none of that; it reads
the ADC's linear codes straight off the pixel array. :func:`simulate` undoes the processing and
re-captures the image with a simple, standard sensor noise model (EMVA Standard 1288, release 4.0,
"linear camera model"):

1. **Linearise** the pixel code ``p`` (0..255) with the inverse sRGB transfer curve
   (IEC 61966-2-1:1999, section 5.2)::

       v = p / 255
       L = v / 12.92                       if v <= 0.04045
       L = ((v + 0.055) / 1.055) ** 2.4    otherwise

   ``L`` is relative scene irradiance in [0, 1] (1 = the processed image's white).
2. **Expose**: multiply by a per-image exposure factor ``e`` (dimensionless), drawn log-uniformly
   from ``cfg.exposure = [low, high]`` (``log e ~ U(log low, log high)``: every factor of two of
   exposure is equally likely, as with f-stops or integration times). ``e = 1`` puts the processed
   image's white exactly at full well; ``e < 1`` under-exposes, ``e > 1`` saturates highlights.
3. **Photo-electrons**: expected count ``mu = e * L * full_well`` [e-]; the collected count is
   Poisson distributed, ``n ~ Poisson(mu)`` (photon shot noise; EMVA 1288 eq. 3: variance = mean).
4. **Read noise**: add ``r ~ Normal(0, read_noise)`` [e- rms] (the dark/temporal noise
   ``sigma_d`` of EMVA 1288, referred to the input).
5. **ADC**: conversion gain ``K = (2**adc_bits - 1 - black_level) / full_well`` [codes / e-], so
   that full well lands exactly on the top code; ``code = round(black_level + K * (n + r))``
   (round half to even), clipped to ``[0, 2**adc_bits - 1]``. The response is linear: no tone
   curve, no gamma. Tone mapping is left to the learned thermometer.

In ADC codes the temporal noise variance before quantisation is therefore
``K**2 * (mu + read_noise**2)`` (EMVA 1288 eq. 6), plus ``1/12`` code^2 of quantisation noise
when that is well above one code.

**Output scale.** The pipeline's thermometers compare 0..255 pixel codes (uint8), so
:func:`simulate` returns uint8 codes on the 0..255 scale whatever the ADC depth:
:func:`to_pixel_codes` maps ADC code ``c`` to ``round(c * 255 / (2**adc_bits - 1))``. For
``adc_bits <= 8`` this is exact (the 2**adc_bits levels stay distinct, e.g. 4 bits -> multiples of
17). For ``adc_bits > 8`` it re-quantises to 8 bits, so the extra ADC resolution does not reach the
network; :func:`simulate_raw` returns the ADC codes themselves (uint16 for ``adc_bits > 8``).

**Not modelled**: colour filter array / demosaicking, the camera's colour matrix and white
balance (each channel is treated as its own monochrome pixel with the same full well), fixed
pattern noise (DSNU/PRNU), dark current, and the fact that a real camera's tone curve is not
exactly sRGB. The noise is drawn once per image: :func:`simulate_dataset` produces a fixed raw
data set (one capture per image), applied identically to the train and test splits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

__all__ = ["SensorConfig", "srgb_to_linear", "draw_exposures", "sensor_response",
           "simulate_raw", "simulate", "to_pixel_codes", "simulate_dataset"]

MAX_ADC_BITS = 16
# Generator.poisson refuses lam above about 9.2e18; stay far below it.
MAX_ELECTRONS = 1e15
CHUNK = 1 << 20  # pixels per vectorised step: bounds the float64 temporaries to ~8 MB each


@dataclass(frozen=True)
class SensorConfig:
    """The simulated sensor (config section ``data.sensor``). Units in the comments.

    ``exposure`` is a list (not a tuple) so that a YAML ``[low, high]`` maps onto it unchanged."""

    enabled: bool = False
    # [low, high]: per-image exposure factor, drawn log-uniformly; dimensionless, 1 = the processed
    # image's white at full well. low == high gives a fixed exposure.
    exposure: list = field(default_factory=lambda: [1 / 32, 1 / 2])
    full_well: float = 4000.0     # electrons [e-] at the ADC's top code (sets the shot noise)
    read_noise: float = 3.0       # electrons rms [e-], Gaussian, referred to the input
    black_level: int = 0          # ADC codes added as offset (keeps read noise below zero visible)
    adc_bits: int = 8             # ADC bit depth: codes 0 .. 2**adc_bits - 1
    # Seed of the sensor's draws (exposures, shot and read noise). None: the run's seed (so each
    # training seed sees its own captures); an integer: the same captures for every run.
    seed: Optional[int] = None

    def check(self) -> list[str]:
        """Every problem with the values, one message per bad field (named as in the YAML)."""
        errors = []
        exp = self.exposure
        if (not isinstance(exp, (list, tuple)) or len(exp) != 2
                or not all(_is_real(v) for v in exp)):
            errors.append(f"'exposure' must be [low, high] (two numbers), got {exp!r}")
        elif not 0 < exp[0] <= exp[1] or not math.isfinite(exp[1]):
            errors.append(f"'exposure' must satisfy 0 < low <= high (finite), got {list(exp)!r}")
        if not _is_real(self.full_well) or not 0 < self.full_well <= MAX_ELECTRONS:
            errors.append(f"'full_well' must be a number of electrons in (0, {MAX_ELECTRONS:g}], "
                          f"got {self.full_well!r}")
        elif not errors and self.full_well * exp[1] > MAX_ELECTRONS:
            errors.append(f"'full_well' * exposure high = {self.full_well * exp[1]:g} electrons "
                          f"exceeds {MAX_ELECTRONS:g}")
        if not _is_real(self.read_noise) or not 0 <= self.read_noise < math.inf:
            errors.append(f"'read_noise' must be >= 0 electrons rms, got {self.read_noise!r}")
        bits_ok = _is_int(self.adc_bits) and 1 <= self.adc_bits <= MAX_ADC_BITS
        if not bits_ok:
            errors.append(f"'adc_bits' must be an integer in 1..{MAX_ADC_BITS}, "
                          f"got {self.adc_bits!r}")
        if not _is_int(self.black_level) or self.black_level < 0 or (
                bits_ok and self.black_level >= (1 << self.adc_bits) - 1):
            top = f"{(1 << self.adc_bits) - 2}" if bits_ok else "2**adc_bits - 2"
            errors.append(f"'black_level' must be an integer ADC code in 0..{top}, "
                          f"got {self.black_level!r}")
        if not isinstance(self.enabled, bool):
            errors.append(f"'enabled' must be true or false, got {self.enabled!r}")
        if self.seed is not None and not _is_int(self.seed):
            errors.append(f"'seed' must be an integer or null, got {self.seed!r}")
        elif self.seed is not None and self.seed < 0:
            errors.append(f"'seed' must be >= 0, got {self.seed!r}")
        return errors

    def validate(self) -> "SensorConfig":
        """Raise ValueError with every message of :meth:`check` (each names its field)."""
        errors = self.check()
        if errors:
            raise ValueError("data.sensor: " + "; ".join(errors))
        return self

    @property
    def max_code(self) -> int:
        """The ADC's top code, ``2**adc_bits - 1``."""
        return (1 << self.adc_bits) - 1

    @property
    def gain(self) -> float:
        """Conversion gain K [ADC codes per electron]: full well maps onto the top code."""
        return (self.max_code - self.black_level) / self.full_well


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# Inverse sRGB transfer curve for the 256 8-bit codes (IEC 61966-2-1:1999, section 5.2).
def srgb_to_linear(pixel_codes) -> np.ndarray:
    """Relative linear intensity in [0, 1] of 8-bit sRGB codes (any real values in 0..255).

    IEC 61966-2-1: ``v = p/255``; ``L = v/12.92`` for ``v <= 0.04045``, else
    ``((v + 0.055)/1.055)**2.4``."""
    v = np.asarray(pixel_codes, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)


_LINEAR_LUT = srgb_to_linear(np.arange(256))


def draw_exposures(n: int, cfg: SensorConfig, rng: np.random.Generator) -> np.ndarray:
    """``n`` exposure factors, log-uniform over ``cfg.exposure``: ``exp(U(log low, log high))``.

    Draws nothing from ``rng`` when low == high."""
    lo, hi = (float(v) for v in cfg.exposure)
    if lo == hi:
        return np.full(n, lo)
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def sensor_response(pixel_codes, exposure, cfg: SensorConfig, *, raw: bool = False) -> np.ndarray:
    """Noiseless ADC output as a function of the processed pixel code (0..255), float64.

    ``clip(black_level + K * exposure * L(p) * full_well, 0, 2**adc_bits - 1)`` with ``L`` the
    inverse sRGB curve and ``K`` the conversion gain: the sensor's tone curve, not rounded.
    ``pixel_codes`` and ``exposure`` broadcast against each other. By default the result is on the
    pipeline's 0..255 scale (as :func:`simulate` returns, i.e. multiplied by
    ``255 / (2**adc_bits - 1)``); ``raw=True`` gives ADC codes. With noise, the mean output
    differs from this only near the clipping limits (and by rounding)."""
    expected = cfg.black_level + cfg.gain * np.asarray(exposure, np.float64) \
        * srgb_to_linear(pixel_codes) * cfg.full_well
    expected = np.clip(expected, 0.0, cfg.max_code)
    return expected if raw else expected * (255.0 / cfg.max_code)


def simulate_raw(images: np.ndarray, cfg: SensorConfig, rng: np.random.Generator,
                 exposures: Optional[np.ndarray] = None) -> np.ndarray:
    """ADC codes a raw sensor would deliver for processed uint8 images (axis 0 = images).

    Returns the same shape, uint8 when ``adc_bits <= 8`` else uint16, codes in
    ``0 .. 2**adc_bits - 1``. ``exposures`` (one factor per image) overrides the draw from
    ``cfg.exposure``. Uses ``rng`` in this order: exposures (unless given or fixed), then per chunk
    of pixels the Poisson shot noise and the Gaussian read noise (skipped when read_noise is 0).
    The same generator state and input give the same output."""
    cfg.validate()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 1:
        raise ValueError(f"images must be uint8[N, ...] processed pixel codes, got "
                         f"{images.dtype}{list(images.shape)}")
    n = len(images)
    if exposures is None:
        exposures = draw_exposures(n, cfg, rng)
    exposures = np.asarray(exposures, np.float64)
    if exposures.shape != (n,) or not np.all(exposures > 0) or not np.all(np.isfinite(exposures)):
        raise ValueError(f"exposures must be {n} positive finite factors, got shape "
                         f"{list(exposures.shape)}")
    if n and float(exposures.max()) * cfg.full_well > MAX_ELECTRONS:
        raise ValueError(f"exposure * full_well exceeds {MAX_ELECTRONS:g} electrons")

    per_image = math.prod(images.shape[1:])
    flat = images.reshape(n, per_image)
    out = np.empty(flat.shape, np.uint8 if cfg.adc_bits <= 8 else np.uint16)
    if per_image == 0:
        return out.reshape(images.shape)
    # electrons per unit linear intensity, per image
    scale = exposures * cfg.full_well
    rows = max(1, CHUNK // per_image)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        mu = _LINEAR_LUT[flat[start:stop]] * scale[start:stop, None]   # expected e-
        electrons = rng.poisson(mu).astype(np.float64)                 # shot noise
        if cfg.read_noise > 0:
            electrons += rng.normal(0.0, cfg.read_noise, mu.shape)     # read noise
        codes = np.rint(cfg.black_level + cfg.gain * electrons)
        np.clip(codes, 0, cfg.max_code, out=codes)
        out[start:stop] = codes
    return out.reshape(images.shape)


def to_pixel_codes(codes: np.ndarray, adc_bits: int) -> np.ndarray:
    """ADC codes (0 .. 2**adc_bits - 1) onto the pipeline's uint8 0..255 scale.

    ``round(c * 255 / (2**adc_bits - 1))``, halves rounded up, in exact integer arithmetic.
    Identity for 8 bits; injective for fewer bits."""
    top = (1 << adc_bits) - 1
    if adc_bits == 8:
        return np.asarray(codes).astype(np.uint8, copy=False)
    c = np.asarray(codes).astype(np.int64)
    return ((2 * 255 * c + top) // (2 * top)).astype(np.uint8)


def simulate(images: np.ndarray, cfg: SensorConfig, rng: np.random.Generator,
             exposures: Optional[np.ndarray] = None) -> np.ndarray:
    """Raw-sensor version of processed uint8 images, as uint8 0..255 codes of the same shape.

    :func:`simulate_raw` followed by :func:`to_pixel_codes` (see the module docstring for the
    model and the scale). Does not look at ``cfg.enabled``: the caller decides whether to apply
    it."""
    return to_pixel_codes(simulate_raw(images, cfg, rng, exposures), cfg.adc_bits)


def simulate_dataset(dataset, cfg: SensorConfig, run_seed: int = 0):
    """The Dataset with both splits replaced by their raw-sensor captures; unchanged when
    ``cfg.enabled`` is false.

    Train and test get independent streams ``np.random.default_rng([seed, 0])`` and
    ``default_rng([seed, 1])`` with ``seed = cfg.seed`` if set, else ``run_seed``: the test
    split's captures do not depend on the training-set size."""
    if not cfg.enabled:
        return dataset
    seed = run_seed if cfg.seed is None else cfg.seed
    train = simulate(dataset.train_images, cfg, np.random.default_rng([seed, 0]))
    test = simulate(dataset.test_images, cfg, np.random.default_rng([seed, 1]))
    return replace(dataset, train_images=train, test_images=test)
