"""Presets: the shipped files, validation, checks on synthetic stores, and each phenomenon's
direction on the quick size (steps reduced where the effect is at initialisation)."""

import dataclasses
import math

import numpy as np
import pytest

from resnet_viz.config import ConfigError
from resnet_viz.metrics.records import EvalRecord, LayerInfoRecord, RunStarted
from resnet_viz.metrics.store import RunStore
from resnet_viz.presets import Check, PresetError, load_presets, preset_from_dict
from resnet_viz.presets.measures import METRICS, evaluate_check, measure
from resnet_viz.presets.preset import PLOTS, merge
from resnet_viz.presets.runner import PresetRunner, adapt_runs

ISSUE_PRESETS = [
    "degradation",
    "residual",
    "init",
    "vanishing",
    "shortcuts",
    "after-add",
    "batchnorm",
    "optimisers",
    "landscape",
]


@pytest.fixture(scope="module")
def presets():
    return load_presets()


def test_the_presets_ship_in_order_with_both_sizes(presets):
    assert list(presets) == ISSUE_PRESETS
    for p in presets.values():
        assert set(p.sizes) == {"quick", "paper"}
        assert p.title and p.formula and p.explanation and p.look_for and p.paper
        assert p.plots and set(p.plots) <= set(PLOTS)
        quick, paper = p.runs("quick"), p.runs("paper")
        assert [r.name for r in quick] == [r.name for r in paper]
        assert "quick" in p.sizes["quick"].note.lower() and p.sizes["quick"].minutes <= 10
        for r in quick:
            assert r.config.data.dataset == "embedded", (p.name, r.name)
        for r in paper:
            assert r.config.data.dataset == "cifar10", (p.name, r.name)


def test_paper_sizes_use_the_papers_depths_and_schedule(presets):
    deg = {r.name: r.config for r in presets["residual"].runs("paper")}
    assert [(c.model.arch, c.model.depth) for c in deg.values()] == [
        ("plain", 20),
        ("plain", 56),
        ("resnet", 20),
        ("resnet", 56),
    ]
    for c in deg.values():
        assert (c.model.resolved().width, c.train.batch_size, c.train.steps) == (16, 128, 64000)
        assert (c.optim.lr, c.optim.momentum, c.optim.weight_decay) == (0.1, 0.9, 1e-4)
        assert (c.optim.schedule, c.optim.milestones, c.optim.gamma) == ("step", (0.5, 0.75), 0.1)
    short = {r.name: r.config.model for r in presets["shortcuts"].runs("paper")}
    assert {m.depth for m in short.values()} == {110}
    assert [m.shortcut_variant for m in short.values()] == [
        "identity",
        "scale",
        "exclusive_gate",
        "shortcut_gate",
        "conv1x1",
        "dropout",
    ]
    after = {r.name: r.config.model.resolved() for r in presets["after-add"].runs("paper")}
    assert [(m.depth, m.block, m.after_add, m.shortcut) for m in after.values()] == [
        (164, "bottleneck", "relu", "B"),
        (164, "bottleneck", "bn_relu", "B"),
        (164, "preact_bottleneck", "none", "B"),
    ]


def test_the_landscape_preset_is_plain56_against_resnet56_with_the_papers_grid(presets):
    p = presets["landscape"]
    paper = {r.name: r.config for r in p.runs("paper")}
    assert [(c.model.arch, c.model.depth, c.model.resolved().width) for c in paper.values()] == [
        ("plain", 56, 16),
        ("resnet", 56, 16),
    ]
    assert all(c.train.snapshots >= 2 for c in paper.values())  # every run keeps its path
    assert p.landscape.spec_fields("paper") == {
        "directions": "random",
        "grid": 51,
        "range": (-1.0, 1.0),
        "samples": 50000,
    }
    assert p.landscape.spec_fields("quick")["grid"] < 51
    pub = {(q.run, q.metric): q.number for q in p.published if q.run}
    assert pub == {("resnet-56", "final_test_error"): 0.0697}
    assert any("Li et al. 2018" in q.source for q in p.published)


@pytest.mark.parametrize(
    "landscape, message",
    [
        ([], "'landscape' must be an object"),
        ({"huge": {}}, "landscape size 'huge' is not one of quick, paper"),
        ({"quick": {"grid": "11"}}, "landscape.quick.grid must be int"),
        ({"quick": {"gird": 11}}, "landscape.quick.gird is unknown"),
        ({"quick": {"range": [1]}}, "landscape.quick.range must be [low, high]"),
    ],
)
def test_a_bad_landscape_setup_is_one_line_naming_the_key(presets, landscape, message):
    data = dict(presets["degradation"].raw, landscape=landscape)
    with pytest.raises(PresetError) as err:
        preset_from_dict(data, "mine.json")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_published_numbers_are_the_papers(presets):
    pub = {(p.run, p.metric): p.number for p in presets["residual"].published if p.run}
    assert pub == {("resnet-20", "final_test_error"): 0.0875, ("resnet-56", "final_test_error"): 0.0697}
    short = {p.run: p.value for p in presets["shortcuts"].published}
    assert short == {
        "identity": "6.61%",
        "scale-0.5": "12.35%",
        "exclusive-gate": "8.70%",
        "shortcut-gate": "12.86%",
        "conv1x1": "12.22%",
        "dropout": "> 20%",
    }


MINIMAL = {
    "name": "t",
    "title": "T",
    "runs": [{"name": "a", "config": {"model": {"depth": 8}}}, {"name": "b", "config": {"model": {"depth": 14}}}],
    "base": {"model": {"arch": "plain", "width": 4}},
    "sizes": {"quick": {"config": {"train": {"steps": 5}}, "runs": {"b": {"model": {"width": 6}}}}},
}


def test_a_runs_config_is_base_then_size_then_run_then_size_entry():
    p = preset_from_dict(MINIMAL)
    a, b = p.runs("quick")
    assert (a.config.model.arch, a.config.model.depth, a.config.model.width, a.config.train.steps) == ("plain", 8, 4, 5)
    assert (b.config.model.depth, b.config.model.width) == (14, 6)
    assert merge({"x": {"y": 1, "z": 2}}, {"x": {"y": 3}}) == {"x": {"y": 3, "z": 2}}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["runs"][0]["config"]["model"].update(depth=9), "model.depth = 9"),
        (lambda d: d["sizes"].update(huge={}), "size 'huge'"),
        (lambda d: d.update(plots=["error", "nope"]), "plot 'nope'"),
        (
            lambda d: d.update(
                checks=[
                    {
                        "claim": "c",
                        "left": ["a", "final_train_error"],
                        "relation": "!=",
                        "right": ["b", "final_train_error"],
                    }
                ]
            ),
            "relation '!='",
        ),
        (
            lambda d: d.update(
                checks=[
                    {
                        "claim": "c",
                        "left": ["zz", "final_train_error"],
                        "relation": "<",
                        "right": ["b", "final_train_error"],
                    }
                ]
            ),
            "unknown run 'zz'",
        ),
        (
            lambda d: d.update(
                checks=[{"claim": "c", "left": ["a", "speed"], "relation": "<", "right": ["b", "final_train_error"]}]
            ),
            "unknown metric 'speed'",
        ),
        (lambda d: d["sizes"]["quick"]["runs"].update(c={}), "unknown runs ['c']"),
        (lambda d: d.update(runs=[{"name": "a"}, {"name": "a"}]), "distinct names"),
    ],
)
def test_a_bad_preset_names_the_file_and_the_field(change, message):
    import copy

    data = copy.deepcopy(MINIMAL)
    change(data)
    with pytest.raises(PresetError) as err:
        preset_from_dict(data, source="t.json")
    assert "t.json" in str(err.value) and message in str(err.value)


def _store(errors=(), act_std=(1.0,), grad=(1.0,), out_grad=(1.0,), stages=None, roles=None):
    n = len(grad)
    store = RunStore()
    layers = LayerInfoRecord(
        names=[f"l{i}" for i in range(n)],
        kinds=["linear"] * n,
        roles=list(roles) if roles else ["hidden"] * n,
        stages=np.array(stages if stages is not None else range(n)),
        blocks=-np.ones(n, dtype=np.int64),
        fan_in=np.ones(n, dtype=np.int64),
        params=np.ones(n, dtype=np.int64),
    )
    z = np.zeros(n)
    store.add(
        RunStarted(
            label="x",
            config={},
            resolved={},
            device="cpu",
            versions={},
            layers=layers,
            params=1,
            total_steps=1,
            act_mean_init=z,
            act_std_init=np.array(act_std, float),
            out_grad_norm_init=np.array(out_grad, float),
            grad_norm_init=np.array(grad, float),
            theory_act_std_init=z,
        )
    )
    for step, (train, test) in enumerate(errors, 1):
        store.add(EvalRecord(step=step, train_error=train, train_loss=1.0, test_error=test, test_loss=1.0))
    return store


def test_metrics_read_the_right_numbers():
    s = _store(
        errors=[(0.5, 0.6), (0.2, 0.3)],
        act_std=(1.0, 0.5, 0.1),
        grad=(1e-6, 1e-3, 2.0),
        out_grad=(4.0, 2.0, 1.0),
        stages=(0, 1, 2),
        roles=("stem", "branch", "head"),
    )
    assert measure(s, "final_train_error") == 0.2 and measure(s, "final_test_error") == 0.3
    assert measure(s, "best_test_error") == 0.3
    assert measure(s, "act_var_last_init") == pytest.approx(0.01)
    assert measure(s, "grad_norm_first_init") == 1e-6 and measure(s, "grad_norm_last_init") == 2.0
    assert measure(s, "grad_norm_early_init") == pytest.approx(math.sqrt(1e-6 * 1e-3))  # stages 0 and 1
    assert measure(s, "out_grad_first_init") == 4.0 and measure(s, "out_grad_last_init") == 1.0
    mlp = _store(grad=(1e-6, 1e-3, 2.0), stages=(0, 1, 2))
    assert measure(mlp, "grad_norm_early_init") == pytest.approx(1e-6)  # no stem: the first layer
    assert measure(s, "grad_norm_first_live") is None  # no probed steps recorded
    assert measure(RunStore(), "final_train_error") is None
    assert set(METRICS) >= {"final_train_error", "act_var_last_init", "grad_norm_early_init", "out_grad_first_live"}


def test_checks_compare_with_factor_and_margin():
    stores = {"a": _store(errors=[(0.30, 0.3)]), "b": _store(errors=[(0.29, 0.3)])}
    c = Check("a at or below b", ("a", "final_train_error"), "<=", ("b", "final_train_error"))
    assert evaluate_check(c, stores).held is False
    r = evaluate_check(dataclasses.replace(c, margin=0.02), stores)
    assert r.held is True and "+ 2.0 points" in r.describe() and "30.00%" in r.describe()
    far = Check("far below", ("a", "grad_norm_first_init"), "<", ("b", "grad_norm_first_init"), factor=0.01)
    stores = {"a": _store(grad=(1e-3,)), "b": _store(grad=(1.0,))}
    assert evaluate_check(far, stores).held is True
    stores["a"] = _store(grad=(0.02,))
    assert evaluate_check(far, stores).held is False
    assert evaluate_check(far, {"b": stores["b"]}).held is None  # a run missing: not measured


def test_adapt_runs_overrides_steps_dataset_and_validates(presets):
    runs = presets["degradation"].runs("quick")
    quick = runs[0].config
    short = adapt_runs(runs, steps=60, dataset="cifar10", device="cpu")
    c = short[0].config
    assert (c.train.steps, c.data.dataset, c.train.device) == (60, "cifar10", "cpu")
    n_evals = quick.train.steps // quick.train.eval_every
    assert c.train.eval_every == 60 // n_evals
    assert c.optim.warmup_steps == round(quick.optim.warmup_steps * 60 / quick.train.steps)
    with pytest.raises(ConfigError, match="data.dataset"):
        adapt_runs(runs, dataset="imagenet")
    by_epochs = presets["optimisers"].runs("paper")[0].config  # 30 epochs, evaluation every 500 steps
    (short,) = adapt_runs([presets["optimisers"].runs("paper")[0]], steps=50)
    assert by_epochs.train.epochs == 30 and by_epochs.train.steps is None
    assert (short.config.train.steps, short.config.train.epochs, short.config.train.eval_every) == (50, None, 50)


def _run(preset, names, steps=1, eval_train_samples=200):
    """The quick size's runs named ``names``, shortened to ``steps`` with one evaluation at the end."""
    runs = [r for r in adapt_runs(preset.runs("quick"), steps=steps) if r.name in names]
    runs = [
        dataclasses.replace(
            r,
            config=dataclasses.replace(
                r.config,
                train=dataclasses.replace(r.config.train, eval_train_samples=eval_train_samples, eval_every=steps),
            ),
        )
        for r in runs
    ]
    return PresetRunner(preset, "quick", runs).run()


def test_init_xavier_relu_30_layers_collapses_the_variance_as_theory_says(presets):
    result = _run(presets["init"], {"he", "xavier", "normal-0.01"})
    checks = {c.check.claim: c for c in result.checks}
    assert all(c.held for claim, c in checks.items() if "variance" in claim or "collapses" in claim)
    he, xavier = (measure(result.stores[n], "act_var_last_init") for n in ("he", "xavier"))
    assert 0.3 < he < 3  # He keeps the second moment
    # Xavier halves it at each of the 29 hidden layers: 2^-29 ≈ 1.9e-9 (input and head layers differ a little)
    assert 2.0**-32 < xavier / he < 2.0**-26
    started = result.stores["xavier"].started
    measured, theory = started.act_std_init, started.theory_act_std_init
    ok = np.isfinite(theory)
    assert ok.sum() >= 25
    np.testing.assert_allclose(np.log2(measured[ok] / measured[0]), np.log2(theory[ok] / theory[0]), atol=1.0)


def test_vanishing_sigmoid_gradient_dies_towards_the_input_and_the_residual_one_does_not(presets):
    result = _run(presets["vanishing"], {"sigmoid", "relu", "residual-sigmoid"}, steps=2)
    assert [c.held for c in result.checks] == [True] * len(result.checks)
    s = result.stores
    ratio = lambda name: measure(s[name], "out_grad_first_init") / measure(s[name], "out_grad_last_init")
    assert ratio("sigmoid") < 1e-6  # ≤ ¼ per layer over 19 layers
    assert ratio("residual-sigmoid") > 0.1 and 0.1 < ratio("relu") < 10
    w = lambda name, where: measure(s[name], f"grad_norm_{where}_init")
    assert w("sigmoid", "first") < 1e-4 * w("sigmoid", "last")


def test_shortcut_scaled_by_half_starves_early_layers_by_lambda_to_the_blocks(presets):
    result = _run(presets["shortcuts"], {"identity", "scale-0.5"})
    (check,) = result.checks
    assert check.held
    identity = measure(result.stores["identity"], "grad_norm_early_init")
    scaled = measure(result.stores["scale-0.5"], "grad_norm_early_init")
    # branches start at zero, so the stem's gradient crosses 15 blocks of h(x) = 0.5 x: 0.5^15 ≈ 3.1e-5
    stem = lambda name: measure(result.stores[name], "grad_norm_first_init")
    assert stem("scale-0.5") / stem("identity") == pytest.approx(0.5**15, rel=0.5)
    assert scaled < 1e-2 * identity


def test_degradation_plain_56_trains_worse_than_plain_20(presets):
    """The quick size shortened to 150 steps (of 600): plain-20 is learning, plain-56 is not."""
    result = _run(presets["degradation"], {"plain-20", "plain-56"}, steps=150, eval_train_samples=1000)
    train = {n: measure(result.stores[n], "final_train_error") for n in ("plain-20", "plain-56")}
    assert train["plain-56"] > train["plain-20"] + 0.05, train
    assert [c.held for c in result.checks] == [True, True]
    # why: at initialisation the deep plain net's early gradients dwarf its last conv's (BN plain nets explode)
    g = result.stores["plain-56"].started.grad_norm_init
    g20 = result.stores["plain-20"].started.grad_norm_init
    assert g[0] / g[-2] > 30 * (g20[0] / g20[-2])


def test_residual_resnet_56_trains_where_plain_56_cannot(presets):
    """The quick size at its full 600 steps (about 4-5 CPU-minutes): resnet-56 trains to less than half of
    chance (10 classes: 90% error), the error plain-56 keeps at this size.

    plain-56 is not trained here (it would double the time of the slowest test in CI): at the quick size
    it stays at chance (90.8% in the tuning runs, 91.0% in docs/gallery, 600 steps), and
    test_degradation_plain_56_trains_worse_than_plain_20 trains it. So the preset's check "resnet-56 ends
    with less than half plain-56's training error" holds whenever resnet-56 < 45%.

    Not asserted: resnet-56 at or below resnet-20 (the paper size's check). At 600 steps the ResNets
    are mid-descent and their order changes with the seed: resnet-56 minus resnet-20 measured −0.9,
    −42.5, −2.6 and +17.7 points (seeds 0, 1, 2 on one thread; seed 0 on two)."""
    preset = presets["residual"]
    result = _run(preset, {"resnet-56"}, steps=preset.runs("quick")[0].config.train.steps, eval_train_samples=2000)
    train = measure(result.stores["resnet-56"], "final_train_error")
    assert train < 0.5 * 0.9, train
