"""Engine, sessions and the transaction scope every service call runs in."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import Engine, Index, create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker

from meterbill.core.sqlite_functions import register_sqlite_functions


class Base(DeclarativeBase):
    pass


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, pool_size: int = 20) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_immediate_on_sqlite)
        return engine
    # No ping before each checkout: it costs a round trip per transaction. Connections
    # are recycled instead, and a dropped one fails that one request only.
    # JSON is read back with orjson, as the API parsed it: JSONB writes a JSON number
    # such as 1e300 in full, which json.loads makes an int orjson cannot write.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        json_deserializer=orjson.loads,
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control from the sqlite3 module so that BEGIN is ours.
    dbapi_connection.isolation_level = None
    register_sqlite_functions(dbapi_connection)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate_on_sqlite(connection: Any) -> None:
    # A deferred BEGIN that later writes can fail with "database is locked" without
    # waiting; BEGIN IMMEDIATE waits for the write lock up front. Reads use plain BEGIN.
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


class WriteLock:
    """SQLite's single write slot, in which real writers pass yielding ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._taken = False
        self._real_waiting = 0

    @contextmanager
    def held(self, *, yielding: bool) -> Iterator[None]:
        with self._changed:
            if not yielding:
                self._real_waiting += 1
            try:
                while self._taken or (yielding and self._real_waiting):
                    self._changed.wait()
                self._taken = True
            finally:
                if not yielding:
                    self._real_waiting -= 1
        try:
            yield
        finally:
            with self._changed:
                self._taken = False
                self._changed.notify_all()


class Database:
    """One engine plus the rules for opening transactions on it."""

    def __init__(self, url: str, pool_size: int = 20) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sqlite = is_sqlite(url)
        # PostgreSQL reads at READ COMMITTED see a fresh snapshot per statement anyway:
        # a read "transaction" would only add a BEGIN and a COMMIT round trip each.
        reads = (
            self.engine
            if self.sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._read_sessions = sessionmaker(reads, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE"), expire_on_commit=False
        )
        # SQLite has one writer; waiting in Python is fairer and far faster than
        # SQLite's own busy loop, which sleeps up to 100 ms between attempts.
        self._write_lock = WriteLock() if self.sqlite else None

    @contextmanager
    def transaction(self, write: bool = True, *, yielding: bool = False) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error.

        A `yielding` writer (a preview's rehearsal) lets every real writer waiting for
        SQLite's one write slot go first; PostgreSQL needs no such order.
        """
        lock = (
            self._write_lock.held(yielding=yielding)
            if (write and self._write_lock)
            else nullcontext()
        )
        sessions = self._write_sessions if write else self._read_sessions
        with lock, sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


class Transactions(Protocol):
    """What the clock's jobs need: a way to open transactions."""

    def transaction(self, write: bool = True) -> AbstractContextManager[Session]: ...


T = TypeVar("T")

MEMO_KEY = "meterbill.memo"


@contextmanager
def frozen_catalog(session: Session) -> Iterator[None]:
    """Within this block the catalog does not change (a billing run).

    Reads that go through `memo` are then made once per block instead of once per
    invoice: plans, charges and metrics are shared by thousands of subscriptions.
    """
    if MEMO_KEY in session.info:  # already inside a frozen block
        yield
        return
    session.info[MEMO_KEY] = {}
    try:
        yield
    finally:
        session.info.pop(MEMO_KEY, None)


def memo(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, remembered for the transaction when its catalog is frozen."""
    cache: dict[Hashable, Any] | None = session.info.get(MEMO_KEY)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]  # type: ignore[no-any-return]


def live_index(name: str, *columns: str, where: str = "deleted_at IS NULL") -> Index:
    """A unique index among rows that are not deleted (identity by code / external id)."""
    condition = text(where)
    return Index(name, *columns, unique=True, sqlite_where=condition, postgresql_where=condition)


def flush_in_table_order(session: Session) -> None:
    """Flush new rows table by table, parents first, then everything else.

    The unit of work orders inserts only along relationship()s; rows linked by a bare
    foreign key (a fee to its invoice) can otherwise go out before their parent. Rows
    of a table that set the same columns become one multi-row INSERT (the unit of work
    batches only consecutive rows of one shape).
    """
    order = {table: position for position, table in enumerate(Base.metadata.sorted_tables)}
    groups: dict[tuple[int, frozenset[str]], list[object]] = {}
    for instance in session.new:
        table = instance.__table__  # type: ignore[attr-defined]
        shape = frozenset(inspect(instance).dict)
        groups.setdefault((order[table], shape), []).append(instance)
    for key in sorted(groups, key=lambda key: key[0]):
        session.flush(groups[key])
    session.flush()


def inside_transaction(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether `transaction` is `ended` or nested in it: work recorded in a savepoint that
    rolled back goes with it."""
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False
