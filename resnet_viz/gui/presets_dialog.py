"""PresetGallery: the "Guided experiments" dialog: pick a preset, read what it shows, pick a size, run it.

Left: every preset (title and summary). Right: the chosen one explained (paper, formula, what to
look for, the published numbers, the runs it trains), the size (Quick / Paper) with its note, and
"Run experiment". Running emits :attr:`PresetGallery.run_requested` ``(preset, size)`` and accepts the
dialog; :attr:`PresetGallery.chosen` holds the same pair afterwards. The user's own presets (from their
presets folder) are listed after the shipped ones and marked; preset files that were skipped are named,
with the reason, above the list.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from resnet_viz.gui.message_bar import LEVEL_COLOURS
from resnet_viz.presets import Preset, PresetError, SkippedPreset, load_presets, user_preset_dir

ModelIndex = QtCore.QModelIndex | QtCore.QPersistentModelIndex
SUMMARY_ROLE = QtCore.Qt.ItemDataRole.UserRole
NAME_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
SIZE_TITLES = {"quick": "Quick", "paper": "Paper"}
SIZE_WHERE = {"quick": "on a 2-core CPU", "paper": "on a GPU"}
SIZE_TIPS = {
    "quick": "Reduced: a narrower net, fewer steps, the embedded data. Runs on a CPU.",
    "paper": "The paper's depths, data (CIFAR-10) and schedule. Needs a GPU.",
}


def note_style(level: str) -> str:
    """The style sheet of a note label at ``level`` (info, warning, error): the message bar's colours."""
    bg, border, fg = LEVEL_COLOURS[level]
    return f"QLabel {{background:{bg}; border:1px solid {border}; border-radius:3px; color:{fg}; padding:6px;}}"


def fmt_minutes(minutes: float | None) -> str:
    """``about 9 min``, ``about 8 h``, ``about 2 h 30 min``; empty when unknown."""
    if minutes is None:
        return ""
    m = int(round(minutes))
    if m < 60:
        return f"about {max(1, m)} min"
    h, rest = divmod(m, 60)
    return f"about {h} h" + (f" {rest} min" if rest else "")


def size_summary(preset: Preset, size: str) -> str:
    """``quick size (about 9 min on a 2-core CPU)``: for the status line and the experiment panel."""
    spec = preset.sizes[size]
    when = " ".join(w for w in (fmt_minutes(spec.minutes), SIZE_WHERE.get(size, "")) if w)
    return f"{size} size" + (f" ({when})" if spec.minutes is not None else "")


def skipped_html(skipped: tuple[SkippedPreset, ...] | list[SkippedPreset], shown: int = 5) -> str:
    """The preset files that were not loaded, each with why (rich text; the first ``shown``, then a
    count); empty when none."""
    if not skipped:
        return ""
    head = "1 preset file was skipped" if len(skipped) == 1 else f"{len(skipped)} preset files were skipped"
    more = len(skipped) - shown
    return (
        f"<b>{head}:</b><ul style='margin:0; -qt-list-indent:1'>"
        + "".join(f"<li>{html.escape(s.message)}</li>" for s in skipped[:shown])
        + (f"<li>and {more} more (hover here for all)</li>" if more > 0 else "")
        + "</ul>"
    )


def user_folder_text(folder: Path | None) -> str:
    """Where the user's own presets go (rich text), for the foot of the gallery."""
    if folder is None:
        return ""
    return (
        "Your own presets: preset files (<span style='font-family:monospace'>*.json</span>, the layout of "
        "the shipped ones) in <span style='font-family:monospace'>"
        + html.escape(str(folder))
        + "</span> are listed here after the shipped ones (read when the window opens)."
    )


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no torch build with CUDA: treat as no GPU
        return False


def preset_html(preset: Preset, size: str = "quick") -> str:
    """The preset explained as rich text (Qt's HTML subset)."""
    e = html.escape
    parts = [f"<h2 style='margin-bottom:2px'>{e(preset.title)}</h2>"]
    if preset.user:
        parts.append(
            f"<p style='color:#0c3c78; margin-top:0'>Your preset, read from "
            f"<span style='font-family:monospace'>{e(preset.source)}</span></p>"
        )
    if preset.paper:
        parts.append(f"<p style='color:#555; margin-top:0'><i>{e(preset.paper)}</i></p>")
    if preset.summary:
        parts.append(f"<p>{e(preset.summary)}</p>")
    if preset.formula:
        parts.append(
            "<table width='100%' cellpadding='6' style='background:#f3f5f8'><tr><td>"
            f"<span style='font-family:monospace'>{e(preset.formula)}</span></td></tr></table>"
        )
    if preset.explanation:
        parts.append(f"<p>{e(preset.explanation)}</p>")
    if preset.look_for:
        parts.append(
            "<h3>What to look for</h3><ul>" + "".join(f"<li>{e(item)}</li>" for item in preset.look_for) + "</ul>"
        )
    if preset.published:
        rows = "".join(
            f"<tr><td>{e(p.quantity)}</td><td><b>{e(p.value)}</b></td><td style='color:#555'>{e(p.source)}</td></tr>"
            for p in preset.published
        )
        parts.append(
            "<h3>Published numbers</h3>"
            "<table cellspacing='0' cellpadding='4' border='1' style='border-color:#ccc'>"
            "<tr><th align='left'>quantity</th><th align='left'>value</th><th align='left'>source</th></tr>"
            f"{rows}</table>"
        )
    if size in preset.sizes:
        runs = preset.runs(size)
        parts.append(
            f"<h3>Runs ({len(runs)}, {e(size)} size)</h3><ul>"
            + "".join(
                f"<li><b>{e(r.name)}</b> — <span style='color:#555'>{e(r.config.label())}</span></li>" for r in runs
            )
            + "</ul>"
        )
    if preset.race is not None:
        parts.append(f"<p>With a 2D race on the <b>{e(preset.race.surface)}</b> surface (Optimiser race tab).</p>")
    return "".join(parts)


class _PresetDelegate(QtWidgets.QStyledItemDelegate):
    """Paints an item's title (bold) over its ``SUMMARY_ROLE`` text (grey), wrapped to the list's width."""

    def _document(self, option: QtWidgets.QStyleOptionViewItem, index: ModelIndex) -> QtGui.QTextDocument:
        doc = QtGui.QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(6)
        selected = bool(option.state & QtWidgets.QStyle.StateFlag.State_Selected)
        grey = "" if selected else " style='color:#666'"
        doc.setHtml(
            f"<b>{html.escape(index.data(QtCore.Qt.ItemDataRole.DisplayRole) or '')}</b><br>"
            f"<span{grey}>{html.escape(index.data(SUMMARY_ROLE) or '')}</span>"
        )
        doc.setTextWidth(max(50, option.rect.width()))
        return doc

    def paint(self, painter: QtGui.QPainter, option: QtWidgets.QStyleOptionViewItem, index: ModelIndex) -> None:
        opt = QtWidgets.QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QtWidgets.QApplication.style()
        style.drawControl(QtWidgets.QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        doc = self._document(option, index)
        painter.save()
        painter.translate(option.rect.topLeft())
        ctx = QtGui.QAbstractTextDocumentLayout.PaintContext()
        selected = bool(option.state & QtWidgets.QStyle.StateFlag.State_Selected)
        group = QtGui.QPalette.ColorGroup.Active
        role = QtGui.QPalette.ColorRole.HighlightedText if selected else QtGui.QPalette.ColorRole.Text
        ctx.palette.setColor(QtGui.QPalette.ColorRole.Text, option.palette.color(group, role))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option: QtWidgets.QStyleOptionViewItem, index: ModelIndex) -> QtCore.QSize:
        opt = QtWidgets.QStyleOptionViewItem(option)
        opt.state &= ~QtWidgets.QStyle.StateFlag.State_Selected
        if isinstance(opt.widget, QtWidgets.QAbstractScrollArea):  # the list: wrap to its visible width
            opt.rect.setWidth(opt.widget.viewport().width())
        doc = self._document(opt, index)
        return QtCore.QSize(int(doc.idealWidth()), int(doc.size().height()) + 2)


class PresetGallery(QtWidgets.QDialog):
    """Guided experiments. ``presets`` default to :func:`load_presets` (the shipped ones, then the user's);
    a :class:`~resnet_viz.presets.Presets` also brings the skipped files shown above the list. ``cuda``
    defaults to what torch reports."""

    run_requested = QtCore.Signal(object, str)  # (Preset, size)

    def __init__(
        self,
        presets: dict[str, Preset] | None = None,
        parent: QtWidgets.QWidget | None = None,
        *,
        current: str | None = None,
        size: str = "quick",
        cuda: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Guided experiments")
        self.error = ""
        if presets is None:
            try:
                presets = load_presets()
            except PresetError as exc:
                presets, self.error = {}, str(exc)
        self.presets = presets
        self.skipped: tuple[SkippedPreset, ...] = tuple(getattr(presets, "skipped", ()))
        self.user_dir: Path | None = getattr(presets, "user_dir", None) or user_preset_dir()
        self.cuda = cuda_available() if cuda is None else cuda
        self.chosen: tuple[Preset, str] | None = None

        self._build_list()
        self.text = QtWidgets.QTextBrowser()
        self.text.setOpenExternalLinks(True)
        if self.error:
            self.text.setHtml(f"<p style='color:#8a1c12'>{html.escape(self.error)}</p>")
        size_row = self._build_size_row()
        self._build_notes()
        self._build_buttons()
        self._build_layout(size_row)

        self.size_buttons.get(size, self.size_buttons["quick"]).setChecked(True)
        names = list(presets)
        if presets:
            self.list.setCurrentRow(names.index(current) if current in names else 0)
        self._show()

    # --- building ---------------------------------------------------------------------------------
    def _build_list(self) -> None:
        """The presets, a title over a summary each (the user's own marked)."""
        self.list = QtWidgets.QListWidget()
        self.list.setItemDelegate(_PresetDelegate(self.list))
        self.list.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.list.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(1)
        for preset in self.presets.values():
            item = QtWidgets.QListWidgetItem(preset.title)
            mark = f"Your preset ({Path(preset.source).name}). " if preset.user else ""
            item.setData(SUMMARY_ROLE, mark + preset.summary)
            item.setData(NAME_ROLE, preset.name)
            item.setToolTip((f"Your preset, read from {preset.source}\n" if preset.user else "") + preset.summary)
            self.list.addItem(item)
        self.list.currentRowChanged.connect(lambda _row: self._show())

    def _build_size_row(self) -> QtWidgets.QHBoxLayout:
        """ "Size:" and a radio button per size (``size_buttons``)."""
        self.size_buttons: dict[str, QtWidgets.QRadioButton] = {}
        size_row = QtWidgets.QHBoxLayout()
        size_row.addWidget(QtWidgets.QLabel("<b>Size:</b>"))
        group = QtWidgets.QButtonGroup(self)
        for key, title in SIZE_TITLES.items():
            b = QtWidgets.QRadioButton(title)
            b.setToolTip(SIZE_TIPS[key])
            b.toggled.connect(self._size_toggled)
            group.addButton(b)
            self.size_buttons[key] = b
            size_row.addWidget(b)
        size_row.addStretch(1)
        return size_row

    def _build_notes(self) -> None:
        """The size's note, the no-GPU warning, the skipped files (above the list), the user's folder (below)."""
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.warning = QtWidgets.QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(note_style("error"))
        self.warning.hide()

        self.skipped_label = QtWidgets.QLabel(skipped_html(self.skipped))
        self.skipped_label.setWordWrap(True)
        self.skipped_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.skipped_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.skipped_label.setStyleSheet(note_style("warning"))
        self.skipped_label.setToolTip("\n".join(s.message for s in self.skipped))
        self.skipped_label.setVisible(bool(self.skipped))
        self.user_note = QtWidgets.QLabel(user_folder_text(self.user_dir))
        self.user_note.setWordWrap(True)
        self.user_note.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.user_note.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.user_note.setStyleSheet("QLabel {color:#555;}")

    def _build_buttons(self) -> None:
        self.buttons = QtWidgets.QDialogButtonBox()
        self.run_button = self.buttons.addButton("Run experiment", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Replace the runs with this experiment's, arrange its plots and start training")
        close = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.setAutoDefault(False)
        self.run_button.clicked.connect(self.run)
        close.clicked.connect(self.reject)

    def _build_layout(self, size_row: QtWidgets.QHBoxLayout) -> None:
        """The list left of the explanation, size and buttons; the skipped files above, the user's folder below."""
        right = QtWidgets.QWidget()
        rl = QtWidgets.QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.text, 1)
        rl.addLayout(size_row)
        rl.addWidget(self.note)
        rl.addWidget(self.warning)
        rl.addWidget(self.buttons)

        splitter = QtWidgets.QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 670])
        splitter.setChildrenCollapsible(False)
        self.list.setMinimumWidth(240)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.skipped_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.user_note)
        self.resize(1000, 700)

    # --- reading ----------------------------------------------------------------------------------
    def preset(self) -> Preset | None:
        item = self.list.currentItem()
        return None if item is None else self.presets.get(item.data(NAME_ROLE))

    def selected_size(self) -> str:
        return next((k for k, b in self.size_buttons.items() if b.isChecked()), "quick")

    def select(self, name: str) -> None:
        """Show the preset called ``name``."""
        names = list(self.presets)
        if name in names:
            self.list.setCurrentRow(names.index(name))

    def _size_toggled(self, on: bool) -> None:
        if on:
            self._show()

    def set_size(self, size: str) -> None:
        if size in self.size_buttons:
            self.size_buttons[size].setChecked(True)

    # --- showing ----------------------------------------------------------------------------------
    def _show(self) -> None:
        preset = self.preset()
        self.run_button.setEnabled(preset is not None)
        if preset is None:
            self.note.clear()
            self.warning.hide()
            return
        for key, b in self.size_buttons.items():
            b.setEnabled(key in preset.sizes)
        size = self.selected_size()
        if size not in preset.sizes:
            size = "quick"
            self.size_buttons["quick"].setChecked(True)  # re-enters _show through toggled
            return
        self.text.setHtml(preset_html(preset, size))
        spec = preset.sizes[size]
        when = fmt_minutes(spec.minutes)
        head = f"<b>{html.escape(when[:1].upper() + when[1:])} {SIZE_WHERE[size]}.</b> " if when else ""
        self.note.setText(head + html.escape(spec.note))
        self.note.setStyleSheet(note_style("info" if size == "quick" else "warning"))
        if size == "paper" and not self.cuda:
            self.warning.setText(
                "No CUDA GPU found: the paper size needs a GPU (it would take days on this "
                "CPU) and CIFAR-10 on disk (downloads are off by default; without the data "
                "each run fails with a message saying where it looked)."
            )
            self.warning.show()
        else:
            self.warning.hide()

    # --- running ----------------------------------------------------------------------------------
    def run(self) -> None:
        """Emit :attr:`run_requested` with the shown preset and size, and close the dialog (accepted)."""
        preset = self.preset()
        if preset is None:
            return
        self.chosen = (preset, self.selected_size())
        self.accept()  # first, so that a question the window asks next is not stacked over the gallery
        self.run_requested.emit(*self.chosen)
