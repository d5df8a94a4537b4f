"""KYC, the player's identity check (API.md "Responsible gambling, KYC" and "Compliance").

unverified -> pending (the player sends a document: its type, its number, optionally a scan) -> verified,
or rejected with a reason, after which the player may send another. Compliance decides in the admin, on
the console or over the API, all through ``kyc_verify`` and ``kyc_reject``. The player's state is
``PlayerRestriction.kyc_status``; each submission and its decision is a ``KycDocument``. Withdrawals past
``RISK_KYC_WITHDRAWAL_THRESHOLD`` in all need "verified" (risk.rules.withdrawal_violations).

A document's number and scan are personal data: the number is encrypted at rest by its field
(django-fernet-encrypted-fields), the scan with the same key in a file under MEDIA_ROOT. Only reviewers
read either (others see the number masked), and of a document only its type and id reach the audit trail.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction, notification_create
from core.errors import Conflict, InvalidInput, NotFound
from risk.limits import restriction_lock, restriction_of
from risk.models import KycDocument, KycStatus
from risk.rules import player_only

# Who reads the review queue, numbers masked (compliance, regulators, admins), and who decides and reads a
# document's number and scan in full (compliance, admins): accounts/roles.py.
KYC_READ = "risk.view_kycdocument"
KYC_REVIEW = "risk.change_kycdocument"

DOCUMENT_STATUSES = [KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED]
# 4 to 64 letters, digits, spaces and hyphens, starting and ending with a letter or a digit.
DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{2,62}[A-Za-z0-9]")
REASON_MAX = KycDocument._meta.get_field("reason").max_length
# What a scan may be, told by its first bytes: the content type a client declares is not trusted.
SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
FILES_DIR = "kyc"


@dataclass(frozen=True)
class KycState:
    status: str
    reason: str
    document: KycDocument | None  # the latest submission


@dataclass(frozen=True)
class KycFile:
    content: bytes
    content_type: str
    name: str


@dataclass(frozen=True)
class _Scan:
    sealed: bytes  # encrypted
    size: int
    content_type: str


# --- Reads ----------------------------------------------------------------------------------------

def kyc_state_of(*, player: Any) -> KycState:
    restriction = restriction_of(player)
    return KycState(status=restriction.kyc_status if restriction else KycStatus.UNVERIFIED,
                    reason=restriction.kyc_reason if restriction else "",
                    document=KycDocument.objects.filter(player_id=player.pk).order_by("-pk").first())


def kyc_documents(*, viewer: Any, status: str | None = None, player_id: int | None = None) -> QuerySet[KycDocument]:
    """The submissions ``viewer`` may see (audit.tenancy) in the review queue's order, oldest first; of one
    status, or one player, when asked."""
    documents = (KycDocument.objects.visible_to(viewer).select_related("player", "reviewed_by")
                 .order_by("submitted_at", "pk"))
    if player_id is not None:
        documents = documents.filter(player_id=player_id)
    if not status:
        return documents
    if status not in DOCUMENT_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(DOCUMENT_STATUSES)}.", details={"field": "status"})
    return documents.filter(status=status)


def number_masked(number: str) -> str:
    """``••••••1234``: at most the last four characters, and never more than half of them."""
    shown = min(4, len(number) // 2)
    return "•" * (len(number) - shown) + number[len(number) - shown:]


# --- The player's submission ----------------------------------------------------------------------

def kyc_submit(*, player: Any, document_type: Any, document_number: Any, upload: UploadedFile | None = None,
               actor: Actor) -> KycDocument:
    """The player sends an identity document for review, and their state becomes pending. Refused while
    one waits for review (kyc_pending) and once verified (kyc_already_verified)."""
    with audited_transaction(actor=actor, action="kyc.submit", category=AuditLog.Category.COMPLIANCE,
                             resource_type="player", resource_id=player.pk):
        player_only(player)  # staff and agents have no identity to prove: they neither deposit nor withdraw
        kind = _document_type(document_type)
        number = _document_number(document_number)
        scan = _scan(upload) if upload is not None else None
        restriction = restriction_lock(player_id=player.pk)
        if restriction.kyc_status == KycStatus.VERIFIED:
            raise Conflict("Your identity is already verified; there is nothing more to send.",
                           code="kyc_already_verified", details={"status": restriction.kyc_status})
        if restriction.kyc_status == KycStatus.PENDING:
            raise Conflict("Your document is being reviewed; you can send another once it is decided.",
                           code="kyc_pending", details={"status": restriction.kyc_status})
        with _file_stored(scan) as name:
            document = KycDocument.objects.create(
                player=player, document_type=kind, document_number=number, file=name,
                file_size=scan.size if scan else None, file_content_type=scan.content_type if scan else "",
                status=KycStatus.PENDING, submitted_at=timezone.now())
            restriction.kyc_status, restriction.kyc_reason = KycStatus.PENDING, ""
            restriction.save(update_fields=["kyc_status", "kyc_reason"])
            audit_record(actor=actor, action="kyc.submit", category=AuditLog.Category.COMPLIANCE,
                         resource_type="player", resource_id=player.pk, resource_label=player.get_username(),
                         details=_audited(document))
            notification_create(kind="kyc_submitted", message=f"Identity document {document.pk} waits for review.")
    return document


def _document_type(value: Any) -> str:
    if value not in KycDocument.DocumentType.values:
        raise InvalidInput(f"document_type must be one of: {', '.join(KycDocument.DocumentType.values)}.",
                           code="invalid_document_type", details={"field": "document_type"})
    return value


def _document_number(value: Any) -> str:
    # Only spaces are trimmed: a control character (NUL, a newline) anywhere is refused, not cut away.
    number = value.strip(" ") if isinstance(value, str) else ""
    if not DOCUMENT_NUMBER.fullmatch(number):
        raise InvalidInput("A document number is 4 to 64 letters, digits, spaces or hyphens, as printed on the "
                           "document.", code="invalid_document_number", details={"field": "document_number"})
    return number


def _scan(upload: UploadedFile) -> _Scan:
    """The upload checked (its size, and its type by its first bytes) and encrypted."""
    limit = settings.KYC_UPLOAD_MAX_BYTES
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput(f"The file is too large; send at most {limit} bytes.", code="file_too_large",
                           details={"field": "file", "max_bytes": limit})
    content_type = next((kind for magic, kind in SIGNATURES.items() if content.startswith(magic)), None)
    if content_type is None:
        raise InvalidInput("Send the document as a PDF, PNG or JPEG file.", code="invalid_file_type",
                           details={"field": "file", "allowed": list(EXTENSIONS)})
    return _Scan(sealed=_fernet().encrypt(content), size=len(content), content_type=content_type)


@contextmanager
def _file_stored(scan: _Scan | None) -> Iterator[str]:
    """The encrypted scan saved as MEDIA_ROOT/kyc/<random name> (nothing of the player's in the name), and
    deleted again if the block raises: a refused submission leaves no file behind."""
    name = default_storage.save(f"{FILES_DIR}/{secrets.token_hex(16)}", ContentFile(scan.sealed)) if scan else ""
    try:
        yield name
    except BaseException:
        if name:
            default_storage.delete(name)
        raise


def _fernet() -> Fernet | MultiFernet:
    """The document number field's own key (derived from SECRET_KEY and FIELD_ENCRYPTION_KEY, with
    SECRET_KEY_FALLBACKS to read what older keys wrote), so one key protects a document's number and scan."""
    return KycDocument._meta.get_field("document_number").f


# --- Compliance's decision ------------------------------------------------------------------------

def kyc_verify(*, player_id: int, actor: Actor, reason: str = "", document_id: int | None = None) -> KycDocument:
    """Compliance confirms the player's identity from their submission waiting for review."""
    return _kyc_decide(player_id=player_id, status=KycStatus.VERIFIED, reason=reason, actor=actor,
                       document_id=document_id)


def kyc_reject(*, player_id: int, actor: Actor, reason: str, document_id: int | None = None) -> KycDocument:
    """Compliance turns the player's submission down with a reason the player reads; they may send another."""
    return _kyc_decide(player_id=player_id, status=KycStatus.REJECTED, reason=reason, actor=actor,
                       document_id=document_id)


# The decisions by their names in URLs and forms.
KYC_DECISIONS = {"verify": kyc_verify, "reject": kyc_reject}


def _kyc_decide(*, player_id: int, status: str, reason: Any, actor: Actor, document_id: int | None) -> KycDocument:
    """Decide the player's submission waiting for review: the latest, or ``document_id`` when the reviewer
    looked at a particular one (the admin, the console), so a decision never lands on a document unseen."""
    action = "kyc.verify" if status == KycStatus.VERIFIED else "kyc.reject"
    with audited_transaction(actor=actor, action=action, category=AuditLog.Category.COMPLIANCE,
                             resource_type="player", resource_id=player_id):
        reason = _reason(reason, required=status == KycStatus.REJECTED)
        if not KycDocument.objects.visible_to(actor.user).filter(player_id=player_id).exists():
            raise NotFound(f"Player {player_id} has sent no identity document.", code="kyc_not_submitted")
        restriction = restriction_lock(player_id=player_id)  # first, as kyc_submit takes it
        theirs = KycDocument.objects.select_for_update(of=("self",)).select_related("player").filter(
            player_id=player_id)
        document = (theirs.filter(pk=document_id) if document_id is not None else theirs.order_by("-pk")).first()
        if document is None:
            raise NotFound(f"Player {player_id} has no identity document {document_id}.", code="kyc_not_submitted")
        if document.status != KycStatus.PENDING:
            raise Conflict(f"Only a document waiting for review can be decided; this one is {document.status}.",
                           code="kyc_not_pending", details={"document_id": document.pk, "status": document.status})
        document.status, document.reason = status, reason
        document.reviewed_by, document.reviewed_at = actor.user, timezone.now()
        document.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
        restriction.kyc_status = status
        restriction.kyc_reason = reason if status == KycStatus.REJECTED else ""  # what the player reads
        restriction.save(update_fields=["kyc_status", "kyc_reason"])
        audit_record(actor=actor, action=action, category=AuditLog.Category.COMPLIANCE, resource_type="player",
                     resource_id=player_id, resource_label=document.player.get_username(),
                     details={**_audited(document), "reason": reason})
        message = ("Your identity is verified." if status == KycStatus.VERIFIED
                   else f"We could not verify your identity: {reason} You can send another document.")
        notification_create(kind=f"kyc_{status}", message=message, user=document.player)
    return document


def _reason(value: Any, *, required: bool) -> str:
    reason = value.strip() if isinstance(value, str) else ""
    if required and not reason:
        raise InvalidInput("Say why the document is rejected; the player reads it.", code="reason_required",
                           details={"field": "reason"})
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"A reason is at most {REASON_MAX} characters.", details={"field": "reason"})
    return reason


# --- A reviewer opening a document ----------------------------------------------------------------

def kyc_document_open(*, document_id: int, actor: Actor) -> KycDocument:
    """A submission, its number readable in full, for a reviewer: each opening is audited."""
    document = KycDocument.objects.visible_to(actor.user).select_related("player", "reviewed_by").filter(
        pk=document_id).first()
    if document is None:
        raise NotFound(f"No identity document {document_id}.")
    _opened(document, actor=actor, action="kyc.document_open")
    return document


def kyc_file_open(*, document_id: int, actor: Actor) -> KycFile:
    """A submission's scan, decrypted, for a reviewer: each opening is audited."""
    document = KycDocument.objects.visible_to(actor.user).select_related("player").filter(pk=document_id).first()
    if document is None or not document.file:
        raise NotFound(f"Identity document {document_id} has no file.", code="kyc_file_not_found")
    try:
        with default_storage.open(document.file, "rb") as handle:
            content = _fernet().decrypt(handle.read())
    except FileNotFoundError:
        raise NotFound(f"The file of identity document {document_id} is missing.",
                       code="kyc_file_not_found") from None
    _opened(document, actor=actor, action="kyc.file_open")
    return KycFile(content=content, content_type=document.file_content_type,
                   name=f"kyc-{document.pk}{EXTENSIONS.get(document.file_content_type, '')}")


def _opened(document: KycDocument, *, actor: Actor, action: str) -> None:
    audit_record(actor=actor, action=action, category=AuditLog.Category.COMPLIANCE, resource_type="player",
                 resource_id=document.player_id, resource_label=document.player.get_username(),
                 details=_audited(document))


def _audited(document: KycDocument) -> dict[str, Any]:
    """All of a document the audit trail keeps: never its number or its scan."""
    return {"document_id": document.pk, "document_type": document.document_type}
