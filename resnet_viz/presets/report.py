"""``report.md`` of a preset run: configuration, measured numbers beside the published ones, and
whether each expected direction held."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from resnet_viz.config import RunConfig
from resnet_viz.presets.measures import METRICS, format_value, measure
from resnet_viz.presets.runner import PresetResult

#: Metrics tabulated for every run, when measured.
RUN_COLUMNS = (
    "final_train_error",
    "final_test_error",
    "act_var_last_init",
    "grad_norm_first_init",
    "grad_norm_last_init",
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _config_row(name: str, config: RunConfig) -> list[str]:
    c = config.resolved()
    m, o, t, d = c.model, c.optim, c.train, c.data
    net = f"{m.arch}-{m.depth}, width {m.width}"
    extras = []
    if m.arch != "mlp":
        extras.append(f"{m.block} block, shortcut {m.shortcut}")
        if m.shortcut_variant != "identity":
            extras.append(
                f"h(x) = {m.shortcut_variant}"
                + (f" {m.shortcut_scale:g}" if m.shortcut_variant == "scale" else "")
                + (f" p={m.shortcut_dropout:g}" if m.shortcut_variant == "dropout" else "")
            )
        extras.append(f"after add: {m.after_add}")
    elif m.residual:
        extras.append("residual")
    extras.append(f"{m.activation}, BN {'on' if m.batch_norm else 'off'}")
    init = c.init.scheme + (f" std {c.init.std:g}" if c.init.scheme == "normal" else "")
    if c.init.zero_init_residual:
        init += ", zero-init residual"
    optim = f"{o.name} lr " + (f"{o.lr:g}" if o.lr is not None else "default")  # None: torch.optim's default
    if o.momentum:
        optim += f", momentum {o.momentum:g}"
    if o.weight_decay:
        optim += f", wd {o.weight_decay:g}"
    if o.schedule != "constant":
        optim += f", {o.schedule} schedule"
    if o.warmup_steps:
        optim += f", warm-up {o.warmup_steps}"
    data = d.dataset + (f" (first {d.subset})" if d.subset else "") + (", augmented" if d.augment else "")
    steps = t.steps if t.steps is not None else f"{t.epochs:g} epochs"
    return [name, net + "; " + "; ".join(extras), init, optim, f"{steps} × batch {t.batch_size}", data]


def write_report(result: PresetResult, out_dir: str | Path, figures: Sequence[Path] = (), command: str = "") -> Path:
    """Write ``report.md`` into ``out_dir``; ``figures`` are linked (PNG) relative to it."""
    out_dir = Path(out_dir)
    lines = (
        _introduction(result)
        + _directions(result)
        + _measured(result)
        + _published(result)
        + _figures(figures)
        + _configuration(result, out_dir)
        + _environment(result, command)
    )
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _introduction(result: PresetResult) -> list[str]:
    """Title, paper, summary, formula, explanation, what to look for and the size's note."""
    p, size = result.preset, result.size
    spec = p.sizes[size]
    lines = [f"# {p.title}", "", f"*Preset `{p.name}`, size `{size}`.* {p.paper}", ""]
    if p.summary:
        lines += [p.summary, ""]
    if p.formula:
        lines += ["**Formula.** " + p.formula, ""]
    if p.explanation:
        lines += [p.explanation, ""]
    if p.look_for:
        lines += ["**What to look for**", ""] + [f"- {item}" for item in p.look_for] + [""]
    if spec.note:
        lines += [f"**This size ({size}).** {spec.note}", ""]
    return lines


def _directions(result: PresetResult) -> list[str]:
    """The checks: how many held, and each one's measured sides."""
    if not result.checks:
        return ["## Expected directions", "", f"None is checked at the {result.size} size (see the note above).", ""]
    held = [c for c in result.checks if c.held]
    lines = [f"## Expected directions: {len(held)} of {len(result.checks)} held", ""]
    lines += ["| expected | measured | held |", "|---|---|---|"]
    for c in result.checks:
        mark = f"{c.mark} {'yes' if c.held else 'no' if c.held is False else 'not measured'}"
        lines.append(f"| {_cell(c.check.claim)} | {_cell(c.describe())} | {mark} |")
    return lines + [""]


def _measured(result: PresetResult) -> list[str]:
    """Each run's status, steps and the :data:`RUN_COLUMNS` measured in some run."""
    lines = ["## Measured", ""]
    columns = [m for m in RUN_COLUMNS if any(measure(r.store, m) is not None for r in result.runs)]
    lines += [
        "| run | status | steps | " + " | ".join(METRICS[m].label for m in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for r in result.runs:
        vals = [format_value(measure(r.store, m), m) for m in columns]
        lines.append(f"| {r.name} | {r.status} | {r.store.steps_done} | " + " | ".join(vals) + " |")
    return lines + [""]


def _published(result: PresetResult) -> list[str]:
    """The paper's numbers beside the ones measured here (none without published numbers)."""
    p = result.preset
    if not p.published:
        return []
    lines = ["## Published", "", "| quantity | published | measured here | source |", "|---|---|---|---|"]
    stores = result.stores
    for pub in p.published:
        here = "–"
        if pub.run and pub.metric and pub.run in stores:
            here = format_value(measure(stores[pub.run], pub.metric), pub.metric)
        lines.append(f"| {_cell(pub.quantity)} | {_cell(pub.value)} | {here} | {_cell(pub.source)} |")
    lines.append("")
    if result.size == "quick":
        lines += [
            "The quick size trains smaller networks for far fewer steps on the embedded data, so its "
            "numbers are not comparable with the paper's; only the directions are. The `paper` size "
            "is the comparable one.",
            "",
        ]
    return lines


def _figures(figures: Sequence[Path]) -> list[str]:
    """Links to the PNG figures (and their SVG beside them, when there is one)."""
    if not figures:
        return []
    lines = ["## Figures", ""]
    for f in figures:
        if f.suffix == ".png":
            svg = f.with_suffix(".svg")
            extra = f" ([SVG]({svg.name}))" if svg.exists() else ""
            lines += [f"![{f.stem}]({f.name}){extra}", ""]
    return lines


def _configuration(result: PresetResult, out_dir: Path) -> list[str]:
    """A row per run: network, init, optimiser, steps, data; where the run folders are."""
    lines = [
        "## Configuration",
        "",
        "| run | network | init | optimiser | steps | data |",
        "|---|---|---|---|---|---|",
    ]
    for r in result.runs:
        lines.append("| " + " | ".join(_cell(x) for x in _config_row(r.name, r.config)) + " |")
    lines.append("")
    if (out_dir / "runs").is_dir():
        lines += [
            "Each run's full configuration and metrics are in `runs/NN-name/` (run.json, metrics.csv, "
            "layers.npz, summary.json).",
            "",
        ]
    return lines


def _environment(result: PresetResult, command: str) -> list[str]:
    """Device, library versions (of the first run that started), wall time, the time written, the command."""
    versions: dict[str, str] = {}
    for r in result.runs:
        if r.store.started is not None:
            versions = r.store.started.versions
            break
    env = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines = [
        "## Environment",
        "",
        f"- device: {result.device or 'n/a'}; {env}",
        f"- wall time: {result.elapsed_s / 60:.1f} min; written {_dt.datetime.now().isoformat(timespec='seconds')}",
    ]
    if command:
        lines.append(f"- command: `{command}`")
    return lines + [""]
