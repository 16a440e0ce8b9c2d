"""Tiny training runs shared by the train layer (each takes seconds on 2 cores)."""
import pytest

from train_helpers import TINY


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory):
    """configs/tiny.yaml trained once: GLT, grouped convs, teacher, distillation, pruning."""
    from pipeline.config import load_config
    from pipeline.train import train
    out = tmp_path_factory.mktemp("tiny")
    return train(load_config(TINY), out), out
