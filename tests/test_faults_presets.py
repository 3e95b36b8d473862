"""Faults in preset files: each bad file is skipped with a line naming it; the others, and the user's own
presets (a folder, or a file given to ``reproduce``), keep working in the CLI and in the gallery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.cli import main
from resnet_viz.presets import PresetError, load_preset_file, load_presets, user_preset_dir
from resnet_viz.presets.library import MAX_PRESET_BYTES, preset_dir

SHIPPED = [
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
#: A user preset that trains in about a second: two MLPs of depth 3 and width 16.
MINE = {
    "name": "mine",
    "title": "My MLPs",
    "summary": "Two tiny MLPs.",
    "plots": ["error"],
    "base": {
        "model": {"arch": "mlp", "width": 16},
        "train": {"steps": 4, "eval_every": 2, "eval_train_samples": 200, "batch_size": 32},
        "data": {"subset": 500},
    },
    "runs": [
        {"name": "relu", "config": {"model": {"depth": 3}}},
        {"name": "tanh", "config": {"model": {"depth": 3, "activation": "tanh"}}},
    ],
    "sizes": {"quick": {"note": "quick: tiny", "minutes": 1}},
}


def _with(**changes) -> dict:
    data = json.loads(json.dumps(MINE))
    data.update(changes)
    return data


#: file name -> (content, a phrase the warning must hold besides the path)
BROKEN: dict[str, tuple[bytes, str]] = {
    "bad-json.json": (b'{"name": "x", "title": ', "not valid JSON"),
    "binary.json": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"),
    "a-list.json": (b"[1, 2, 3]", "expected a JSON object, got list"),
    "no-runs.json": (json.dumps({"name": "x", "title": "X", "sizes": {"quick": {}}}).encode(), "missing 'runs'"),
    "runs-number.json": (json.dumps(_with(name="r", runs=3)).encode(), "'runs' must be a list, got 3"),
    "run-not-object.json": (json.dumps(_with(name="r2", runs=[7])).encode(), "runs[0]: must be an object"),
    "name-number.json": (json.dumps(_with(name=5)).encode(), "'name' must be a string, got 5"),
    "name-path.json": (json.dumps(_with(name="../etc")).encode(), "'name' '../etc' must be"),
    "plots-string.json": (json.dumps(_with(name="p", plots="error")).encode(), "'plots' must be a list"),
    "size-number.json": (json.dumps(_with(name="s", sizes={"quick": 3})).encode(), "'quick' must be an object"),
    "bad-config.json": (
        json.dumps(_with(name="c", runs=[{"name": "a", "config": {"model": {"depth": -1}}}])).encode(),
        "model.depth = -1",
    ),
    "unknown-field.json": (json.dumps(_with(name="u", base={"model": {"colour": "red"}})).encode(), "model.colour"),
    "race-start.json": (
        json.dumps(_with(name="rs", race={"surface": "rosenbrock", "optims": "sgd", "start": "here"})).encode(),
        "'start' must be",
    ),
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "huge.json": (b" " * (MAX_PRESET_BYTES + 1), "larger than 1 MB"),
    "degradation.json": (json.dumps(_with(name="degradation")).encode(), "taken by a shipped preset"),
}


@pytest.fixture
def user_dir(tmp_path, monkeypatch) -> Path:
    """An empty user presets folder, named by $RESNET_VIZ_PRESETS."""
    folder = tmp_path / "my-presets"
    folder.mkdir()
    monkeypatch.setenv("RESNET_VIZ_PRESETS", str(folder))
    return folder


def _write_broken(folder: Path) -> None:
    for name, (content, _phrase) in BROKEN.items():
        (folder / name).write_bytes(content)
    (folder / "folder.json").mkdir()  # a folder named like a preset file: glob finds it


def test_the_user_folder_is_the_env_var_else_xdg_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_VIZ_PRESETS", str(tmp_path / "p"))
    assert user_preset_dir() == tmp_path / "p"
    monkeypatch.delenv("RESNET_VIZ_PRESETS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert user_preset_dir() == tmp_path / "cfg" / "resnet-viz" / "presets"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_preset_dir() == tmp_path / "home" / ".config" / "resnet-viz" / "presets"


def test_each_malformed_user_file_is_skipped_with_its_reason_and_the_rest_load(user_dir):
    _write_broken(user_dir)
    (user_dir / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    presets = load_presets()
    assert list(presets) == SHIPPED + ["mine"]
    assert presets["mine"].user and not presets["degradation"].user
    assert presets["degradation"].source != str(user_dir / "degradation.json")  # the shipped one is kept
    assert presets.user_dir == user_dir
    reasons = {Path(s.path).name: s.message for s in presets.skipped}
    assert set(reasons) == set(BROKEN) | {"folder.json"}
    for name, (_content, phrase) in BROKEN.items():
        assert reasons[name].startswith(str(user_dir / name)), reasons[name]
        assert phrase in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and len(reasons[name]) < 400, reasons[name]
    assert "is a folder" in reasons["folder.json"]


def test_a_broken_shipped_file_hides_only_itself(tmp_path):
    shipped = tmp_path / "shipped"
    shutil.copytree(preset_dir(), shipped)
    data = json.loads((shipped / "init.json").read_text(encoding="utf-8"))
    data["title"] = 3
    (shipped / "init.json").write_text(json.dumps(data), encoding="utf-8")
    presets = load_presets(shipped)
    assert list(presets) == [n for n in SHIPPED if n != "init"]
    assert [s.message for s in presets.skipped] == [f"{shipped / 'init.json'} (init): 'title' must be a string, got 3"]


def test_two_user_presets_with_one_name_keep_the_first_and_name_the_second(user_dir):
    (user_dir / "a.json").write_text(json.dumps(MINE), encoding="utf-8")
    (user_dir / "b.json").write_text(json.dumps(MINE), encoding="utf-8")
    presets = load_presets()
    assert presets["mine"].source == str(user_dir / "a.json")
    (skipped,) = presets.skipped
    assert skipped.path == str(user_dir / "b.json") and "another of your presets" in skipped.message


def test_list_marks_user_presets_and_warns_one_line_per_skipped_file(user_dir, capsys):
    (user_dir / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    (user_dir / "bad-json.json").write_bytes(BROKEN["bad-json.json"][0])
    (user_dir / "binary.json").write_bytes(BROKEN["binary.json"][0])
    assert main(["reproduce", "--list"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED + ["mine"]
    assert lines[-1].endswith(f"[user preset: {user_dir / 'mine.json'}]")
    assert "user preset" not in "".join(lines[:-1])
    assert err.splitlines() == [
        f"resnet-viz: warning: skipped {user_dir / 'bad-json.json'}: not valid JSON: "
        "Expecting value: line 1 column 24 (char 23)",
        f"resnet-viz: warning: skipped {user_dir / 'binary.json'}: not UTF-8 text (byte 0); a preset file is JSON",
    ]


def test_reproduce_runs_a_preset_file_by_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESNET_VIZ_PRESETS", str(tmp_path / "none"))
    path = tmp_path / "elsewhere" / "my-exp.json"
    path.parent.mkdir()
    path.write_text(json.dumps(MINE), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["reproduce", str(path), "--steps", "2", "--no-figures", "--out", str(out), "--quiet"]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "My MLPs" in report
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["01-relu", "02-tanh"]
    # without --out the folder is named after the preset, not the path
    assert (
        main(["reproduce", "elsewhere/my-exp.json", "--steps", "2", "--no-figures", "--no-run-folders", "--quiet"]) == 0
    )
    (made,) = (tmp_path / "reproductions").iterdir()
    assert made.name.startswith("mine-quick-")
    capsys.readouterr()


@pytest.mark.parametrize("name", ["bad-json.json", "runs-number.json", "bad-config.json", "name-path.json"])
def test_reproduce_of_a_broken_file_exits_2_with_one_line(name, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(BROKEN[name][0])
    assert main(["reproduce", str(path), "--steps", "2", "--no-figures", "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"resnet-viz: error: {path}") and BROKEN[name][1] in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_reproduce_of_a_missing_file_exits_2_with_one_line(tmp_path, capsys):
    assert main(["reproduce", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"resnet-viz: error: {tmp_path / 'nope.json'}: no such file\n"


def test_load_preset_file_marks_what_it_reads_as_the_users(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(MINE), encoding="utf-8")
    assert load_preset_file(path, user=True).user and not load_preset_file(path).user
    path.write_text(json.dumps(_with(name="all")), encoding="utf-8")
    with pytest.raises(PresetError, match="not 'all'"):
        load_preset_file(path)


def test_the_gallery_lists_a_user_preset_and_shows_why_a_file_was_skipped(qtbot, user_dir, tmp_path):
    from resnet_viz.gui.presets_dialog import NAME_ROLE, SUMMARY_ROLE, PresetGallery

    (user_dir / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    (user_dir / "no-runs.json").write_bytes(BROKEN["no-runs.json"][0])
    gallery = PresetGallery(cuda=False)
    qtbot.addWidget(gallery)
    gallery.show()
    qtbot.waitExposed(gallery)
    items = [gallery.list.item(i) for i in range(gallery.list.count())]
    assert [i.data(NAME_ROLE) for i in items] == SHIPPED + ["mine"]
    assert items[-1].data(SUMMARY_ROLE) == "Your preset (mine.json). Two tiny MLPs."
    assert gallery.skipped_label.isVisible()
    warning = gallery.skipped_label.text()
    assert (
        "1 preset file was skipped" in warning and "no-runs.json" in warning and "missing &#x27;runs&#x27;" in warning
    )
    assert str(user_dir) in gallery.user_note.text()
    gallery.select("mine")
    assert "Your preset, read from" in gallery.text.toHtml() and gallery.run_button.isEnabled()
    with qtbot.waitSignal(gallery.run_requested) as signal:
        gallery.run_button.click()
    assert signal.args[0].name == "mine" and signal.args[1] == "quick"
    gallery.grab().save(str(tmp_path / "gallery.png"))


def test_the_gallery_shows_no_warning_when_every_file_loads(qtbot, user_dir):
    from resnet_viz.gui.presets_dialog import PresetGallery

    gallery = PresetGallery(cuda=False)
    qtbot.addWidget(gallery)
    gallery.show()
    qtbot.waitExposed(gallery)
    assert gallery.list.count() == len(SHIPPED) and not gallery.skipped_label.isVisible()


@pytest.fixture
def user_dir_with_presets(user_dir) -> Path:
    """A user folder with one good and one broken preset, set up before the window reads it."""
    (user_dir / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    (user_dir / "bad-json.json").write_bytes(BROKEN["bad-json.json"][0])
    return user_dir


def test_the_window_offers_a_user_preset_and_its_gallery_names_the_skipped_file(user_dir_with_presets, window, qtbot):
    from resnet_viz.gui.presets_dialog import NAME_ROLE

    assert list(window.presets) == SHIPPED + ["mine"]
    gallery = window.open_gallery("mine")
    qtbot.waitExposed(gallery)
    assert gallery.list.currentItem().data(NAME_ROLE) == "mine"
    assert gallery.skipped_label.isVisible() and "bad-json.json" in gallery.skipped_label.text()
    gallery.reject()
    assert window.load_preset(window.presets["mine"], "quick", start=False, confirm=False)
    assert [(e.name, e.config.model.activation) for e in window.manager.entries] == [("relu", "relu"), ("tanh", "tanh")]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
#: Where a property test puts a random JSON value in an otherwise valid preset.
FIELDS = [
    ("name",),
    ("title",),
    ("summary",),
    ("runs",),
    ("runs", 0),
    ("runs", 0, "name"),
    ("runs", 0, "config"),
    ("runs", 0, "config", "model"),
    ("runs", 0, "config", "model", "depth"),
    ("sizes",),
    ("sizes", "quick"),
    ("sizes", "quick", "minutes"),
    ("sizes", "quick", "runs"),
    ("sizes", "paper"),
    ("base",),
    ("base", "model", "width"),
    ("base", "train"),
    ("plots",),
    ("plots", 0),
    ("look_for",),
    ("mode",),
    ("order",),
    ("checks",),
    ("published",),
    ("race",),
    ("race", "start"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_any_json_in_any_field_loads_or_is_one_preset_error_line(tmp_path, where, value):
    data = _with(race={"surface": "rosenbrock", "optims": "sgd", "start": [1, 2]}, checks=[], published=[])
    node = data
    for key in where[:-1]:
        node = node[key] if not isinstance(node, dict) or key in node else node.setdefault(key, {})
    node[where[-1]] = value
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    try:
        preset = load_preset_file(path)
    except PresetError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message, message
    else:
        assert preset.name and preset.runs("quick")
