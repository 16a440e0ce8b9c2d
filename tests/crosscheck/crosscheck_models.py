"""Models and images shared by the crosscheck tests (all seeded)."""
import numpy as np

from pipeline import ir, ops
from pipeline import random_ir as R

# 24 random IRs: the generator's own draws, plus a few forced onto the rarer settings.
RANDOM_CASES = [(seed, {}) for seed in range(18)] + [
    (100, {"mode": "base2"}), (101, {"mode": "base2", "in_channels": 3}),
    (102, {"in_channels": 3, "planes": 16}), (103, {"maxpool": True, "conv_layers": 3}),
    (104, {"hidden_dense": 0, "classes": 2}), (105, {"planes": 1, "hidden_dense": 33}),
]
IMAGES_PER_MODEL = 64
# Every registered layer kind, two random models each (pipeline.random_ir.model_with).
KIND_CASES = [(kind, seed) for kind in ops.kinds() for seed in range(2)]


def kind_case(kind, seed):
    model = R.model_with(seed, kind)
    assert kind in [layer.kind for layer in model.layers]
    return model, R.random_images(seed, IMAGES_PER_MODEL, model.input_shape)


def random_case(seed, overrides):
    model = R.random_model(seed, **overrides)
    return model, R.random_images(seed, IMAGES_PER_MODEL, model.input_shape)


def boundary_model():
    """Thresholds at the ends of the pixel range (0: always +1, 256: never) and in between."""
    rng = np.random.default_rng(7)
    thermo = ir.Thermometer("thermo", (16, 16, 1), 5, "thresholds",
                            np.array([[0, 1, 128, 255, 256]], np.int32))
    conv = R.random_bconv2d(rng, thermo.out_shape, 6, 3, 1, 1, 1)
    out = R.random_bdense(rng, conv.out_shape, 4, output=True)
    return ir.Model((thermo, conv, out)).validate()


def every_pixel_value_images(shape=(16, 16, 1)):
    """Images holding every uint8 value, so every threshold is met with equality somewhere."""
    base = np.arange(256, dtype=np.uint8).reshape(shape)
    return np.stack([base, base[::-1], base.transpose(1, 0, 2), 255 - base]).astype(np.uint8)


def lce_native_model():
    """Shapes LCE runs natively: 'same' one-padding (stride 1 and 2), groups with 32 input
    channels per group, a hidden and an output dense."""
    rng = np.random.default_rng(11)
    layers = [R.random_thermometer(rng, (9, 9, 2), 16)]  # 32 channels
    layers.append(R.random_bconv2d(rng, layers[-1].out_shape, 64, 3, 1, 1, 1, "conv1"))
    layers.append(R.random_bconv2d(rng, layers[-1].out_shape, 64, 3, 1, 1, 2, "conv2"))
    layers.append(R.random_bconv2d(rng, layers[-1].out_shape, 32, 3, 2, 1, 2, "conv3"))
    layers.append(R.random_bdense(rng, layers[-1].out_shape, 24, output=False, name="dense1"))
    layers.append(R.random_bdense(rng, layers[-1].out_shape, 10, output=True, name="logits"))
    return ir.Model(tuple(layers)).validate()
