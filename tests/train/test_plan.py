"""The training plan: where pruning steps and fine-tuning chunks go."""
import pytest

from pipeline.config import ConfigError
from pipeline.train import _plan

from train_helpers import tiny_config


def test_pruning_after_training_with_finetune_chunks():
    cfg = tiny_config("p", train={"epochs": 2}, prune={"steps": 2, "finetune_epochs": 1.5})
    assert _plan(cfg) == [("student", 0), ("student", 1),
                          ("prune", 0), ("finetune", 0, 0), ("finetune", 0, 1),
                          ("prune", 1), ("finetune", 1, 0), ("finetune", 1, 1)]


def test_pruning_between_epochs():
    cfg = tiny_config("p", train={"epochs": 3},
                      prune={"steps": 2, "at_epochs": [1, 2], "finetune_epochs": 0})
    assert _plan(cfg) == [("student", 0), ("prune", 0), ("student", 1), ("prune", 1),
                          ("student", 2)]


def test_no_pruning_when_disabled():
    cfg = tiny_config("p", prune={"enabled": False})
    assert [u[0] for u in _plan(cfg)] == ["student"]


def test_at_epochs_must_match_steps():
    with pytest.raises(ConfigError, match="at_epochs"):
        tiny_config("p", prune={"steps": 3, "at_epochs": [1]})
