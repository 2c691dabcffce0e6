"""A table's column names as its file holds them, checked alike wherever a table is read (a
packaging sample, a scoring input): a name written twice, which pandas would rename "age.1"
without a word, or a CSV header that is one name holding another separator (a ';'-separated
export, whose decimal commas would also split its values). No pandas: scoring imports it."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

_SEPARATORS = ";\t|,"


def first_repeated(names: list[str]) -> tuple[str, int] | None:
    """The first column name that appears more than once (Parquet allows it), and how many
    times; None when every name is unique. Which of the two a model should take is anyone's
    guess, so tables like that are refused."""
    counts = Counter(names)
    for name in names:
        if counts[name] > 1:
            return name, counts[name]
    return None


def csv_header(path: Path, separator: str = ",") -> list[str]:
    """The names on a CSV file's first line, as written (a BOM dropped)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next(csv.reader(handle, delimiter=separator), [])


def header_problem(names: list[str], separator: str | None = None) -> str | None:
    """What is wrong with a table's column ``names`` (a CSV's read with ``separator``), as a
    message to follow the table's name; None when nothing is."""
    if separator is not None and len(names) == 1:
        others = [mark for mark in _SEPARATORS if mark != separator and mark in names[0]]
        if others:
            return (
                f"reads as one column {names[0][:60]!r}: its values are separated by"
                f" {others[0]!r}, not {separator!r}; write it with {separator!r} separators and"
                " '.' decimals (pandas: frame.to_csv(path, index=False)) or as Parquet"
            )
    repeated = first_repeated(names)
    if repeated is not None:
        return f"column {repeated[0]!r} appears {repeated[1]} times; give every column its own name"
    return None
