"""Database models (SQLAlchemy 2, typed).

Personal data lives only in ``residents``, ``resident_children`` and
``resident_interests``; deleting a resident row removes all of it (ON DELETE
CASCADE), including the family profiles it holds (``guardian_id``).
``resident_activity`` keeps anonymous counts for the KPIs and never names a resident.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.clock import TOKYO

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Timestamp(TypeDecorator):
    """A moment in time: stored as UTC, handed back timezone-aware in Asia/Tokyo.

    PostgreSQL's timestamptz keeps the moment whatever the zone; SQLite has no time zones
    and stores the wall-clock text it is given, so every value is converted to UTC on the
    way in — the zone of SQLite's own CURRENT_TIMESTAMP (server defaults). Without this, a
    UTC value and a Tokyo value of the same moment would compare nine hours apart on
    SQLite (KPI months, retention cut-offs).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Todoku stores only timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: the UTC wall-clock time written above
            value = value.replace(tzinfo=UTC)
        return value.astimezone(TOKYO)


class RunStatus(StrEnum):
    """A campaign run's life: claimed → deliveries recorded → sent (or given up)."""

    RUNNING = "running"  # claimed; deliveries being recorded, a chunk at a time (resumed)
    SENDING = "sending"  # recorded; batches still pending (or deferred notices released)
    DONE = "done"  # nothing pending any more
    STOPPED = "stopped"  # gave up the rest, e.g. LINE's monthly quota used up (`reason`)
    EXPIRED = "expired"  # not run: its program closed, or superseded after downtime


class RunKind(StrEnum):
    """Why a campaign run exists."""

    SLOT = "slot"  # a send slot of campaigns.yaml (or `todoku send`)
    CATCHUP = "catchup"  # the day's notices to residents who became eligible after a slot ran


class DeliveryStatus(StrEnum):
    """One notice to one resident: the outbox row's life."""

    PENDING = "pending"  # recorded, waiting for a batch
    SENDING = "sending"  # in a batch whose retry key is stored; the call may be under way
    SENT = "sent"  # LINE accepted the batch (200, or 409: accepted earlier)
    DEFERRED = "deferred"  # over max_per_week: goes out on `defer_until`, re-checked then
    FAILED = "failed"  # LINE refused it for good (`reason` has LINE's message)
    SKIPPED = "skipped"  # not sent: deleted, paused, no longer eligible… (`reason`)
    UNKNOWN = "unknown"  # unconfirmed past LINE's 24 h key memory: never resent


class BatchStatus(StrEnum):
    """One multicast request (its X-Line-Retry-Key)."""

    PENDING = "pending"  # key stored; sent or being retried
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # its campaign or program left the configuration before sending
    UNKNOWN = "unknown"  # unconfirmed and its key is older than 23 h


# residents.language of a new friend from their follow's commit until the reply thread has
# asked LINE for their app's language (bot.registration.language.welcome_now): read as
# Japanese meanwhile, like any language Todoku does not have.
LANGUAGE_ASKING = ""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Resident(Base):
    """A LINE user who follows (or followed) the city's account, or a family profile.

    A family profile (代理受信) is a person the account holder looks after, typically a
    parent without a smartphone: a row with no ``line_user_id``, a ``guardian_id`` naming
    the account's row and a ``label`` the holder chose (「母」). The segment engine matches
    it on its own answers like any resident; its notices go to the guardian's LINE id.
    It mirrors its account's ``following``, ``unfollowed_at``, ``consented_at``,
    ``notices_paused`` and ``language`` (``mirror_to_profiles``, called in the same
    transaction wherever they change), so every audience query reads one row per profile.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL for a family profile (unique ignores NULLs on both databases).
    line_user_id: Mapped[str | None] = mapped_column(String(33), unique=True)
    guardian_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(20))
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    followed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    unfollowed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    consented_at: Mapped[datetime | None] = mapped_column(Timestamp)
    registered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Answers: NULL means "not given" (skipped); see config.md on skipped answers.
    birth_date: Mapped[date | None] = mapped_column(Date)
    district: Mapped[str | None] = mapped_column(String(40))
    household_size: Mapped[int | None] = mapped_column(Integer)
    pregnant: Mapped[bool | None] = mapped_column(Boolean)
    single_parent: Mapped[bool | None] = mapped_column(Boolean)
    children_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    notices_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The language the resident reads Todoku in (messages.languages.LANGUAGES);
    # LANGUAGE_ASKING for a new friend while the reply thread asks LINE for it.
    language: Mapped[str] = mapped_column(String(8), default="ja", server_default="ja")
    # The registration dialog's state: survives restarts of the web process.
    dialog: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, server_default=func.now(), onupdate=func.now()
    )

    children: Mapped[list[ResidentChild]] = relationship(
        back_populates="resident",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ResidentChild.birth_date",
    )
    interests: Mapped[list[ResidentInterest]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ResidentInterest.topic"
    )
    # The family profiles this account holds (empty for a profile itself).
    profiles: Mapped[list[Resident]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Resident.id"
    )

    __table_args__ = (
        UniqueConstraint("guardian_id", "label", name="uq_residents_guardian_label"),
        # The few new friends whose language is still being asked, by when they followed
        # (bot.registration.language.learn_left): never a scan of every resident.
        Index(
            "ix_residents_language_asking",
            "followed_at",
            sqlite_where=text("language = ''"),
            postgresql_where=text("language = ''"),
        ),
    )

    @property
    def is_profile(self) -> bool:
        """True for a family profile (no LINE account of its own)."""
        return self.guardian_id is not None

    # The account's state a family profile copies (see the class docstring).
    MIRRORED = ("following", "unfollowed_at", "consented_at", "notices_paused", "language")

    def mirror_to_profiles(self) -> None:
        """Copy the account's following, consent and pause onto its family profiles.

        Called wherever those change on an account (follow, unfollow, pause), in the
        same transaction: audience queries then read a profile's row alone.
        """
        for profile in self.profiles:
            for name in self.MIRRORED:
                setattr(profile, name, getattr(self, name))


class ResidentChild(Base):
    """One child of a resident, known only by birth date."""

    __tablename__ = "resident_children"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    birth_date: Mapped[date] = mapped_column(Date)

    resident: Mapped[Resident] = relationship(back_populates="children")


class ResidentInterest(Base):
    """A topic the resident opted in to (one of municipality.topics)."""

    __tablename__ = "resident_interests"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)


class ResidentActivity(Base):
    """An anonymous fact for the KPIs (follow, unfollow, consent, registered, deleted, purged)."""

    __tablename__ = "resident_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)

    __table_args__ = (Index("ix_resident_activity_kind_at", "kind", "occurred_at"),)


class WebhookEvent(Base):
    """A webhook event already handled: LINE may deliver the same event more than once."""

    __tablename__ = "webhook_events"

    webhook_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(Timestamp)


class CampaignRun(Base):
    """One firing of one campaign slot; the unique key makes a slot run once."""

    __tablename__ = "campaign_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(80))
    program_id: Mapped[str] = mapped_column(String(80))
    slot_at: Mapped[datetime] = mapped_column(Timestamp)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING)  # RunStatus
    reminder: Mapped[bool] = mapped_column(Boolean, default=False)
    # RunKind. "slot": a send slot of campaigns.yaml; "catchup": one day's notices to
    # residents who became eligible after the campaign's slot ran (slot_at = that day's
    # first catch-up pass with someone to tell).
    kind: Mapped[str] = mapped_column(String(20), default=RunKind.SLOT, server_default="slot")
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        UniqueConstraint("campaign_id", "slot_at", "kind", name="uq_campaign_runs_slot_kind"),
    )


class Delivery(Base):
    """One notice to one resident in one run: the outbox row, written before the send."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The run and the batch (below) are not foreign keys: PostgreSQL checked each per
    # inserted row, half the cost of recording a run; both are written in the same
    # transaction as the rows naming them and never deleted while named (migration 0010).
    run_id: Mapped[int] = mapped_column(Integer)
    program_id: Mapped[str] = mapped_column(String(80))
    # Set NULL when the resident is deleted: counts survive, the person does not. Not a
    # foreign key (PostgreSQL checked it per inserted row, half the cost of recording a
    # run): a trigger on residents sets it, after waiting for any chunk being recorded
    # (migration 0011).
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # DeliveryStatus: pending → sending → sent | failed | unknown; deferred → pending later;
    # skipped. `reason` says why for deferred, skipped and failed. In no index, not even a
    # partial index's WHERE: almost every row is written `sending` and settled `sent`, and
    # so PostgreSQL can settle a row in place (a HOT update, no new index entries; with
    # the pages' free space below) — settling had cost as much as recording.
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(Text)
    batch_key: Mapped[str | None] = mapped_column(String(36), index=True)  # send_batches.key
    defer_until: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        UniqueConstraint("run_id", "resident_id", name="uq_deliveries_run_resident"),
        # A run's rows not in a batch (pending: family profiles, released deferrals; and
        # deferred, skipped), in id order. Rows recorded in their batch never enter it.
        Index(
            "ix_deliveries_unbatched",
            "run_id",
            "id",
            sqlite_where=text("batch_key IS NULL"),
            postgresql_where=text("batch_key IS NULL"),
        ),
        # Deferred rows by the moment they may go (the scheduler's minute tick).
        Index(
            "ix_deliveries_deferred",
            "defer_until",
            sqlite_where=text("defer_until IS NOT NULL"),
            postgresql_where=text("defer_until IS NOT NULL"),
        ),
        # PostgreSQL: half of each page left free when rows are written, for their settled
        # versions (HOT). The table takes ~2x the space; settling 100,000 rows took 1.6 s
        # without and 0.35 s with it (docs/benchmarks.md).
        {"postgresql_with": {"fillfactor": 50}},
    )


class SendBatch(Base):
    """One multicast request: its X-Line-Retry-Key is stored before the HTTP call."""

    __tablename__ = "send_batches"

    key: Mapped[str] = mapped_column(String(36), primary_key=True)  # the retry key (UUID)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_runs.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.PENDING)  # BatchStatus
    # Whose notices the batch's one message names, as a JSON list of family labels ("" is
    # the account holder); NULL: the holders' own notices, the usual case. Kept so that a
    # retry sends the same message; cleared when the batch is settled (labels are personal).
    whose: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Which message variant its recipients get (bot.dispatch.variant.Variant.key): every
    # attempt of the batch sends the same one.
    variant: Mapped[str] = mapped_column(String(40), default="ja", server_default="ja")


class Click(Base):
    """A tap on a notice's link (GET /r/<token>); anonymous: per campaign run, not per person."""

    __tablename__ = "clicks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_runs.id", ondelete="SET NULL"))
    campaign_id: Mapped[str | None] = mapped_column(String(80))
    program_id: Mapped[str] = mapped_column(String(80))
    link: Mapped[str] = mapped_column(String(20))  # "homepage" or "apply"
    clicked_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    # A keyed digest of (token, client address, Tokyo day): a replayed link counts once a
    # day per visitor. Not reversible without TODOKU_SECRET_KEY; no address is stored.
    visit_key: Mapped[str | None] = mapped_column(String(32), unique=True)


class SchedulerLease(Base):
    """Who the active scheduler is: one row, renewed while alive, taken over when it expires."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class AuditEntry(Base):
    """Who did what, when (staff logins, test sends, manual sends, exports). No resident data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)


class ProgramResponse(Base):
    """A resident's answer about one program: 申請済み (applied) or 対象外・不要 (not needed)."""

    __tablename__ = "program_responses"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    answer: Mapped[str] = mapped_column(String(20))
    answered_at: Mapped[datetime] = mapped_column(Timestamp)


class StaffUser(Base):
    """A staff login for the dashboard."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    # viewer 閲覧 | sender 配信 | admin 管理 (bot.admin.roles); logins from before roles: admin.
    role: Mapped[str] = mapped_column(String(10), default="viewer")
    # Part of every session cookie; raised by logout, password change: older cookies fail.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # The member's own LINE id (a staff account, not a resident), for test sends.
    line_user_id: Mapped[str | None] = mapped_column(String(33))


class LoginFailure(Base):
    """A failed staff login: counted in the database so every web process sees it."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_login_failures_name_address_at", "name", "address", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )


class HomepageVisits(Base):
    """The city website's visitors in one month, from its web analytics (entered by staff)."""

    __tablename__ = "homepage_visits"

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
    visitors: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(Timestamp)
    recorded_by: Mapped[str] = mapped_column(String(80))


class CatchupMark(Base):
    """A resident to re-check for catch-up notices: registration finished or an answer changed.

    Written by the registration dialog in the same transaction as the answer; the scheduler's
    catch-up pass reads the marks, records the notices now due and deletes the marks it read.
    Residents loaded by `todoku residents import` get no mark (data migration, no catch-up).
    """

    __tablename__ = "catchup_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    marked_at: Mapped[datetime] = mapped_column(Timestamp)

    resident: Mapped[Resident] = relationship()


class ReplyOutbox(Base):
    """A reply committed with its webhook event and not yet accepted by LINE.

    Written in the event's transaction, sent after commit; deleted once LINE accepted it
    (no resident data is kept after that). `lease_until` says until when one process may
    send it undisturbed; after that a sweeper or a redelivery of the event sends it: by
    reply while the token is young, else by push with `retry_key` (exactly once).
    """

    __tablename__ = "reply_outbox"

    webhook_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(33))
    reply_token: Mapped[str | None] = mapped_column(String(64))
    messages: Mapped[str] = mapped_column(Text)  # JSON array of LINE message objects
    retry_key: Mapped[str] = mapped_column(String(36))
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    lease_until: Mapped[datetime] = mapped_column(Timestamp, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # pending → (deleted when sent) | failed (LINE refused it for good; messages cleared)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)


class DashboardSnapshot(Base):
    """The staff dashboard's figures as computed at one moment (bot.admin.snapshot).

    The scheduler rewrites the row every minute (TODOKU_DASHBOARD_REFRESH_SECONDS); pages
    read it instead of counting a million residents per request. No resident data: only
    counts, as the pages show them. `config_key` names the configuration it was computed
    with (a page under another configuration computes its figures itself).
    """

    __tablename__ = "dashboard_snapshots"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(Timestamp)
    took_ms: Mapped[int] = mapped_column(Integer)
    config_key: Mapped[str] = mapped_column(String(64))
    figures: Mapped[dict] = mapped_column(JSON)
    # Staff asked for 「今すぐ更新」 while a scheduler was active: it refreshes within seconds.
    requested_at: Mapped[datetime | None] = mapped_column(Timestamp)
