"""The config flags, generated from the field table (:func:`resnet_viz.config.all_fields`).

Every field with a ``flag`` becomes a valued flag (its type from the annotation, its choices from the
options, ``parse`` for what the type alone cannot read); every field with ``switches`` becomes one
``store_const`` flag per switch. Each flag stores into ``dest="section.name"`` and only when given
(``default=argparse.SUPPRESS``), so :func:`config_from_args` lays exactly the given flags over the
config file or the defaults.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from resnet_viz.config import FieldInfo, RunConfig, all_fields, read_config_dict

#: The flag groups of ``--help``: title, then the config sections whose fields it holds.
FLAG_GROUPS: dict[str, tuple[str, ...]] = {
    "model": ("model", "init"),
    "training": ("optim", "train"),
    "data": ("data",),
}


def _value_type(info: FieldInfo) -> Any:
    """The annotation without its ``None`` (``int | None`` → ``int``)."""
    annotation = info.type
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _reader(info: FieldInfo) -> Callable[[str], Any] | None:
    """How argparse turns the flag's text into the field's value (``None``: keep the text)."""
    parse = info.spec.parse
    if parse is not None:

        def read(text: str) -> Any:
            try:
                return parse(text)
            except ValueError as exc:  # argparse would print only "invalid read value"
                raise argparse.ArgumentTypeError(str(exc)) from None

        read.__name__ = getattr(parse, "__name__", "value")
        return read
    kind = _value_type(info)
    if kind in (int, float):
        return typing.cast(Callable[[str], Any], kind)
    return None


def _format_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _valued_help(info: FieldInfo) -> str:
    """The field's help, and its default when the help does not say it."""
    text = info.spec.help
    if info.default is not None and "default" not in text.lower():
        text += f" (default {_format_default(info.default)})"
    return text


def _switch_help(info: FieldInfo, value: bool) -> str:
    """A switch's help: the field's, plus what this flag sets when the flag's name does not say it."""
    if len(info.spec.switches) == 1 and value:
        return info.spec.help
    return f"{info.spec.help} This flag: {'on' if value else 'off'}."


def _escape(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats help texts


def add_field_flags(group: Any, info: FieldInfo) -> None:
    """Add the flag(s) of one field to an argparse parser or group (none when the field has none)."""
    s = info.spec
    for flag, value in s.switches:
        group.add_argument(
            flag,
            dest=info.path,
            default=argparse.SUPPRESS,
            action="store_const",
            const=value,
            help=_escape(_switch_help(info, value)),
        )
    if s.flag is None:
        return
    kwargs: dict[str, Any] = {"dest": info.path, "default": argparse.SUPPRESS, "help": _escape(_valued_help(info))}
    reader = _reader(info)
    if reader is not None:
        kwargs["type"] = reader
    if s.options:
        kwargs["choices"] = s.choices
    if s.metavar is not None:
        kwargs["metavar"] = s.metavar
    elif not s.options:
        kwargs["metavar"] = s.flag.lstrip("-").replace("-", "_").upper()
    group.add_argument(s.flag, **kwargs)


def add_config_flags(parser: argparse.ArgumentParser, groups: Sequence[str] = tuple(FLAG_GROUPS)) -> None:
    """Add the flags of every field of the sections of ``groups`` (titles of :data:`FLAG_GROUPS`)."""
    fields = all_fields()
    for title in groups:
        group = parser.add_argument_group(title)
        for section in FLAG_GROUPS[title]:
            for info in fields:
                if info.section == section:
                    add_field_flags(group, info)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """``--config`` plus every model, training and data flag (the commands that train)."""
    parser.add_argument("--config", metavar="FILE", help="start from a config file or a run folder's run.json")
    add_config_flags(parser)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file (if ``--config``) or the defaults, with every flag given on top. Validated, and
    refused (``ConfigError``) when even building its model cannot fit in this machine's memory."""
    from resnet_viz.models.budget import check_fits
    from resnet_viz.models.checkpoint import checkpoint_model_dict

    # the file's values and the flags are merged first and validated together, so a flag can mend a
    # file's combination (``--config old.json --bn``)
    data = read_config_dict(args.config) if getattr(args, "config", None) else RunConfig().to_dict()
    given = vars(args)
    if "init.from_file" in given and not getattr(args, "config", None) and not any(k[:6] == "model." for k in given):
        data["model"] = checkpoint_model_dict(given["init.from_file"], data["model"])  # the checkpoint's network
    for key, value in vars(args).items():
        if "." in key and isinstance(data, dict):
            section, name = key.split(".", 1)
            if isinstance(data.setdefault(section, {}), dict):
                data[section][name] = value
    config = RunConfig.from_dict(data)
    check_fits(config)  # training on the device is checked by Engine.prepare
    return config
