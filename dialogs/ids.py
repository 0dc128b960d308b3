"""Record ids as cards send them back: only plain, positive, 32-bit whole numbers are ids."""

import re
from typing import Any

_DIGITS = re.compile(r"[0-9]{1,10}")
MAX_ID = 2**31 - 1  # PostgreSQL's integer; anything larger names no row and must not reach it


def record_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None
