"""bench/m55_vs_m4.py without QEMU: its cases, the per-layer comparison and its flags."""
import pytest

from bench import BenchError
from bench import m55_vs_m4 as M
from pipeline import random_ir
from pipeline.ops.bconv2d import fast_path
from pipeline.targets import HELIUM, THUMB2

M4, M55 = M.M4_BOARD, M.M55_BOARD


def _counts(model, values):
    return [{"index": i, "name": layer.name, "kind": layer.kind, "instructions": v}
            for i, (layer, v) in enumerate(zip(model.layers, values))]


def _paths(model, name):
    return [{"index": i, "name": layer.name, "kind": layer.kind, "path": name}
            for i, layer in enumerate(model.layers)]


def test_fixed_cases_hold_the_issues_geometries():
    cases = dict(M.fixed_cases())
    conv = next(l for l in cases["issue_conv_g5x7_k7"].layers if l.name == "conv_g5x7_7x7")
    assert (conv.groups, conv.in_shape[2] // conv.groups, conv.kernel) == (5, 7, (7, 7))
    dense = [l for l in cases["issue_dense_pg2"].layers if l.kind == "bdense"]
    assert dense and all(l.in_pack_groups == 2 for l in dense)


def test_flags_exactly_the_layers_with_more_instructions_on_m55():
    model = random_ir.random_model(1000)
    n = len(model.layers)
    m4 = [1000] * n
    m55 = [900] * n
    m55[1], m55[-1] = 1001, 1000  # one more instruction: slower; equal: not slower
    rows = M.compare_layers("c", model, {M4: _counts(model, m4), M55: _counts(model, m55)},
                            {M4: _paths(model, "rows"), M55: _paths(model, "mve")})
    assert [r["slower"] for r in rows] == [i == 1 for i in range(n)]
    assert rows[1]["ratio"] == 1.001 and rows[1]["path_m4"] == "rows"
    assert rows[1]["path_m55"] == "mve" and rows[1]["kind"] == model.layers[1].kind
    summary = M.summarise(rows)
    assert summary["layers"] == n and summary["slower"] == 1
    assert [s["name"] for s in summary["slower_layers"]] == [model.layers[1].name]
    assert sum(g["slower"] for g in summary["by_path"].values()) == 1
    assert summary["m55_total"] == sum(m55)


def test_a_missing_or_mislabelled_layer_record_is_an_error():
    model = random_ir.random_model(1000)
    n = len(model.layers)
    good = _counts(model, [5] * n)
    paths = {M4: _paths(model, None), M55: _paths(model, None)}
    with pytest.raises(BenchError, match="layer records"):
        M.compare_layers("c", model, {M4: good, M55: good[:-1]}, paths)
    wrong = [dict(r, kind="bshuffle") if r["index"] == 0 else r for r in good]
    with pytest.raises(BenchError, match="layer 0"):
        M.compare_layers("c", model, {M4: good, M55: wrong}, paths)


def test_geometry_text_names_groups_kernel_and_packing():
    cases = dict(M.fixed_cases())
    conv = next(l for l in cases["issue_conv_g5x7_k7"].layers if l.name == "conv_g5x7_7x7")
    assert M.geometry_text("bconv2d", M.layer_geometry(conv)) == \
        "11x11x35 g5 (cg 7) 7x7 s1 p0 -> 35"
    dense = cases["issue_dense_pg2"].layers[-1]
    assert M.geometry_text("bdense", M.layer_geometry(dense)) == "1x1x32 pg2 -> 10 (logits)"


def test_scalar_bitsliced_is_not_chosen_on_helium():
    """The geometry the benchmark found slower on M55 (scalar bitsliced on both boards) now
    takes the mve path on Helium builds and keeps bitsliced elsewhere."""
    conv = random_ir.random_bconv2d(random_ir.np.random.default_rng(0), (14, 11, 24), 18, 1,
                                    2, 0, 3)
    assert fast_path(conv, THUMB2) == "bitsliced"
    assert fast_path(conv, HELIUM) == "mve"
