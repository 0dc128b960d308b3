"""A Core statement compiled once for one dialect, to be run straight on a driver connection.

SQLAlchemy's execution compiles (or finds in its cache), builds an execution context, converts
each parameter and row, and fires events: for the few statements every report and decision runs,
that machinery cost more than the statements themselves. A `Compiled` keeps what it works out
once (the SQL, the parameters' order and their conversions, the result columns' conversions) so
that running the statement is a list of values in and a list of tuples out, converted exactly as
SQLAlchemy converts them, because it uses SQLAlchemy's own processors.
"""

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

# An execution option for writes whose result nobody reads (no RETURNING, no row count looked
# at): on SQLite such a statement waits on its connection and goes to aiosqlite's thread with the
# transaction's next statement or with its commit, in one trip (`storage.db`). Elsewhere the
# option changes nothing. A failure of a statement sent later is raised by the statement or
# commit it went with, which is why only results nobody reads may go later.
SENT_LATER_KEY = "engagement_sent_later"
SENT_LATER = {SENT_LATER_KEY: True}

_Convert = Callable[[Any], Any]
_REQUIRED = object()


class Compiled:
    """`statement` compiled for `dialect`. For an INSERT or UPDATE whose values come with each
    execution, `keys` names the columns given (a different set is a different statement), and
    `many` compiles it for several rows at once (no RETURNING, not even PostgreSQL's implicit
    one)."""

    def __init__(
        self, statement: Executable, dialect: Any, keys: tuple[str, ...] = (), *, many: bool = False
    ) -> None:
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(keys) or None, for_executemany=many
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            # SQLAlchemy fills Python-side defaults in its execution context, which is skipped
            # here: a statement run directly must be given every such value.
            missing = sorted(c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch))
            raise ValueError(f"give a value for each column with a Python default: {missing}")
        if compiled.post_compile_params or compiled.literal_execute_params:
            # An IN list is rendered anew for each execution.
            raise ValueError("a statement with an expanding parameter runs through SQLAlchemy")
        self.sql = str(compiled)
        required = {name for name, bind in compiled.binds.items() if bind.required}
        converts: Mapping[str, _Convert] = compiled._bind_processors
        # For each parameter in order: its name, its conversion, and the value written into the
        # statement (a kind to match, say) or _REQUIRED where one must be given.
        self._parameters: tuple[tuple[str, _Convert | None, Any], ...] = tuple(
            (name, converts.get(name), _REQUIRED if name in required else compiled.params[name])
            for name in compiled.positiontup or ()
        )
        # The result columns that need converting (dates from SQLite's text, JSON), by position.
        self._results: tuple[tuple[int, _Convert], ...] = tuple(
            (i, convert)
            for i, entry in enumerate(compiled._result_columns)
            if (convert := entry.type._cached_result_processor(dialect, None)) is not None
        )
        self.later = bool(statement.get_execution_options().get(SENT_LATER_KEY))

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, convert, fixed in self._parameters:
            value = values.get(name, fixed)
            if value is _REQUIRED:
                raise KeyError(f"the statement needs a value for {name!r}")
            out.append(convert(value) if convert is not None and value is not None else value)
        return out

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._results:  # nothing to convert, or a textual statement's unknown columns
            return tuple(raw)
        row = list(raw)
        for i, convert in self._results:
            if row[i] is not None:
                row[i] = convert(row[i])
        return tuple(row)


class Cache:
    """Each statement compiled once per dialect, key set and single or many."""

    def __init__(self, dialect: Any) -> None:
        self._dialect = dialect
        # The statement itself is kept with its compiled form: an id alone could be reused by
        # another statement once the first was gone.
        self._entries: dict[tuple[int, tuple[str, ...], bool], tuple[Executable, Compiled]] = {}

    def get(self, statement: Executable, keys: tuple[str, ...] = (), *, many: bool = False) -> Compiled:
        key = (id(statement), keys, many)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not statement:
            entry = (statement, Compiled(statement, self._dialect, keys, many=many))
            self._entries[key] = entry
        return entry[1]


def engine_error(
    sql: str | None, parameters: Any, error: Exception, base: type, *, dialect: Any = None, lost: bool = False
) -> DBAPIError:
    """A driver's error as SQLAlchemy raises it (so `IntegrityError` is caught where it always
    was), without its parameters (ids, names) in its message; `lost`: the connection broke."""
    return DBAPIError.instance(
        sql, parameters, error, base, hide_parameters=True, connection_invalidated=lost, dialect=dialect
    )
