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


# configs/zoo/ (the zoo models' training configs) and configs/experiments/ (docs/training.md)
NESTED = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*/*.yaml"))


@pytest.mark.parametrize("path", NESTED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_nested_config_loads(path):
    assert load_config(path).name == path.stem


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


# --- everything knowable is checked when the config loads (issue: after training) ---------------

@pytest.mark.parametrize("layers, pattern", [
    ([{"conv": 30, "groups": 4}], r"layers\[0\].*cannot be split into 4 groups"),
    ([{"conv": 16, "kernel": 40}], r"layers\[0\].*leaves no pixels"),
    ([{"pool": 2}] * 5, r"layers\[4\].*leaves no pixels"),
    ([{"conv": 8}, {"conv": 12, "groups": 8}], r"layers\[1\].*groups"),
])
def test_architecture_errors_are_config_errors_at_load(tmp_path, layers, pattern):
    import yaml
    p = tmp_path / "arch.yaml"
    p.write_text(yaml.safe_dump({"model": {"layers": layers}}))
    with pytest.raises(ConfigError, match=pattern) as exc:
        load_config(p)
    assert str(exc.value).startswith(f"{p}:")  # file:line:column of the layer


def test_folder_dataset_without_default_topology_needs_layers(tmp_path):
    with pytest.raises(ConfigError, match="no default topology for input 40x40x3"):
        config_from_dict({"data": {"dataset": "folder", "path": str(tmp_path), "image_size": 40}})


@pytest.mark.parametrize("doc, pattern", [
    ({"data": {"train_limit": -5}}, r"'data\.train_limit' must be >= 1, got -5"),
    ({"data": {"test_limit": 0}}, r"'data\.test_limit' must be >= 1"),
    ({"train": {"threads": -1}}, r"'train\.threads' must be in \[1, 1024\], got -1"),
    ({"train": {"epochs": 0}}, r"'train\.epochs'"),
    ({"distill": {"alpha": 1.5}}, r"'distill\.alpha' must be in \[0, 1\]"),
    ({"prune": {"budget_bits": 0}}, r"'prune\.budget_bits'"),
    ({"seed": 1.5}, r"'seed' must be integer"),
    ({"deploy": {"vectors": 0}}, r"'deploy\.vectors'"),
])
def test_out_of_range_values_are_rejected(doc, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(doc)


def test_yaml_syntax_error_is_one_line_with_position(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("seed: 0\ntrain: {epochs: 2\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert len(msg.splitlines()) == 1
    assert msg.startswith(f"{p}:3:5: YAML syntax error")


def test_value_errors_point_at_their_line(tmp_path):
    p = tmp_path / "range.yaml"
    p.write_text("seed: 0\ndata:\n  dataset: fashion_mnist\n  train_limit: -5\n")
    with pytest.raises(ConfigError, match=rf"^{p}:4:16: 'data\.train_limit'"):
        load_config(p)


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".hidden", "", "x" * 65, "a b"])
def test_names_that_become_paths_are_one_component(name):
    with pytest.raises(ConfigError, match="one path component"):
        config_from_dict({"name": name})


def test_unreachable_bit_budget_fails_at_load():
    with pytest.raises(ConfigError, match=r"budget_bits' 1,000 cannot be reached.*min_keep"):
        config_from_dict({"prune": {"budget_bits": 1000}})
    # the bound is a true lower bound: the tiny config's own budget still loads
    load_config(Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml")
    config_from_dict({"prune": {"budget_bits": 1000, "enabled": False}})


@pytest.mark.parametrize("doc, pattern", [
    ({"model": {"encoding": {"temperature": ["a", "b"]}}}, r"temperature\[0\]' must be number"),
    ({"model": {"encoding": {"temperature": [1.0]}}}, r"temperature"),
    ({"data": {"augment": {"gamma": ["a", "b"]}}}, r"gamma\[0\]' must be number"),
    ({"prune": {"at_epochs": [1, "x"], "steps": 2}}, r"at_epochs\[1\]' must be integer"),
    ({"data": {"test_fraction": float("nan")}}, r"'data\.test_fraction' must be a finite number"),
    ({"prune": {"min_keep": float("nan")}}, r"'prune\.min_keep' must be a finite number"),
    ({"model": {"encoding": {"temperature": [float("inf"), 1.0]}}}, r"finite"),
    ({"model": {"layers": [{"dense": 10 ** 13}]}}, r"'dense' must be an integer in \[1, 65536\]"),
    ({"model": {"layers": [{"conv": 3_000_000_000, "kernel": 1}]}}, r"'conv' must be an integer"),
    ({"model": {"layers": [{"conv": 8, "padding": 10 ** 11}]}, "prune": {"enabled": False}},
     r"'padding' must be an integer in \[0, 65536\]"),
])
def test_list_items_non_finite_numbers_and_huge_layers_are_config_errors(doc, pattern):
    """Found in review: these were raw TypeErrors, MemoryErrors, or accepted."""
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(doc)
