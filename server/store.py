"""Durable storage of conversations, their messages, and feedback (SQLAlchemy 2, sync).

By default the store is SQLite at ``<data-dir>/icegrt.db``; ``--database-url`` takes any
SQLAlchemy URL (``postgresql+psycopg://user@host/db`` with its driver installed). The tables:
``conversations``, ``messages`` (ordered by an autoincrement ``seq``), ``feedback``.

Schema: versioned by Alembic revisions (`server.migrations`). Opening a database creates it at
the head revision when empty and upgrades an older one (logged); a database from a newer release,
or with tables of no known revision, is refused (`server.migrations.runner.SchemaError`).
``icegrt db current|upgrade`` do the same by hand.

Durability: SQLite runs with ``journal_mode=WAL`` and ``synchronous=FULL``, so a write is fsynced
before its commit returns, and an acknowledged write survives ``kill -9`` of the server (tested)
and a power loss. One server process per SQLite file: writes are serialised in-process (SQLite
has one writer anyway); run several workers or replicas against PostgreSQL instead
(``postgresql://user@host/db``, driver psycopg 3): they migrate the schema under an advisory lock
and serialise appends to one conversation with a row lock.

Tenancy: every row records its ``owner`` (`server.tenancy`), and every lookup takes the
`Principal` it is made for; a row it may not see is reported exactly like a missing one. A
database from before tenancy gets the column on open (revision 0002; its rows have no owner: only
admins and a server without keys see them). Text is stored through `clean_text` (NUL and lone surrogates become
U+FFFD), so SQLite and PostgreSQL accept and return the same.

The methods are synchronous and return frozen records, never ORM objects; async code calls them
through :meth:`Store.run`, which runs them in a worker thread and turns the store's lookup errors
into the API's 404/400 errors. The store knows nothing of HTTP beyond that mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, event, exc
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from server.errors import APIError
from server.migrations.runner import SchemaError, ensure_schema
from server.tenancy import ANONYMOUS, Principal

if TYPE_CHECKING:
    from fastapi import Request

    from server.settings import ServerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
DATABASE_FILE = "icegrt.db"
ID_LENGTH = 64
OWNER_LENGTH = 64
_IN_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


# ---- records (what callers see) -------------------------------------------------------


@dataclass(frozen=True)
class MessageRecord:
    id: str
    conversation_id: str
    role: str
    """"system", "user" or "assistant"."""
    content: str
    created: int
    model: str | None = None
    """The model that wrote an assistant message."""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def chat(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    created: int
    model: str
    metadata: dict[str, str] = field(default_factory=dict)
    messages: tuple[MessageRecord, ...] = ()
    owner: str | None = None
    """The tenant it belongs to (`server.tenancy`); None: created without API keys."""


@dataclass(frozen=True)
class FeedbackRecord:
    """Feedback on one target: a completion id (unverified), or a message of a conversation."""

    id: str
    created: int
    completion_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    rating: int | None = None
    ranking: tuple[str, ...] | None = None
    comment: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class RankedMessage:
    """An assistant message with the conversation before it (its prompt), for preference pairs."""

    message: MessageRecord
    prompt: tuple[dict[str, str], ...]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


# ---- errors ---------------------------------------------------------------------------


class StoreLookupError(Exception):
    """A request names something the store cannot use; `param` is the request field at fault."""

    status = 400

    def __init__(self, message: str, param: str, code: str):
        super().__init__(message)
        self.param = param
        self.code = code


class NotFoundError(StoreLookupError):
    status = 404


class InvalidReferenceError(StoreLookupError):
    """The referenced row exists but cannot be used that way (a user message rated, ...)."""


class QuotaExceededError(StoreLookupError):
    """A tenant has stored as much as it may (429: deleting old conversations makes room)."""

    status = 429


@dataclass(frozen=True)
class TenantUsage:
    conversations: int
    content_bytes: int
    """UTF-8 bytes of the tenant's stored message texts."""


# ---- schema ---------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    created: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(256))
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), index=True)


class MessageRow(Base):
    __tablename__ = "messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(256))
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), index=True)
    """The conversation's owner (kept on each row so a message id alone can be checked)."""

    def record(self) -> MessageRecord:
        return MessageRecord(
            id=self.id, conversation_id=self.conversation_id, role=self.role, content=self.content,
            created=self.created, model=self.model, finish_reason=self.finish_reason,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
        )


class FeedbackRow(Base):
    __tablename__ = "feedback"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    created: Mapped[int] = mapped_column(Integer)
    completion_id: Mapped[str | None] = mapped_column(String(256), index=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    rating: Mapped[int | None] = mapped_column(Integer)
    ranking: Mapped[list | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), index=True)

    def record(self) -> FeedbackRecord:
        return FeedbackRecord(
            id=self.id, created=self.created, completion_id=self.completion_id,
            conversation_id=self.conversation_id, message_id=self.message_id, rating=self.rating,
            ranking=tuple(self.ranking) if self.ranking is not None else None, comment=self.comment,
            owner=self.owner,
        )


# ---- opening --------------------------------------------------------------------------


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).expanduser().resolve() / DATABASE_FILE}"


def store_url(settings: ServerSettings) -> str:
    """The URL the settings select: ``database_url``, else SQLite in ``data_dir``."""
    return settings.database_url or default_database_url(settings.data_dir)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_engine(url: str, *, create: bool = True) -> sa.Engine:
    """An engine for the store at `url`, schema untouched. ``create=False`` refuses to start a new SQLite file.

    Raises:
        ValueError: an in-memory SQLite URL (nothing would be durable), or with ``create=False``
            a SQLite file that does not exist.
        sqlalchemy.exc.ArgumentError / ModuleNotFoundError: a malformed URL or a missing driver.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite database keeps nothing; give a file (sqlite:///path/icegrt.db)")
        path = Path(parsed.database)
        if not create and not path.exists():
            raise ValueError(f"no database at {path}; pass the server's --database-url or --data-dir")
        path.parent.mkdir(parents=True, exist_ok=True)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship, not SQLAlchemy's psycopg2
    engine = sa.create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def describe_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


class Store:
    """Conversations, messages and feedback in one SQL database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock: contextlib.AbstractContextManager = threading.Lock() if self._sqlite else contextlib.nullcontext()

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> "Store":
        """Connect and bring the schema to this release's head (`server.migrations.runner.ensure_schema`:
        created when empty, upgraded when older). ``create=False`` refuses to start a new SQLite file.

        Raises:
            ValueError: an in-memory SQLite URL (nothing would be durable), or with ``create=False``
                a SQLite file that does not exist.
            server.migrations.runner.SchemaError: a schema from a newer release, or tables of no known revision.
            sqlalchemy.exc.ArgumentError / ModuleNotFoundError: a malformed URL or a missing driver.
        """
        engine = open_engine(url, create=create)
        try:
            ensure_schema(engine, where=describe_url(engine))
        except SchemaError as exc:
            log.error("store: %s", exc)  # one plain line, not only the end of the server's startup traceback
            engine.dispose()
            raise
        except BaseException:
            engine.dispose()
            raise
        log.info("store: %s", describe_url(engine))
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def of(request: Request) -> "Store":
        return request.app.state.store

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a store method in a worker thread; lookup errors become the API's 404/400."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except StoreLookupError as err:
            raise APIError(err.status, str(err), param=err.param, code=err.code) from err

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, self._sessions.begin() as session:
            yield session

    # ---- conversations ------------------------------------------------------------------
    # Every lookup takes the `Principal` it is made for: a row it may not see is reported exactly
    # like a missing one. The default, `ANONYMOUS`, sees everything (no-auth mode, the CLI).

    def create_conversation(self, model: str, metadata: dict[str, str] | None = None,
                            system: str | None = None, *, owner: str | None = None,
                            max_conversations: int | None = None) -> ConversationRecord:
        """A new conversation (with its system message) owned by `owner`.

        Raises:
            QuotaExceededError: `owner` already keeps `max_conversations` conversations.
        """
        metadata = {clean_text(k): clean_text(v) for k, v in (metadata or {}).items()}
        conversation = ConversationRecord(id=new_id("conv"), created=now(), model=model, metadata=metadata,
                                          owner=owner)
        messages: tuple[MessageRecord, ...] = ()
        if system is not None:
            messages = (MessageRecord(new_id("msg"), conversation.id, "system", clean_text(system),
                                      conversation.created),)
        with self._write() as session:
            if max_conversations is not None and owner is not None:
                kept = session.scalar(sa.select(sa.func.count()).where(ConversationRow.owner == owner))
                if kept >= max_conversations:
                    raise QuotaExceededError(
                        f"this API key's tenant keeps {kept} conversations, its limit of {max_conversations}; "
                        "delete some (DELETE /v1/conversations/{id}) to make room", "conversation", "quota_exceeded")
            session.add(ConversationRow(id=conversation.id, created=conversation.created, model=model,
                                        metadata_=conversation.metadata, owner=owner))
            session.flush()
            session.add_all(_message_row(m, owner) for m in messages)
        return ConversationRecord(conversation.id, conversation.created, model, metadata, messages, owner)

    def get_conversation(self, conversation_id: str, *, principal: Principal = ANONYMOUS) -> ConversationRecord:
        """The conversation with all its messages, oldest first.

        Raises:
            NotFoundError: no such conversation, or one `principal` may not see (param ``conversation_id``).
        """
        with self._sessions() as session:
            row = _visible_conversation(session, conversation_id, principal)
            messages = _history(session, row.id)
            return ConversationRecord(row.id, row.created, row.model, dict(row.metadata_ or {}), tuple(messages),
                                      row.owner)

    def append_messages(self, conversation_id: str, messages: Sequence[MessageRecord], *,
                        principal: Principal = ANONYMOUS) -> None:
        """Add messages (a user turn and its reply) in one transaction, after the existing ones.

        Raises:
            NotFoundError: the conversation does not exist (or was deleted meanwhile), or `principal` may not see it.
        """
        assert all(m.conversation_id == conversation_id for m in messages)
        try:
            with self._write() as session:
                # The row lock serialises appends to one conversation across processes (PostgreSQL),
                # so each exchange's messages get consecutive ``seq`` numbers, never interleaved.
                row = _visible_conversation(session, conversation_id, principal, lock=True)
                session.add_all(_message_row(m, row.owner) for m in messages)
        except exc.IntegrityError as err:  # deleted between the check and the insert (other process)
            raise _no_conversation(conversation_id) from err

    def delete_conversation(self, conversation_id: str, *, principal: Principal = ANONYMOUS) -> None:
        """Delete the conversation, its messages, and the feedback on it.

        Raises:
            NotFoundError: no such conversation, or one `principal` may not see.
        """
        with self._write() as session:
            row = _visible_conversation(session, conversation_id, principal, lock=True)
            session.execute(sa.delete(FeedbackRow).where(FeedbackRow.conversation_id == row.id))
            session.execute(sa.delete(MessageRow).where(MessageRow.conversation_id == row.id))
            deleted = session.execute(sa.delete(ConversationRow).where(ConversationRow.id == row.id))
            if deleted.rowcount == 0:
                raise _no_conversation(conversation_id)

    def tenant_usage(self, owner: str) -> TenantUsage:
        """What `owner` keeps stored: its conversations and the bytes of their messages."""
        content_bytes = sa.func.coalesce(sa.func.sum(sa.func.length(sa.cast(MessageRow.content, sa.LargeBinary))), 0)
        with self._sessions() as session:
            conversations = session.scalar(sa.select(sa.func.count()).where(ConversationRow.owner == owner))
            stored = session.scalar(sa.select(content_bytes).where(MessageRow.owner == owner))
            return TenantUsage(conversations, int(stored))

    def delete_inactive(self, before: int) -> int:
        """Delete every conversation with no activity (creation or message) since `before` (Unix seconds),
        with its messages and feedback; returns how many."""
        recent = sa.select(MessageRow.id).where(MessageRow.conversation_id == ConversationRow.id,
                                                MessageRow.created >= before).exists()
        with self._write() as session:
            ids = list(session.scalars(sa.select(ConversationRow.id).where(ConversationRow.created < before, ~recent)))
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                session.execute(sa.delete(FeedbackRow).where(FeedbackRow.conversation_id.in_(chunk)))
                session.execute(sa.delete(MessageRow).where(MessageRow.conversation_id.in_(chunk)))
                session.execute(sa.delete(ConversationRow).where(ConversationRow.id.in_(chunk)))
        return len(ids)

    # ---- feedback -----------------------------------------------------------------------

    def add_feedback(self, feedback: FeedbackRecord, *, principal: Principal = ANONYMOUS) -> FeedbackRecord:
        """Store feedback after checking what it references, in one transaction.

        A ``completion_id`` (and a ranking of completion ids) is stored as given: completions are
        not logged, so they cannot be checked. A ``conversation_id`` + ``message_id`` must name an
        assistant message of that conversation, and every id of a ``ranking`` must name an
        assistant message (of any conversation) that answers the same prompt as ``message_id``:
        the same messages before it, role for role and character for character. Every referenced
        conversation and message must be one `principal` may see. Nothing is stored when a check fails.

        Raises:
            NotFoundError: unknown (or foreign) conversation, message, or ranked message (param names the field).
            InvalidReferenceError: a non-assistant message, or a ranked reply to a different prompt.
        """
        feedback = _clean_feedback(feedback)
        with self._write() as session:
            if feedback.conversation_id is not None:
                _check_message_target(session, feedback, principal)
            session.add(FeedbackRow(
                id=feedback.id, created=feedback.created, completion_id=feedback.completion_id,
                conversation_id=feedback.conversation_id, message_id=feedback.message_id, rating=feedback.rating,
                ranking=list(feedback.ranking) if feedback.ranking is not None else None, comment=feedback.comment,
                owner=feedback.owner,
            ))
        return feedback

    def list_feedback(self, *, principal: Principal = ANONYMOUS) -> list[FeedbackRecord]:
        """The feedback `principal` may see (an admin: all), oldest first."""
        query = sa.select(FeedbackRow).where(*_owned(FeedbackRow.owner, principal)).order_by(FeedbackRow.seq)
        with self._sessions() as session:
            return [row.record() for row in session.scalars(query)]

    def ranked_messages(self, message_ids: Iterable[str], *,
                        principal: Principal = ANONYMOUS) -> dict[str, RankedMessage]:
        """The messages among `message_ids` that still exist and `principal` may see, each with the messages
        before it."""
        ids = sorted(set(message_ids))
        with self._sessions() as session:
            conversations = set()
            for start in range(0, len(ids), _IN_CHUNK):
                conversations.update(session.scalars(
                    sa.select(MessageRow.conversation_id).where(MessageRow.id.in_(ids[start:start + _IN_CHUNK]),
                                                                *_owned(MessageRow.owner, principal))
                ))
            wanted, found = set(ids), {}
            for conversation_id in sorted(conversations):
                history = _history(session, conversation_id)
                for index, message in enumerate(history):
                    if message.id in wanted:
                        found[message.id] = RankedMessage(message, tuple(m.chat() for m in history[:index]))
            return found


# ---- helpers --------------------------------------------------------------------------


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` as every supported database can store it: NUL (which PostgreSQL refuses) and lone
    surrogates (which no UTF-8 database can hold) become U+FFFD, so SQLite and PostgreSQL agree."""
    return _UNSTORABLE.sub("\ufffd", text)


def _clean_feedback(feedback: FeedbackRecord) -> FeedbackRecord:
    def clean(value: str | None) -> str | None:
        return None if value is None else clean_text(value)

    ranking = tuple(clean_text(i) for i in feedback.ranking) if feedback.ranking is not None else None
    return replace(feedback, completion_id=clean(feedback.completion_id), conversation_id=clean(feedback.conversation_id),
                   message_id=clean(feedback.message_id), ranking=ranking, comment=clean(feedback.comment))


def _owned(owner_column: Any, principal: Principal) -> list:
    """The WHERE clauses that keep only rows `principal` may see."""
    return [] if principal.admin else [owner_column == principal.owner]


def _visible_conversation(session: Session, conversation_id: str, principal: Principal,
                          lock: bool = False) -> ConversationRow:
    row = session.get(ConversationRow, clean_text(conversation_id), with_for_update=lock)
    if row is None or not principal.may_see(row.owner):
        raise _no_conversation(conversation_id)
    return row


def _message_row(message: MessageRecord, owner: str | None) -> MessageRow:
    return MessageRow(
        id=message.id, conversation_id=message.conversation_id, role=message.role, content=clean_text(message.content),
        created=message.created, model=message.model, finish_reason=message.finish_reason,
        prompt_tokens=message.prompt_tokens, completion_tokens=message.completion_tokens, owner=owner,
    )


def _no_conversation(conversation_id: str) -> NotFoundError:
    return NotFoundError(f"conversation {conversation_id!r} does not exist", "conversation_id", "conversation_not_found")


def _history(session: Session, conversation_id: str) -> list[MessageRecord]:
    rows = session.scalars(
        sa.select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.seq)
    )
    return [row.record() for row in rows]


def _prompt_of(session: Session, message: MessageRow) -> list[tuple[str, str]]:
    rows = session.execute(
        sa.select(MessageRow.role, MessageRow.content)
        .where(MessageRow.conversation_id == message.conversation_id, MessageRow.seq < message.seq)
        .order_by(MessageRow.seq)
    )
    return [tuple(row) for row in rows]


def _check_message_target(session: Session, feedback: FeedbackRecord, principal: Principal) -> None:
    _visible_conversation(session, feedback.conversation_id, principal)
    target = session.scalar(sa.select(MessageRow).where(
        MessageRow.id == feedback.message_id, MessageRow.conversation_id == feedback.conversation_id))
    if target is None:
        raise NotFoundError(f"message {feedback.message_id!r} is not in conversation {feedback.conversation_id!r}",
                            "message_id", "message_not_found")
    if target.role != "assistant":
        raise InvalidReferenceError(f"message {feedback.message_id!r} is a {target.role} message; feedback rates "
                                    "assistant replies", "message_id", "invalid_value")
    if not feedback.ranking:
        return
    prompt = _prompt_of(session, target)
    for index, message_id in enumerate(feedback.ranking):
        param = f"ranking[{index}]"
        row = target if message_id == target.id else session.scalar(
            sa.select(MessageRow).where(MessageRow.id == message_id, *_owned(MessageRow.owner, principal)))
        if row is None:
            raise NotFoundError(f"message {message_id!r} does not exist", param, "message_not_found")
        if row.role != "assistant":
            raise InvalidReferenceError(f"message {message_id!r} is a {row.role} message; rank assistant replies",
                                        param, "invalid_value")
        if row is not target and _prompt_of(session, row) != prompt:
            raise InvalidReferenceError(
                f"message {message_id!r} answers a different prompt than message_id {target.id!r}; a ranking "
                "compares replies to the same conversation so far", param, "invalid_value")

