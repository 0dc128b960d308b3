"""Counting the trips a piece of work makes to an aiosqlite connection's thread."""

from typing import Any


def count_trips(connection: Any) -> list[Any]:
    """Each function sent to the aiosqlite connection's thread from now on, as it is sent."""
    trips: list[Any] = []
    original = connection._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await original(fn, *args, **kwargs)

    connection._execute = counted
    return trips


async def trips_of(holder: Any) -> list[Any]:
    """`count_trips` on the aiosqlite connection under an AsyncConnection, or under the one an
    AsyncSession holds for its transaction (taken now if it holds none yet)."""
    connection = holder if hasattr(holder, "get_raw_connection") else await holder.connection()
    return count_trips((await connection.get_raw_connection()).driver_connection)
