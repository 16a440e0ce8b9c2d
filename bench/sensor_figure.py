"""Draw docs/img/sensor_samples.png: Fashion-MNIST test images before and after the raw-sensor
simulation (pipeline.data.sensor) at a few exposures, and the sensor's response curves.

    python -m bench.sensor_figure [--data /usr/share/datasets/fashion-mnist]
                                  [--out docs/img/sensor_samples.png] [--seed 0]

Uses the default SensorConfig (4000 e- full well, 3 e- read noise, 8-bit ADC, no black level)
with the exposure fixed per row. Deterministic for a given seed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/sensor_figure.py`
    sys.path.insert(0, str(ROOT))

from pipeline.data import fashion_mnist  # noqa: E402
from pipeline.data.sensor import SensorConfig, sensor_response, simulate  # noqa: E402

EXPOSURES = (1 / 2, 1 / 8, 1 / 32)
DISPLAY_GAIN = 8  # last row: the 1/32 capture brightened for display only, to show its noise
COLUMNS = 8


def samples(images: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """The first test image of each of the first ``n`` classes."""
    return np.stack([images[np.flatnonzero(labels == c)[0]] for c in range(n)])


def draw(data: Path, out: Path, seed: int) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = fashion_mnist.load(data)
    x = samples(ds.test_images, ds.test_labels, COLUMNS)
    base = SensorConfig(enabled=True)
    rows = [("processed\n(dataset)", x[..., 0])]
    for i, e in enumerate(EXPOSURES):
        cfg = SensorConfig(enabled=True, exposure=[e, e])
        raw = simulate(x, cfg, np.random.default_rng([seed, i]))
        rows.append((f"raw, exposure\n1/{round(1 / e)}", raw[..., 0]))
    rows.append((f"raw 1/{round(1 / EXPOSURES[-1])},\nshown x{DISPLAY_GAIN}",
                 np.minimum(rows[-1][1].astype(np.int32) * DISPLAY_GAIN, 255)))

    fig = plt.figure(figsize=(10.5, 5.2), dpi=90)
    grid = fig.add_gridspec(len(rows), COLUMNS + 5, wspace=0.05, hspace=0.12)
    for r, (title, imgs) in enumerate(rows):
        for c in range(COLUMNS):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(imgs[c], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(title, fontsize=8)
            if r == 0:
                ax.set_title(ds.classes[c], fontsize=8)
    ax = fig.add_subplot(grid[:, COLUMNS + 1:])
    p = np.arange(256)
    ax.plot(p, p, color="0.6", ls="--", lw=1, label="processed (identity)")
    for e in (1.0,) + EXPOSURES:
        ax.plot(p, sensor_response(p, e, base), lw=1.5, label=f"exposure 1/{round(1 / e)}"
                if e < 1 else "exposure 1")
    ax.set_xlim(0, 255)
    ax.set_ylim(0, 260)
    ax.set_xlabel("processed pixel code (sRGB)")
    ax.set_ylabel("raw ADC code (8-bit, noiseless)")
    ax.set_title("sensor response\n(linear light, no tone curve)", fontsize=9)
    ax.yaxis.set_label_position("right")
    ax.yaxis.tick_right()
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.suptitle(f"Raw-sensor simulation: full well {base.full_well:g} e-, read noise "
                 f"{base.read_noise:g} e- rms, {base.adc_bits}-bit ADC, black level "
                 f"{base.black_level}\n(all image rows on the same 0..255 display scale except "
                 f"the last)", fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sensor_figure",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "sensor_samples.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = draw(args.data, args.out, args.seed)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
