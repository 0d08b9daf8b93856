"""Documents and the billing clock: a tick queues the documents of what it finalizes and
makes no file itself; drafts get none until finalized; several generators at once make
each document once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.documents import service
from meterbill.documents.models import Document
from meterbill.documents.service import GenerationReport, generate_due
from meterbill.documents.storage import LocalStorage
from meterbill.invoices.models import Invoice
from meterbill.settings import Settings
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.service import create_endpoint
from tests.conftest import make_org
from tests.db.test_current_usage import Setup, utc


def _billed(fresh: Database, subscriptions: int, drafted: int) -> Setup:
    org = make_org(fresh)
    setup = Setup(fresh, org)
    calls = setup.metric("calls")
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1"}}], amount_cents=1000)  # fmt: skip
    for n in range(subscriptions):
        grace = {"invoice_grace_period": 2} if n < drafted else {}
        setup.customer(f"c{n}", timezone="UTC", **grace)
        setup.subscribe(f"c{n}", "p", f"s{n}", utc(2024, 1, 1))
    with fresh.transaction() as session:
        endpoint = {"webhook_url": "http://127.0.0.1:9/hooks", "signature_algo": "hmac"}
        create_endpoint(session, org.id, endpoint, utc(2024, 1, 1))
    return setup


def _generated_webhooks(fresh: Database, setup: Setup) -> int:
    with fresh.transaction(write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Webhook)
                .where(
                    Webhook.organization_id == setup.org.id,
                    Webhook.webhook_type == "invoice.generated",
                )
            )
            or 0
        )


def _counts(fresh: Database) -> dict[str, int]:
    with fresh.transaction(write=False) as session:
        rows = session.execute(select(Document.status, func.count()).group_by(Document.status))
        return {status: count for status, count in rows}


def test_a_tick_queues_documents_of_what_it_finalizes_and_makes_none(
    fresh: Database, tmp_path: Path
) -> None:
    setup = _billed(fresh, subscriptions=5, drafted=2)
    storage = LocalStorage(tmp_path / "files")
    tick(fresh, utc(2024, 2, 1, 1))
    with fresh.transaction(write=False) as session:
        statuses = sorted(session.scalars(select(Invoice.status)))
    assert statuses == ["draft", "draft", "finalized", "finalized", "finalized"]
    # Three queued, none made: the tick renders no PDF.
    assert _counts(fresh) == {"pending": 3}
    assert not (tmp_path / "files").exists()

    report = generate_due(fresh, utc(2024, 2, 1, 1, 5), storage)
    assert (report.generated, report.failed) == (3, 0)
    assert len(list((tmp_path / "files").rglob("*.pdf"))) == 3
    # The drafts' turn comes when the grace period ends and they are finalized.
    tick(fresh, utc(2024, 2, 3, 1))
    assert _counts(fresh) == {"generated": 3, "pending": 2}
    assert generate_due(fresh, utc(2024, 2, 3, 2), storage).generated == 2
    assert _generated_webhooks(fresh, setup) == 5


def test_concurrent_generators_make_each_document_once(fresh: Database, tmp_path: Path) -> None:
    setup = _billed(fresh, subscriptions=12, drafted=0)
    tick(fresh, utc(2024, 2, 1, 1))
    storage = LocalStorage(tmp_path / "files")
    start = threading.Barrier(3)
    reports: list[GenerationReport] = []
    errors: list[BaseException] = []

    def generator() -> None:
        try:
            start.wait()
            reports.append(generate_due(fresh, utc(2024, 2, 1, 2), storage, limit=2))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=generator) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(report.generated for report in reports) == 12
    assert sum(report.failed for report in reports) == 0
    assert _counts(fresh) == {"generated": 12}
    assert _generated_webhooks(fresh, setup) == 12


def test_with_pdf_generation_disabled_nothing_is_queued(
    fresh: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _billed(fresh, subscriptions=2, drafted=0)
    monkeypatch.setattr(service, "_enabled", False)
    Settings(database_url=fresh.url, disable_pdf_generation=True).configure_documents()
    assert service._enabled is False
    tick(fresh, utc(2024, 2, 1, 1))
    assert _counts(fresh) == {}
    assert generate_due(fresh, utc(2024, 2, 1, 2), LocalStorage(tmp_path)).generated == 0


def test_a_rolled_back_savepoint_takes_its_document_request_along(
    fresh: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _billed(fresh, subscriptions=2, drafted=0)
    monkeypatch.setattr(service, "_enabled", False)
    tick(fresh, utc(2024, 2, 1, 1))
    monkeypatch.setattr(service, "_enabled", True)
    with fresh.transaction() as session:
        first, second = session.scalars(select(Invoice).order_by(Invoice.number)).all()
        savepoint = session.begin_nested()
        service.queue(session, "invoice", first, utc(2024, 2, 1, 2))
        savepoint.rollback()
        service.queue(session, "invoice", second, utc(2024, 2, 1, 2))
        kept = second.id
    with fresh.transaction(write=False) as session:
        assert list(session.scalars(select(Document.owner_id))) == [kept]


def test_a_failing_document_fails_alone_in_its_batch(
    fresh: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documents of a claim share one read transaction: one that cannot be rendered
    (here, a database error while reading it) is recorded as failed and retried later;
    the others of the batch are made."""
    _billed(fresh, subscriptions=4, drafted=0)
    tick(fresh, utc(2024, 2, 1, 1))
    from sqlalchemy import text

    from meterbill.documents import rendering

    real = rendering.invoice_html
    calls = {"n": 0}

    def sometimes_broken(session, invoice, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            session.execute(text("SELECT * FROM no_such_table"))  # spends the transaction
        return real(session, invoice, now)

    monkeypatch.setattr(rendering, "invoice_html", sometimes_broken)
    report = generate_due(fresh, utc(2024, 2, 1, 2), LocalStorage(tmp_path), limit=10)
    assert (report.generated, report.failed) == (3, 1)
    assert _counts(fresh) == {"generated": 3, "pending": 1}
    with fresh.transaction(write=False) as session:
        failed = session.scalars(select(Document).where(Document.status == "pending")).one()
    assert failed.attempts == 1 and failed.next_attempt_at > utc(2024, 2, 1, 2)
    assert "no_such_table" in (failed.error or "")
    # Later it is made like the others.
    monkeypatch.setattr(rendering, "invoice_html", real)
    assert generate_due(fresh, utc(2024, 2, 2), LocalStorage(tmp_path)).generated == 1
    assert _counts(fresh) == {"generated": 4}
