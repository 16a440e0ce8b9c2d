"""Configs: every shipped file loads; unknown keys and bad values are named errors."""
from pathlib import Path

import pytest

from pipeline.config import Config, ConfigError, config_from_dict, load_config
from pipeline.errors import PipelineError

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
REQUIRED = {"fashion_glt", "fashion_glt_full", "fashion_uniform", "fashion_base2", "tiny",
            "stl10_glt", "vww_glt"}


def test_required_configs_exist():
    assert REQUIRED <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name == path.stem
    assert cfg.deploy.vectors >= 1


def test_comparison_configs_share_planes_and_topology():
    glt, uni, b2 = (load_config(CONFIGS[0].parent / f"fashion_{k}.yaml")
                    for k in ("glt", "uniform", "base2"))
    assert glt.model.encoding.planes == uni.model.encoding.planes == b2.model.encoding.planes
    assert glt.model.layers == uni.model.layers == b2.model.layers
    assert (uni.model.encoding.kind, b2.model.encoding.kind) == ("uniform", "base2")


def test_unknown_top_level_key_names_key_and_allowed(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: 1\ntrian: {epochs: 2}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert "'trian'" in msg and "train" in msg and "prune" in msg
    assert isinstance(exc.value, PipelineError)


def test_unknown_nested_key_names_its_path():
    with pytest.raises(ConfigError, match=r"'model\.encoding\.plane'.*planes"):
        config_from_dict({"model": {"encoding": {"plane": 4}}})


def test_unknown_layer_key():
    with pytest.raises(ConfigError, match=r"'group'.*groups"):
        config_from_dict({"model": {"layers": [{"conv": 8, "group": 2}]}})


@pytest.mark.parametrize("doc, pattern", [
    ({"train": {"epochs": "three"}}, "train.epochs"),
    ({"model": {"encoding": {"kind": "gray"}}}, "glt, uniform, base2, quantile"),
    ({"model": {"encoding": {"kind": "base2", "planes": 9}}}, "planes"),
    ({"prune": {"min_keep": 0}}, "min_keep"),
    ({"model": {"layers": [{"conv": 8, "pool": 2}]}}, "exactly one"),
    ({"data": {"augment": {"gamma": [2.0, 1.0]}}}, "gamma"),
])
def test_bad_values_are_config_errors(doc, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(doc)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config"):
        load_config(tmp_path / "nope.yaml")


def test_defaults_and_budget():
    cfg = config_from_dict({})
    assert cfg.prune.budget_bits == 1_000_000
    assert cfg.deploy.vectors == 20
