"""Training engine: learning, divergence, stop/pause, failures, determinism, and what the probes measure."""

import math
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.config import DataConfig, InitConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from resnet_viz.metrics.records import LAYER_QUANTITIES, EvalRecord, RunFinished, RunStarted, TrainChunk
from resnet_viz.metrics.store import RunStore
from resnet_viz.models import build_model, init_weights, layer_table
from resnet_viz.train.engine import Engine
from resnet_viz.train.pending import PendingSteps
from resnet_viz.train.probes import LayerProbes, stack_quantities, unstack_quantities


def small_config(**over) -> RunConfig:
    """A fast CPU run: narrow resnet-8 on 2,000 embedded images."""
    model = over.pop("model", ModelConfig(arch="resnet", depth=8, width=8))
    optim = over.pop("optim", OptimConfig(name="sgd", lr=0.05, momentum=0.9))
    data = over.pop("data", DataConfig(subset=2000))
    train = over.pop("train", TrainConfig(batch_size=64, steps=30, eval_every=10, eval_train_samples=500))
    return RunConfig(model=model, optim=optim, data=data, train=train, **over)


def run(config: RunConfig, **kw) -> tuple[RunStore, RunFinished]:
    store = RunStore()
    result = Engine(config, store.add, **kw).run()
    return store, result


def test_short_run_brings_training_error_well_below_chance():
    cfg = small_config(
        model=ModelConfig(arch="resnet", depth=14, width=16),
        train=TrainConfig(batch_size=64, steps=250, eval_every=250, eval_train_samples=1000),
        data=DataConfig(subset=4000),
    )
    store, result = run(cfg)
    assert result.status == "finished" and result.steps == 250
    assert store.steps_done == 250
    # chance is 90% error on 10 classes
    assert result.final_train_error < 0.60, result
    assert result.final_test_error < 0.75, result
    first, last = store.scalar("loss")[:20].mean(), store.scalar("loss")[-20:].mean()
    assert last < 0.8 * first


def test_records_order_shapes_and_step0_statistics():
    records = []
    result = Engine(small_config(), records.append).run()
    assert isinstance(records[0], RunStarted) and isinstance(records[-1], RunFinished)
    started = records[0]
    n_layers = len(started.layers.names)
    assert n_layers == 8  # resnet-8, option A: 8 weight layers
    assert started.layers.names[0].startswith("stem") or started.layers.roles[0] == "stem"
    assert started.layers.roles[-1] == "head"
    for arr in (started.act_std_init, started.out_grad_norm_init, started.grad_norm_init, started.theory_act_std_init):
        assert arr.shape == (n_layers,)
    assert np.all(started.act_std_init > 0) and np.all(started.out_grad_norm_init > 0)
    assert started.theory_act_std_init[0] == pytest.approx(1.0)
    chunks = [r for r in records if isinstance(r, TrainChunk)]
    steps = np.concatenate([c.step for c in chunks])
    assert np.array_equal(steps, np.arange(1, 31))
    for c in chunks:
        assert c.layers.grad_norm.shape == (len(c), n_layers)
        assert np.array_equal(c.layer_step, c.step)
        assert np.all(np.isfinite(c.layers.update_ratio)) and np.all(c.layers.update_ratio > 0)
    # an evaluation of step k arrives before the chunk that holds step k
    seen_steps = set()
    for r in records:
        if isinstance(r, TrainChunk):
            seen_steps.update(int(s) for s in r.step)
        if isinstance(r, EvalRecord):
            assert r.step not in seen_steps
    evals = [r.step for r in records if isinstance(r, EvalRecord)]
    assert evals == [10, 20, 30]
    # the result reports the evaluation of the last step (emitted before the chunk that holds step 30)
    last = [r for r in records if isinstance(r, EvalRecord)][-1]
    assert last.step == 30 and result.extra["final_eval_step"] == 30
    assert 0.0 <= result.final_train_error <= 1.0 and result.final_train_error == last.train_error
    assert result.final_test_error == last.test_error and result.final_test_loss == last.test_loss
    # step-0 statistics are those of the first batch before any update: the first step's match them
    first = chunks[0].layers
    np.testing.assert_allclose(first.act_std[0], started.act_std_init, rtol=1e-5)
    np.testing.assert_allclose(first.grad_norm[0], started.grad_norm_init, rtol=1e-4)


def test_same_seed_same_run_and_other_seed_differs():
    a, _ = run(small_config())
    b, _ = run(small_config())
    np.testing.assert_array_equal(a.scalar("loss"), b.scalar("loss"))
    np.testing.assert_array_equal(a.layer("grad_norm"), b.layer("grad_norm"))
    cfg = small_config()
    cfg.train.seed = 1
    c, _ = run(cfg)
    assert not np.array_equal(a.scalar("loss"), c.scalar("loss"))


def test_divergence_is_caught_and_everything_before_is_kept():
    cfg = small_config(
        model=ModelConfig(arch="plain", depth=8, width=8, batch_norm=False),
        optim=OptimConfig(name="sgd", lr=1e4),
        train=TrainConfig(batch_size=64, steps=200, eval_every=50, eval_train_samples=200),
    )
    store, result = run(cfg)
    assert result.status.startswith("diverged at step ")
    k = int(result.status.rsplit(" ", 1)[1])
    assert 1 <= k < 200 and result.steps == k
    assert store.steps_done == k and store.scalar("step")[-1] == k
    assert not math.isfinite(store.scalar("loss")[-1])
    assert np.all(np.isfinite(store.scalar("loss")[:-1]))
    assert store.layer("grad_norm").shape[0] == k
    assert result.final_test_error is None and "non-finite" in result.message


def test_stop_pause_and_resume_from_another_thread():
    cfg = small_config(train=TrainConfig(batch_size=32, steps=100_000, eval_every=1000, eval_train_samples=200))
    store = RunStore()
    engine = Engine(cfg, store.add, report_interval_s=0.0)
    result: list[RunFinished] = []
    worker = threading.Thread(target=lambda: result.append(engine.run()))
    worker.start()
    deadline = time.time() + 60
    while store.steps_done < 5 and time.time() < deadline:
        time.sleep(0.01)
    engine.pause()
    time.sleep(0.3)
    paused_at = engine.step
    time.sleep(0.5)
    assert engine.step == paused_at, "a paused engine takes no steps"
    engine.resume()
    while engine.step < paused_at + 3 and time.time() < deadline:
        time.sleep(0.01)
    assert engine.step >= paused_at + 3
    engine.stop(evaluate=True)
    worker.join(timeout=60)
    assert not worker.is_alive()
    finished = result[0]
    assert finished.status == "stopped" and 0 < finished.steps < 100_000
    assert store.steps_done == finished.steps
    assert store.evals[-1].step == finished.steps and finished.final_train_error is not None


def test_failures_become_statuses_and_keep_records(monkeypatch):
    calls = {"n": 0}
    original = Engine.prepare

    def prepare_then_break(self, kind):
        original(self)
        model = self.prepared.model
        forward = model.forward

        def failing(x):
            calls["n"] += 1
            if calls["n"] == 5:  # the step-0 measurement is call 1; training step k is call k+1
                raise kind
            return forward(x)

        model.forward = failing

    for exc, status in (
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of memory"),
        (ValueError("boom"), "failed"),
    ):
        calls["n"] = 0
        monkeypatch.setattr(Engine, "prepare", lambda self, e=exc: prepare_then_break(self, e))
        store, result = run(small_config())
        assert result.status == status
        assert result.steps == 3 and store.steps_done == 3
        assert store.layer("act_std").shape[0] == 3
    assert "boom" in result.message and "traceback" in result.extra


def test_histograms_on_request():
    cfg = small_config(
        train=TrainConfig(
            batch_size=32, steps=4, eval_every=4, eval_train_samples=100, histogram_every=2, histogram_bins=16
        )
    )
    store, _ = run(cfg)
    kinds = sorted({(h.kind, h.step) for h in store.histograms})
    assert kinds == [(k, s) for k in ("activation", "gradient", "weight") for s in (2, 4)]
    act = [h for h in store.histograms if h.kind == "activation"][0]
    n_layers = len(store.started.layers.names)
    assert act.counts.shape == (n_layers, 16) and act.edges.shape == (n_layers, 17)
    # every output element of the stem conv (batch 32 x 8 channels x 32 x 32) is counted once
    assert act.counts[0].sum() == 32 * 8 * 32 * 32
    assert np.all(np.diff(act.edges, axis=1) > 0)


def test_probe_every_and_probes_off():
    cfg = small_config(train=TrainConfig(batch_size=32, steps=10, eval_every=10, eval_train_samples=100, probe_every=3))
    store, _ = run(cfg)
    assert list(store.layer_step) == [1, 4, 7, 10]
    cfg.train.probes = False
    store, result = run(cfg)
    assert result.status == "finished" and store.layer("grad_norm").shape[0] == 0 and store.steps_done == 10


def test_probes_measure_what_they_claim():
    """Compare one probed step with a direct computation (hooks, retain_grad, weight copies)."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="resnet", depth=8, width=4)
    model = build_model(cfg, 3, 16, 10)
    init_weights(model, InitConfig(), cfg)
    layers = layer_table(model, (3, 16, 16))
    names = [li.name for li in layers]
    modules = dict(model.named_modules())
    probes = LayerProbes(model, names, [li.norm_name for li in layers], torch.device("cpu"))
    outputs, responses = {}, {}

    def keep_output(_m, _i, o, name):
        if o.requires_grad:
            o.retain_grad()
        outputs[name] = o

    def keep_response(_m, _i, o, name):
        responses[name] = o.detach()

    for li in layers:
        modules[li.name].register_forward_hook(lambda m, i, o, n=li.name: keep_output(m, i, o, n))
        if li.norm_name:
            modules[li.norm_name].register_forward_hook(lambda m, i, o, n=li.name: keep_response(m, i, o, n))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    probes.begin_step()
    loss = F.cross_entropy(model(x), y)
    probes.end_forward()
    opt.zero_grad()
    loss.backward()
    before = {n: modules[n].weight.detach().clone() for n in names}
    probes.before_update()
    opt.step()
    stats = probes.collect().numpy()
    q = {name: stats[i] for i, name in enumerate(LAYER_QUANTITIES)}
    for j, n in enumerate(names):
        w = modules[n].weight
        assert q["grad_norm"][j] == pytest.approx(w.grad.norm().item(), rel=1e-5)
        assert q["out_grad_norm"][j] == pytest.approx(outputs[n].grad.norm().item(), rel=1e-5)
        assert q["act_std"][j] == pytest.approx(outputs[n].detach().double().std().item(), rel=1e-5)
        assert q["act_mean"][j] == pytest.approx(outputs[n].detach().double().mean().item(), rel=1e-4, abs=1e-6)
        resp = responses.get(n, outputs[n].detach())
        assert q["response_std"][j] == pytest.approx(resp.double().std().item(), rel=1e-5)
        ratio = (w.detach() - before[n]).norm() / before[n].norm()
        assert q["update_ratio"][j] == pytest.approx(ratio.item(), rel=1e-4)
    # evaluation forward passes outside a begun step are not observed
    probes.begin_step()
    probes.end_forward()
    with torch.no_grad():
        model(x)
    assert all(torch.isnan(a).all() for a in probes._act)
    probes.remove()


def grad_norm_at_init(model: ModelConfig, init: InitConfig) -> np.ndarray:
    cfg = RunConfig(
        model=model,
        init=init,
        data=DataConfig(subset=1000),
        train=TrainConfig(batch_size=128, steps=1, eval_every=1, eval_train_samples=100),
    )
    store, _ = run(cfg)
    return store.started.grad_norm_init


def test_gradients_vanish_in_a_deep_sigmoid_mlp_and_not_with_residual_connections():
    """science.md §5: in a sigmoid chain the gradient shrinks geometrically towards the input."""
    plain = grad_norm_at_init(
        ModelConfig(arch="mlp", depth=12, width=128, activation="sigmoid"), InitConfig(scheme="xavier")
    )
    resid = grad_norm_at_init(
        ModelConfig(arch="mlp", depth=12, width=128, activation="sigmoid", residual=True), InitConfig(scheme="xavier")
    )
    # per hidden layer the sigmoid chain loses a factor of about 4 or more
    assert plain[0] / plain[-2] < 1e-4
    assert np.all(np.diff(np.log(plain[:-1])) > 0), "monotonically larger towards the output"
    assert resid[0] / resid[-2] > 0.1


def test_recorded_activation_std_follows_the_init_theory():
    """science.md §4, as recorded by runs: 30-layer ReLU MLPs (width 512, no BN), measured at step 0.

    The theory is an expectation over weights; one finite-width net deviates from it by a random
    walk: the mean of relu(y)^2 over 512 units has a relative std of sqrt(5/512), i.e. about 0.02
    decades of std per layer and about 0.11 decades (1 sd) by layer 28. So each run must stay within
    0.35 decades (3 sd) at every hidden layer, the 10-unit head within 0.6, and the mean over three
    independent runs within 0.2. The scale itself separates the inits by orders of magnitude.
    """
    cases = [  # (init, seed, expected log10 std of the last hidden layer relative to layer 0)
        (InitConfig(scheme="he"), 0, (-0.35, 0.35)),  # keeps its scale
        (InitConfig(scheme="xavier"), 1, (-4.8, -4.0)),  # x 2^-1/2 per layer: 2^-14 = 10^-4.2 at layer 28
        (InitConfig(scheme="normal", std=0.01), 2, (-23.5, -21.0)),  # x sqrt(512e-4/2) = 10^-0.8 per layer: 10^-22.3
    ]
    gaps = []
    for init, seed, (lo, hi) in cases:
        cfg = RunConfig(
            model=ModelConfig(arch="mlp", depth=30, width=512),
            init=init,
            data=DataConfig(subset=1000),
            train=TrainConfig(batch_size=256, steps=1, eval_every=1, eval_train_samples=100, seed=seed),
        )
        store, _ = run(cfg)
        s = store.started
        measured = s.act_std_init / s.act_std_init[0]
        theory = s.theory_act_std_init
        assert theory[0] == pytest.approx(1.0) and measured.shape == theory.shape == (30,)
        gap = np.log10(measured) - np.log10(theory)
        assert np.all(np.abs(gap[:-1]) < 0.35), (init.scheme, gap.round(2))
        assert abs(gap[-1]) < 0.6, (init.scheme, gap.round(2))
        assert lo < np.log10(measured[-2]) < hi, (init.scheme, np.log10(measured[-2]))
        assert lo < np.log10(theory[-2]) < hi
        gaps.append(gap)
    mean_gap = np.mean(gaps, axis=0)
    assert np.all(np.abs(mean_gap[:-1]) < 0.2), mean_gap.round(2)


@pytest.mark.parametrize(
    "scale,offset", [(1.0, 0.0), (1e-25, 0.0), (1e-40, 0.0), (1e25, 0.0), (1.0, 1e3), (0.0, 0.0), (3.0, -2.0)]
)
def test_probe_std_and_norms_are_exact_over_the_whole_float32_range(scale, offset):
    """Activations of 1e-23 (deep N(0, 0.01^2) nets) and 1e25 (exploding ones) are measured, not 0 or inf."""
    from resnet_viz.train.probes import safe_norms, std_mean

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(64, 8, 16, 16, generator=g) * scale + offset).float()
    std, mean = std_mean(x).tolist()
    ref_std, ref_mean = torch.std_mean(x.double())
    assert std == pytest.approx(ref_std.item(), rel=1e-5, abs=0.0)
    assert mean == pytest.approx(ref_mean.item(), rel=1e-5, abs=1e-5 * ref_std.item())
    norms = safe_norms([x, x[:3], torch.zeros(5)])
    assert norms[0].item() == pytest.approx(torch.linalg.vector_norm(x.double()).item(), rel=1e-5)
    assert norms[1].item() == pytest.approx(torch.linalg.vector_norm(x[:3].double()).item(), rel=1e-5)
    assert norms[2].item() == 0.0


def test_probe_rows_are_keyed_by_quantity_name():
    rows = {name: torch.full((3,), float(i)) for i, name in enumerate(reversed(LAYER_QUANTITIES))}
    block = stack_quantities(rows)
    assert block.shape == (len(LAYER_QUANTITIES), 3) and block.dtype == torch.float32
    back = unstack_quantities(block.numpy())
    assert list(back) == list(LAYER_QUANTITIES)
    for name in LAYER_QUANTITIES:
        np.testing.assert_array_equal(back[name], rows[name].numpy())
    with pytest.raises(ValueError, match="act_std"):
        stack_quantities({k: v for k, v in rows.items() if k != "act_std"})


def test_pending_steps_are_taken_at_once_and_cut_at_the_first_non_finite_loss():
    pending = PendingSteps()
    layer = torch.arange(len(LAYER_QUANTITIES) * 4, dtype=torch.float32).reshape(len(LAYER_QUANTITIES), 4)
    for step, loss in ((1, 2.0), (2, 1.5), (3, float("nan")), (4, 1.0)):
        probed = step % 2 == 1
        pending.append(step, torch.tensor([loss, 0.25]), 0.1 * step, 0.01, layer + step if probed else None)
    assert len(pending) == 4
    taken = pending.take()
    assert taken is not None and taken.diverged_at == 3 and len(pending) == 0 and pending.take() is None
    chunk = taken.chunk
    assert chunk.step.tolist() == [1, 2, 3] and chunk.loss[:2].tolist() == [2.0, 1.5] and np.isnan(chunk.loss[2])
    assert chunk.lr.tolist() == pytest.approx([0.1, 0.2, 0.3]) and chunk.batch_error.tolist() == [0.25] * 3
    assert chunk.layer_step.tolist() == [1, 3] and chunk.layers is not None
    np.testing.assert_array_equal(chunk.layers.act_std[1], (layer + 3)[LAYER_QUANTITIES.index("act_std")].numpy())
