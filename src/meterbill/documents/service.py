"""Documents: queued by the transaction that finalizes an invoice or creates a credit
note, made into files in the background, downloaded through signed links.

The queue is the `documents` table: a row is written beside the change (a billing
run's rows go in with its batch), claimed under a lease by any process's generator
(FOR UPDATE SKIP LOCKED on PostgreSQL), rendered outside any transaction, and marked
generated with its webhook in one short transaction. Nothing here runs in a request
or in a billing run.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from meterbill.core.db import Database, inside_transaction
from meterbill.core.errors import Forbidden, NotFound, ValidationFailed
from meterbill.core.records import uuid_or_none
from meterbill.credit_notes.models import CreditNote
from meterbill.documents import links
from meterbill.documents.models import Document
from meterbill.documents.storage import Storage
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import Organization
from meterbill.webhooks.delivery import backoff
from meterbill.webhooks.outbox import emit

logger = logging.getLogger("meterbill.documents")

# A claim holds its documents this long: rendering one takes well under a second.
LEASE = timedelta(minutes=5)
# Attempts before a document is `failed` (a download asks for it again).
MAX_ATTEMPTS = 5
GENERATED_WEBHOOKS = {"invoice": "invoice.generated", "credit_note": "credit_note.generated"}


_enabled = True


def configure(enabled: bool) -> None:
    """Off (METERBILL_DISABLE_PDF_GENERATION, Lago's LAGO_DISABLE_PDF_GENERATION): no
    document is queued by finalization; a download still asks for one."""
    global _enabled
    _enabled = enabled


_QUEUED = "meterbill.documents.queued"


@dataclass(frozen=True)
class _Queued:
    owner_type: str
    owner: Invoice | CreditNote
    now: datetime
    # The (sub)transaction it was asked in: rolled back, it takes the request along.
    transaction: SessionTransaction | None


def queue(session: Session, owner_type: str, owner: Invoice | CreditNote, now: datetime) -> None:
    """Ask for the owner's document, in the transaction that finalizes it (unless
    generation is off)."""
    if _enabled:
        _ask(session, owner_type, owner, now)


def _ask(session: Session, owner_type: str, owner: Invoice | CreditNote, now: datetime) -> None:
    """Written when the transaction commits, all at once: a billing run's thousands cost
    one statement."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_QUEUED, []).append(_Queued(owner_type, owner, now, transaction))


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    queued: list[_Queued] = session.info.pop(_QUEUED, [])
    if not queued:
        return
    session.flush()  # the owners' ids
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": item.owner.organization_id,
            "owner_type": item.owner_type,
            "owner_id": item.owner.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": item.now,
            "access_key": links.new_access_key(),
            "created_at": item.now,
            "updated_at": item.now,
        }
        for item in queued
    ]
    session.execute(insert(Document), rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    queued: list[_Queued] | None = session.info.get(_QUEUED)
    if queued:
        session.info[_QUEUED] = [
            item for item in queued if not inside_transaction(item.transaction, previous)
        ]


def documents_of(
    session: Session, owner_type: str, owner_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Document]:
    wanted = set(owner_ids)
    if not wanted:
        return {}
    return {
        document.owner_id: document
        for document in session.scalars(
            select(Document).where(Document.owner_type == owner_type, Document.owner_id.in_(wanted))
        )
    }


def file_name(number: str, extension: str) -> str:
    """`<number>.pdf`; a number holds only what a file name can."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", number) + "." + extension


def urls(document: Document | None, number: str, now: datetime) -> tuple[str | None, str | None]:
    """`file_url` and `xml_url` of an owner: absolute, signed, expiring; None until made."""
    if document is None or document.status != "generated":
        return None, None

    def link(kind: str, stored: str | None) -> str | None:
        return links.file_link(document, kind, file_name(number, kind), now) if stored else None

    return link("pdf", document.pdf_key), link("xml", document.xml_key)


def request(
    session: Session, owner_type: str, owner: Invoice | CreditNote, now: datetime, *, xml: bool
) -> Document | None:
    """A download's question, as Lago answers it: finalized documents only; the document
    if it is made; otherwise it is asked for (again, if it failed or was never queued)
    and None says "not yet". The XML only for an e-invoicing issuer: Lago would answer
    "not yet" for ever."""
    from meterbill.documents import einvoice

    if owner.status != "finalized":
        raise NotFound(owner_type)
    if xml:
        organization = session.get(Organization, owner.organization_id)
        if organization is None or not einvoice.applies(organization):
            raise ValidationFailed({"xml": ["einvoicing_not_available_for_country"]})
    document = documents_of(session, owner_type, [owner.id]).get(owner.id)
    if document is not None and document.status == "generated":
        return document
    if document is None:
        _ask(session, owner_type, owner, now)
    elif document.status == "failed":
        document.status = "pending"
        document.attempts = 0
        document.next_attempt_at = now
        document.error = None
        document.updated_at = now
    return None


MEDIA_TYPES = {"pdf": "application/pdf", "xml": "application/xml"}


def linked_file(
    session: Session, storage: Storage, document_id: str, kind: str, expires: int,
    signature: str, now: datetime,
) -> bytes:  # fmt: skip
    """The file a signed link names, while the link is valid."""
    key = uuid_or_none(document_id)
    document = session.get(Document, key) if key is not None and kind in MEDIA_TYPES else None
    if document is None:
        raise NotFound("document")
    if not links.valid(document, kind, expires, signature, now):
        raise Forbidden("expired_or_invalid_link")
    stored = document.pdf_key if kind == "pdf" else document.xml_key
    content = storage.get(stored) if stored else None
    if content is None:
        raise NotFound("document")
    return content


@dataclass
class GenerationReport:
    generated: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def claim(
    db: Database, now: datetime, limit: int, organization_id: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, int]]:
    """Lease up to `limit` due documents (one organization's, or all), oldest first:
    (id, attempts as claimed)."""
    due = [Document.status == "pending", Document.next_attempt_at <= now]
    if organization_id is not None:
        due.append(Document.organization_id == organization_id)
    with db.transaction() as session:
        rows = list(
            session.execute(
                select(Document.id, Document.attempts)
                .where(*due)
                .order_by(Document.next_attempt_at, Document.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if rows:
            session.execute(
                update(Document)
                .where(Document.id.in_([row.id for row in rows]))
                .values(next_attempt_at=now + LEASE, attempts=Document.attempts + 1)
            )
        return [(row.id, row.attempts + 1) for row in rows]


def generate_due(
    db: Database, now: datetime, storage: Storage, *, limit: int = 100,
    rng: random.Random | None = None, organization_id: uuid.UUID | None = None,
    at_most: int | None = None,
) -> GenerationReport:  # fmt: skip
    """Make every document due at `now` (one organization's, or all; `at_most` of them),
    a claim at a time: each rendered and stored on its own, the claim's outcomes recorded
    together."""
    report = GenerationReport()
    rng = rng or random.Random()
    while at_most is None or report.generated + report.failed < at_most:
        wanted = (
            limit if at_most is None else min(limit, at_most - report.generated - report.failed)
        )
        claimed = claim(db, now, wanted, organization_id)
        if not claimed:
            break
        made = _render_claim(db, claimed, now, storage, report, rng)
        _record_generated(db, made, now, report)
    return report


def _render_claim(
    db: Database, claimed: list[tuple[uuid.UUID, int]], now: datetime, storage: Storage,
    report: GenerationReport, rng: random.Random,
) -> list[tuple[uuid.UUID, int, dict[str, bytes]]]:  # fmt: skip
    """The claimed documents' files, rendered and stored; a failure is recorded for its
    document alone. They are rendered in one read transaction whose session loaded what
    they all show at once (a document costs its render, not a dozen queries)."""
    from meterbill.documents import views

    made = []
    pending = list(claimed)
    while pending:
        try:
            with db.transaction(write=False) as session:
                documents = {
                    document.id: document
                    for document in session.scalars(
                        select(Document).where(Document.id.in_([item[0] for item in pending]))
                    )
                }
                owners = _owners(session, list(documents.values()))
                invoices = [owner for owner in owners.values() if isinstance(owner, Invoice)]
                held = views.prefetch(session, invoices)
                while pending:
                    document_id, attempts = pending[0]
                    document = documents.get(document_id)
                    if document is not None:
                        try:
                            files = render_files(session, document, now)
                            for key, content in files.items():
                                storage.put(key, content)
                            made.append((document_id, attempts, files))
                        except DBAPIError:
                            raise  # the transaction is spent: the rest get a new one
                        except Exception as error:
                            _failed(db, document_id, attempts, now, error, report, rng)
                    pending.pop(0)
                del held  # the prefetched records may go now
        except DBAPIError as error:
            document_id, attempts = pending.pop(0)
            _failed(db, document_id, attempts, now, error, report, rng)
    return made


def _record_generated(
    db: Database, made: list[tuple[uuid.UUID, int, dict[str, bytes]]], now: datetime,
    report: GenerationReport,
) -> None:  # fmt: skip
    if not made:
        return
    with db.transaction() as session:
        documents = {
            document.id: document
            for document in session.scalars(
                select(Document).where(Document.id.in_([item[0] for item in made]))
            )
        }
        owners = _owners(session, list(documents.values()))
        for document_id, attempts, files in made:
            document = documents.get(document_id)
            # Guarded by the attempt claimed: a lease that ran out and another generator's
            # success are not recorded twice.
            if document is None or document.status != "pending" or document.attempts != attempts:
                continue
            document.status = "generated"
            document.pdf_key = next(key for key in files if key.endswith(".pdf"))
            document.xml_key = next((key for key in files if key.endswith(".xml")), None)
            document.generated_at = now
            document.error = None
            document.updated_at = now
            owner = owners.get(document.owner_id)
            if owner is not None:
                # Rendered when this transaction commits, the document marked generated.
                emit(session, GENERATED_WEBHOOKS[document.owner_type], owner, now)
            report.generated += 1


def has_pdf(owner: Invoice | CreditNote) -> bool:
    """Whether a PDF is offered for it: not for a draft (its page shows a preview) nor an
    invoice that failed to be issued."""
    return owner.status not in ("draft", "failed")


def current_pdf(
    session: Session, storage: Storage, owner_type: str, owner: Invoice | CreditNote, now: datetime
) -> bytes:
    """The owner's PDF for someone looking at it now (the dashboard): the stored file,
    or, until it is made, one rendered on the spot and not kept (as Lago's dashboard
    download does)."""
    if not has_pdf(owner):
        raise NotFound(owner_type)
    document = documents_of(session, owner_type, [owner.id]).get(owner.id)
    if document is not None and document.status == "generated" and document.pdf_key:
        stored = storage.get(document.pdf_key)
        if stored is not None:
            return stored
    transient = Document(
        organization_id=owner.organization_id, owner_type=owner_type, owner_id=owner.id
    )
    files = render_files(session, transient, now)
    return next(content for key, content in files.items() if key.endswith(".pdf"))


def render_files(session: Session, document: Document, now: datetime) -> dict[str, bytes]:
    """The document's files by storage key: the PDF, and for an e-invoicing issuer the
    XML, embedded in the PDF too (Factur-X)."""
    from meterbill.documents import einvoice, pdf, rendering

    owner = _owner(session, document)
    if owner is None:
        raise LookupError(f"{document.owner_type} {document.owner_id} no longer exists")
    organization = session.get(Organization, document.organization_id)
    assert organization is not None
    xml: bytes | None = None
    if isinstance(owner, Invoice):
        html = rendering.invoice_html(session, owner, now)
        if einvoice.applies(organization):
            xml = einvoice.invoice_xml(session, owner)
    else:
        html = rendering.credit_note_html(session, owner, now)
        if einvoice.applies(organization):
            xml = einvoice.credit_note_xml(session, owner)
    content = pdf.html_to_pdf(html, pdf_a3=xml is not None)
    if xml is not None:
        content = einvoice.embed(content, xml)
    folder = f"{document.organization_id}/{document.owner_type}s"
    files = {f"{folder}/{file_name(owner.number, 'pdf')}": content}
    if xml is not None:
        files[f"{folder}/{file_name(owner.number, 'xml')}"] = xml
    return files


def _owners(session: Session, documents: list[Document]) -> dict[uuid.UUID, Invoice | CreditNote]:
    """The documents' invoices and credit notes, a query per kind."""
    found: dict[uuid.UUID, Invoice | CreditNote] = {}
    for model, owner_type in ((Invoice, "invoice"), (CreditNote, "credit_note")):
        ids = [document.owner_id for document in documents if document.owner_type == owner_type]
        if ids:
            owners = session.scalars(select(model).where(model.id.in_(ids)))
            found.update((owner.id, owner) for owner in owners)
    return found


def _owner(session: Session, document: Document) -> Invoice | CreditNote | None:
    model: Any = Invoice if document.owner_type == "invoice" else CreditNote
    return session.get(model, document.owner_id)  # type: ignore[no-any-return]


def _failed(
    db: Database, document_id: uuid.UUID, attempts: int, now: datetime, error: Exception,
    report: GenerationReport, rng: random.Random,
) -> None:  # fmt: skip
    from meterbill.documents.pdf import PdfEngineUnavailable

    message = f"{type(error).__name__}: {error}"[:2000]
    # Without the engine, trying again changes nothing until it is installed; a
    # download asks again then.
    final = isinstance(error, PdfEngineUnavailable) or attempts >= MAX_ATTEMPTS
    if isinstance(error, PdfEngineUnavailable):
        logger.error("document %s not generated: %s", document_id, error)
    else:
        logger.exception("document %s not generated (attempt %d)", document_id, attempts)
    with db.transaction() as session:
        session.execute(
            update(Document)
            .where(
                Document.id == document_id,
                Document.status == "pending",
                Document.attempts == attempts,
            )
            .values(
                status="failed" if final else "pending",
                error=message,
                next_attempt_at=now if final else now + backoff(attempts, rng),
                updated_at=now,
            )
        )
    report.failed += 1
    report.errors.append(message)
