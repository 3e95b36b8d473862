"""The field table: each config field's metadata sits with its dataclass field.

A field is declared with :func:`spec` (``dataclasses.field`` with a :class:`FieldSpec` in its metadata,
the way pydantic's ``Field(description=...)`` and magicgui's ``Annotated`` options attach metadata):
its label, help, group, command-line flag, choices or range, unit and how a window shows it. From this
one table come :meth:`Section.validate` (here), the command-line flags (``resnet_viz.cli``) and the
setup panel (``resnet_viz.gui``); the cross-field rules are :mod:`resnet_viz.config.rules`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from resnet_viz.config.rules import check_section_rules
from resnet_viz.config.values import check_choice, check_field_types, check_number, field_defaults, field_types


@dataclass(frozen=True)
class Option:
    """One allowed value of a choice field: the value stored, its label in the window, a sentence of help."""

    value: Any
    label: str
    help: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """What a config field means and how it is shown, checked and given on the command line.

    ``label``: the setup panel's row label ("" for a check box, whose ``text`` is its label);
    ``help``: one or two sentences (tooltip and ``--help``), units included; ``group``: the panel's group
    box; ``flag``: the CLI flag of a valued field; ``switches``: the CLI flags of a boolean field, each
    with the value it stores (``(("--no-bn", False), ("--bn", True))``); ``options``: the allowed values
    of a choice field; ``lo``/``hi`` (``lo_open``/``hi_open`` exclude the bound): the range of a number
    (each item of a tuple field); ``check``: a further check of the value given the section
    (``check(path, value, section)`` raises :class:`ConfigError`); ``widget``: how the panel shows it
    when its type alone does not say ("segmented", "depth", "doubling", "text", "folder"); ``panel``:
    False for fields the panel has no control for; ``unit``: a suffix such as "steps"; ``metavar``: the
    CLI's placeholder; ``parse``: how the CLI turns the text into a value when ``type`` alone does not.
    """

    label: str
    help: str
    group: str
    flag: str | None = None
    switches: tuple[tuple[str, bool], ...] = ()
    options: tuple[Option, ...] = ()
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    check: Callable[[str, Any, Any], None] | None = None
    widget: str = ""
    panel: bool = True
    text: str = ""
    unit: str = ""
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None

    @property
    def choices(self) -> tuple[Any, ...]:
        """The allowed values of a choice field (empty for other fields)."""
        return tuple(o.value for o in self.options)


def spec(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field with a :class:`FieldSpec` (``meta`` are its fields) in its metadata."""
    info = FieldSpec(**meta)
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={"spec": info})
    return dataclasses.field(default=default, metadata={"spec": info})


@dataclass(frozen=True)
class FieldInfo:
    """A field of the table: its dotted ``path`` (``model.depth``), its spec, default and annotation."""

    section: str
    name: str
    spec: FieldSpec
    default: Any
    type: Any

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"


def section_fields(klass: type[Section]) -> tuple[FieldInfo, ...]:
    """The fields of a section class, in declaration order (cached: the table does not change)."""
    key: Any = klass  # a class is hashable; mypy reads dataclass subclasses' __hash__ = None as not
    return _section_fields(key)


@functools.cache
def _section_fields(klass: Any) -> tuple[FieldInfo, ...]:
    hints, defaults = field_types(klass), field_defaults(klass)
    return tuple(
        FieldInfo(klass.SECTION, f.name, f.metadata["spec"], defaults[f.name], hints[f.name])
        for f in dataclasses.fields(klass)
    )


class Section:
    """Base of the config sections (model, init, optim, data, train).

    :meth:`validate` checks every field's type, then its choices, range and own check from the table, then
    the rules of :mod:`resnet_viz.config.rules` that read only this section.
    """

    SECTION: ClassVar[str] = ""

    def validate(self) -> None:
        check_field_types(self.SECTION, self)
        for info in section_fields(type(self)):
            check_value(info, getattr(self, info.name), self)
        check_section_rules(self.SECTION, self)


def check_value(info: FieldInfo, value: Any, section: Any) -> None:
    """Check one (type-checked) value against its field's choices, range and own check."""
    if value is None:
        return
    s = info.spec
    if s.options:
        check_choice(info.path, value, s.choices)
    if s.lo is not None or s.hi is not None:
        integer = "int" in str(info.type) and "float" not in str(info.type)
        for item in value if isinstance(value, tuple) else (value,):
            check_number(info.path, item, lo=s.lo, hi=s.hi, lo_open=s.lo_open, hi_open=s.hi_open, integer=integer)
    if s.check is not None:
        s.check(info.path, value, section)


def field_info(klass: type[Section], name: str) -> FieldInfo:
    """The table entry of one field (``KeyError`` for a name the section does not have)."""
    for info in section_fields(klass):
        if info.name == name:
            return info
    raise KeyError(f"{klass.SECTION}.{name}")


__all__ = ["FieldInfo", "FieldSpec", "Option", "Section", "check_value", "field_info", "section_fields", "spec"]
