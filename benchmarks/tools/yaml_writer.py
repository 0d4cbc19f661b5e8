"""A small YAML writer for the compose files: block style, quoted only where YAML would misread.

The lab has no YAML dependency for this one output, and the real Compose binary checks every
file it writes (`nox -s compose`), so a reader that disagreed with this writer would be caught.
"""

from __future__ import annotations

import json
import re

_PLAIN = re.compile(r"^[A-Za-z_./-][A-Za-z0-9_./:@-]*$")
_NUMBER_LIKE = re.compile(r"^[-+.]*(\d|inf|nan)", re.IGNORECASE)
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "-"}


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not _NUMBER_LIKE.match(text):
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars; multi-line strings as literal blocks."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            k = _scalar(key)
            if isinstance(item, str) and "\n" in item:
                body = "".join(
                    f"{pad}  {line}\n" if line else "\n" for line in item.rstrip("\n").split("\n")
                )
                lines.append(f"{pad}{k}: |\n{body}")
            elif isinstance(item, dict | list) and item:
                lines.append(f"{pad}{k}:\n{to_yaml(item, indent + 1)}")
            elif isinstance(item, dict | list):
                lines.append(f"{pad}{k}: {'{}' if isinstance(item, dict) else '[]'}\n")
            else:
                lines.append(f"{pad}{k}: {_scalar(item)}\n")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                inner = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {inner.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}\n")
    else:
        lines.append(f"{pad}{_scalar(value)}\n")
    return "".join(lines)


# --- command line -----------------------------------------------------------------------------
