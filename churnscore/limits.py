"""The bounds on what churnscore reads: file sizes (config, model), nesting, a value shown in an error line,
text from data made safe to print (printable, error_text), and the YAML loader that refuses duplicate keys,
aliases and deep nesting. One place, so the README's list of limits is this module's constants."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

CONFIG_MAX_BYTES = 1 << 20  # a config (or a preset) larger than 1 MiB is refused before it is parsed
MODEL_MAX_BYTES = 50 << 20  # a model document larger than 50 MiB is refused before it is parsed
FIELD_MAX_BYTES = 1 << 20  # default of limits.field_bytes: a longer value (an id, a comment) is a reject
MAX_DEPTH = 64  # mappings and lists nested deeper than this in a config or a model are refused
SHOWN_CHARS = 200  # at most this much of a value is quoted in an error line
ERROR_MAX_CHARS = 2000  # an error line longer than this is cut in the middle
FUTURE_DAYS = 1  # the default as-of date ignores usage rows dated later than the run date plus this many days

# What a terminal acts on rather than shows: C0 controls (ESC among them), DEL, C1 controls (U+009B is a
# one-character CSI), and the bidirectional marks and overrides that make text read other than it is.
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
_UNSAFE_CHAR = re.compile(_UNSAFE)
_UNSAFE_RUN = re.compile(f"({_UNSAFE})\\1{{3,}}")  # the same such character four times or more
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for an error line: at most ``limit`` characters, the rest counted, not quoted."""
    text = repr(value)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit:,} more characters)"
    return text


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` safe to print on a terminal or in a log line: every control character shown as an escape (ESC
    as ``\\x1b``, a line break as ``\\n``, U+202E as ``\\u202e``), so data (account names come from customers)
    can never clear the screen, set the window title or write the clipboard (OSC 52). ``newlines``: keep line
    breaks (text of several lines that churnscore itself laid out). The one sanitiser: error_text and the
    terminal's table use it."""

    def show(m: re.Match[str]) -> str:
        c = m.group()
        if newlines and c == "\n":
            return c
        return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _UNSAFE_CHAR.sub(show, str(text))


def error_text(message: str, limit: int = ERROR_MAX_CHARS) -> str:
    """One safe line for an error: line breaks as spaces, then printable() (control characters as escapes),
    runs of one repeated such character counted instead of repeated, and at most ``limit`` characters (cut in
    the middle, so both the start, naming the file, and the end, naming the fix, stay)."""
    message = str(message).replace("\r\n", " ").replace("\n", " ")
    message = _UNSAFE_RUN.sub(lambda m: f"{printable(m.group(1))}[×{len(m.group(0)):,}]", message)
    message = printable(message)
    if len(message) > limit:
        half = limit // 2
        message = f"{message[:half]} … ({len(message) - 2 * half:,} characters left out) … {message[-half:]}"
    return message


class TooLarge(Exception):
    """A file is larger than its limit (the caller says which file and which limit)."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``; TooLarge when it holds more (``/dev/zero`` included: never more
    than ``limit + 1`` bytes are read)."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(path)
    return data


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON or YAML) nests mappings and lists deeper than ``limit`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) as None, ready for ``json.dumps(allow_nan=False)``:
    no ``NaN`` or ``Infinity`` (not JSON) reaches a log line or a JSON file."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    try:
        import numpy as np

        if isinstance(value, np.floating):
            return float(value) if np.isfinite(value) else None
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return value


class YamlRefused(yaml.MarkedYAMLError):
    """A YAML document that parses but is refused (a duplicate key, an alias, nesting too deep)."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses what would make a config ambiguous or a bomb: a key given twice in one mapping
    (YAML keeps the last silently), an alias (``*name``: a billion-laughs document is a few lines of them),
    and nesting deeper than MAX_DEPTH (the composer recurses: 100,000 levels are a RecursionError)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlRefused(None, None, f"alias '*{shown(event.anchor)[1:-1]}' refused: aliases are not allowed in a config, write the value out",
                              event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                raise YamlRefused(None, None, f"nested deeper than {MAX_DEPTH} levels; refused", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    first = seen[key]
                    raise YamlRefused(None, None, f"duplicate key {shown(key)} (first at line "
                                      f"{first.line + 1}, column {first.column + 1}); keep one of them",
                                      key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with StrictLoader."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def horizon_end(today: Any = None) -> Any:
    """The first instant the default as-of date ignores: the start of the day after the run date (UTC) plus
    FUTURE_DAYS. A row dated 2099 is a typo or a clock gone wrong, not news from the future."""
    import pandas as pd

    today = pd.Timestamp.now(tz="UTC").tz_localize(None) if today is None else pd.Timestamp(today)
    return today.normalize() + pd.Timedelta(days=1 + FUTURE_DAYS)
