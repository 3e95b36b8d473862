"""Numeric CSV files (a header, then numbers) read into numpy columns in time and memory proportional
to the file: numpy's C parser over blocks of lines, never a Python object per value.

Empty fields are NaN; ``nan``, ``inf`` and ``-inf`` are read as written. A last line without a line
ending is what a writer killed mid-row leaves; it is dropped (``complete_rows_only``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

BLOCK_BYTES = 16 << 20  # parse this much text at a time: 16 MiB of text, about 270,000 metrics.csv rows


def _fill_empty(block: bytes) -> bytes:
    """Write ``nan`` into empty fields (``,,``, a leading or a trailing comma) of complete lines."""
    block = block.replace(b",,", b",nan,").replace(b",,", b",nan,")  # twice: ",,," overlaps
    block = block.replace(b",\r\n", b",nan\r\n").replace(b",\n", b",nan\n")
    block = block.replace(b"\n,", b"\nnan,")
    if block.endswith(b","):  # the last line without a line ending
        block += b"nan"
    return b"nan" + block if block.startswith(b",") else block


def _good_prefix(lines: bytes, n_fields: int) -> np.ndarray:
    """The rows of ``lines`` before the first that does not parse (line by line: only for a damaged block)."""
    rows = []
    for line in lines.splitlines():
        try:
            row = np.loadtxt(io.BytesIO(_fill_empty(line)), delimiter=",", dtype=np.float64, ndmin=1, encoding="utf-8")
        except ValueError:
            break
        if row.shape != (n_fields,):
            break
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), n_fields)


def _header(line: bytes, names: Sequence[str] | None) -> list[str]:
    """The column names: ``names`` when given, else those of the header ``line``."""
    if names is not None:
        return list(names)
    try:
        header = line.decode("utf-8").strip().split(",")
    except UnicodeDecodeError:
        raise ValueError("the header line is not UTF-8 text") from None
    if header == [""]:
        raise ValueError("the file is empty (no header line)")
    return header


def read_csv_columns(
    source: str | Path | BinaryIO,
    *,
    names: Sequence[str] | None = None,
    complete_rows_only: bool = True,
    stop_at_damage: bool = False,
    block_bytes: int = BLOCK_BYTES,
) -> dict[str, np.ndarray]:
    """The columns of a numeric CSV file, by header name: float64 [N] each (NaN where a field is empty).

    ``names``: the column names to use instead of the header line's (the first line is skipped).
    Raises ``ValueError`` naming the line for a field that is not a number or a row with another number
    of fields than the header; with ``stop_at_damage`` the rows before such a line are returned instead.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            return read_csv_columns(
                fh,
                names=names,
                complete_rows_only=complete_rows_only,
                stop_at_damage=stop_at_damage,
                block_bytes=block_bytes,
            )
    header = _header(source.readline(), names)
    blocks: list[np.ndarray] = []
    rows_before = 0
    tail = b""
    while True:
        data = source.read(block_bytes)
        text = tail + data
        if not data:  # end of file: what is left is a last line without a line ending
            tail = b"" if complete_rows_only else text
            lines = tail
        else:
            cut = text.rfind(b"\n") + 1
            lines, tail = text[:cut], text[cut:]
        if lines.strip():
            try:
                table = np.loadtxt(
                    io.BytesIO(_fill_empty(lines)), delimiter=",", dtype=np.float64, ndmin=2, encoding="utf-8"
                )
                if table.shape[1] != len(header):
                    raise ValueError(f"{table.shape[1]} fields in a row, {len(header)} in the header")
            except ValueError as exc:
                if not stop_at_damage:
                    raise ValueError(f"after data line {rows_before}: {' '.join(str(exc).split())}") from None
                blocks.append(_good_prefix(lines, len(header)))
                break
            blocks.append(table)
            rows_before += table.shape[0]
        if not data:
            break
    table = np.concatenate(blocks) if blocks else np.zeros((0, len(header)), dtype=np.float64)
    return {name: np.ascontiguousarray(table[:, j]) for j, name in enumerate(header)}
