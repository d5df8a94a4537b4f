"""KYC (issue 16): a player sends an identity document, compliance verifies or rejects it, and withdrawals
past the threshold need a verified identity. Numbers and scans are encrypted at rest and never reach the
audit trail."""

import json
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from audit.context import Actor
from audit.models import AuditLog, Notification
from core.errors import DomainError
from risk.kyc import kyc_reject, kyc_submit, kyc_verify, number_masked
from risk.models import KycDocument, PlayerRestriction
from tests.conftest import audit_rows, ledger_snapshot

NUMBER = "P1234-5678"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A real 1x1 PNG and a minimal PDF: the kinds of scan a player sends.
PNG = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
       + _chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + _chunk(b"IEND", b""))
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n" \
      b"trailer <</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """Scans go to a directory of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _stored_files(media: Path) -> list[Path]:
    return sorted((media / "kyc").glob("*")) if (media / "kyc").exists() else []


def _submit(player, number: str = NUMBER, **extra) -> KycDocument:
    return kyc_submit(player=player, document_type="passport", document_number=number, actor=Actor.of(player),
                      **extra)


def _kyc_of(player) -> str:
    return PlayerRestriction.objects.get(player=player).kyc_status


def _every_audit_detail() -> str:
    return json.dumps(list(AuditLog.objects.values_list("details", flat=True)))


# --- Submitting -----------------------------------------------------------------------------------

def test_a_player_sends_a_document_as_json_and_waits_for_review(api, player):
    # given a player who never sent a document
    client = api(player)
    assert client.get("/api/v1/me/kyc").json() == {"status": "unverified", "reason": "", "document": None}
    # when they send their passport's number
    response = client.post("/api/v1/me/kyc", {"document_type": "passport", "document_number": f"  {NUMBER} "},
                           format="json")
    # then they are pending, the number stored trimmed and shown masked, and staff are told without it
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["reason"]) == ("pending", "")
    assert body["document"]["document_number"] == "••••••5678" and body["document"]["has_file"] is False
    assert client.get("/api/v1/me/kyc").json() == body
    document = KycDocument.objects.get(player=player)
    assert document.document_number == NUMBER and document.status == "pending" and not document.file
    assert audit_rows("kyc.submit").get().details == {"document_id": document.pk, "document_type": "passport"}
    assert Notification.objects.get(kind="kyc_submitted").audience == "staff"
    assert NUMBER not in _every_audit_detail() + json.dumps(list(Notification.objects.values_list("message")))


def test_a_player_sends_a_png_scan_as_multipart_and_it_is_stored_encrypted(api, player, media):
    # when a player sends their identity card with a photo of it
    response = api(player).post("/api/v1/me/kyc", {
        "document_type": "id_card", "document_number": NUMBER,
        "file": SimpleUploadedFile("my id card.png", PNG, content_type="image/png")}, format="multipart")
    # then the scan is kept under MEDIA_ROOT/kyc with a random name, encrypted
    assert response.status_code == 201, response.content
    assert response.json()["document"]["has_file"] is True
    document = KycDocument.objects.get(player=player)
    assert (document.file_content_type, document.file_size) == ("image/png", len(PNG))
    [stored] = _stored_files(media)
    assert document.file == f"kyc/{stored.name}" and "id" not in stored.name
    on_disk = stored.read_bytes()
    assert PNG not in on_disk and b"IHDR" not in on_disk
    assert KycDocument._meta.get_field("document_number").f.decrypt(on_disk) == PNG


def test_a_pdf_is_told_by_its_content_not_by_the_type_the_client_declares(api, player):
    # when a PDF arrives declared as an unknown binary type
    response = api(player).post("/api/v1/me/kyc", {
        "document_type": "driving_licence", "document_number": NUMBER,
        "file": SimpleUploadedFile("licence", PDF, content_type="application/octet-stream")}, format="multipart")
    # then it is kept as the PDF it is
    assert response.status_code == 201, response.content
    assert KycDocument.objects.get(player=player).file_content_type == "application/pdf"


def test_the_document_number_is_encrypted_at_rest(player):
    # given a document sent
    document = _submit(player)
    # when its column is read as PostgreSQL holds it
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT document_number FROM {KycDocument._meta.db_table} WHERE id = %s", [document.pk])
        (raw,) = cursor.fetchone()
    # then it is a Fernet token, not the number
    assert NUMBER not in raw and "5678" not in raw
    assert KycDocument._meta.get_field("document_number").f.decrypt(raw.encode()).decode() == NUMBER


@pytest.mark.parametrize(("body", "code"), [
    ({"document_type": "visa", "document_number": NUMBER}, "invalid_document_type"),
    ({"document_type": "passport", "document_number": "AB1"}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "A" * 65}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "AB12\x01CD"}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "AB12\nCD"}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "AB12;CD"}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "----"}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": 12345678}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": None}, "invalid_document_number"),
    ({"document_type": "passport", "document_number": "AB12\x00CD"}, "invalid_request"),  # the JSON parser's
    ({"document_type": "passport"}, "invalid_request"),
])
def test_a_bad_document_is_a_400_and_changes_nothing(api, player, body, code):
    # when a player sends a document that is not one
    response = api(player).post("/api/v1/me/kyc", body, format="json")
    # then a 400 with its code, nothing stored, and no number copied into the refusal's audit row
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code
    assert not KycDocument.objects.exists()
    assert not PlayerRestriction.objects.filter(player=player, kyc_status="pending").exists()
    assert "AB12" not in _every_audit_detail()


def test_a_nul_in_a_multipart_number_is_a_400(api, player):
    response = api(player).post("/api/v1/me/kyc", {"document_type": "passport", "document_number": "AB12\x00CD"},
                                format="multipart")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert not KycDocument.objects.exists()


@pytest.mark.parametrize(("content", "declared", "code"), [
    (b"just some text, not an image", "image/png", "invalid_file_type"),
    (b"", "image/png", "invalid_file_type"),
    (b"GIF89a" + b"\x00" * 20, "image/gif", "invalid_file_type"),
    (PNG + b"\x00" * 200, "image/png", "file_too_large"),
])
def test_a_bad_file_is_refused_and_leaves_nothing_behind(api, player, media, settings, content, declared, code):
    # given uploads of at most 100 bytes
    settings.KYC_UPLOAD_MAX_BYTES = 100
    # when a player sends a file that is not a PDF, PNG or JPEG, or is too large
    response = api(player).post("/api/v1/me/kyc", {
        "document_type": "passport", "document_number": NUMBER,
        "file": SimpleUploadedFile("scan.png", content, content_type=declared)}, format="multipart")
    # then a 400 naming the file, and no document or file kept
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code and response.json()["details"]["field"] == "file"
    assert not KycDocument.objects.exists() and _stored_files(media) == []
    assert audit_rows("kyc.submit", "refused").get().details["error"] == code


def test_a_player_waiting_for_review_or_verified_cannot_send_again(api, player, make_user, media):
    # given a document waiting for review
    first = _submit(player)
    client = api(player)
    again = {"document_type": "passport", "document_number": NUMBER,
             "file": SimpleUploadedFile("scan.png", PNG, content_type="image/png")}
    # when the player sends another, then a 409 and no file written
    response = client.post("/api/v1/me/kyc", again, format="multipart")
    assert response.status_code == 409 and response.json()["error"] == "kyc_pending"
    assert _stored_files(media) == []
    # and once verified, a 409 with its own code
    kyc_verify(player_id=player.pk, actor=Actor.of(make_user("compliance")))
    again["file"].seek(0)
    response = client.post("/api/v1/me/kyc", again, format="multipart")
    assert response.status_code == 409 and response.json()["error"] == "kyc_already_verified"
    assert list(KycDocument.objects.values_list("pk", flat=True)) == [first.pk] and _stored_files(media) == []


@pytest.mark.parametrize("role", ["agent", "trader", "compliance", "admin"])
def test_only_players_send_documents(api, make_user, role):
    response = api(make_user(role)).post("/api/v1/me/kyc", {"document_type": "passport",
                                                           "document_number": NUMBER}, format="json")
    assert response.status_code == 403 and response.json()["error"] == "not_a_player"
    assert not KycDocument.objects.exists()


# --- Compliance's decision ------------------------------------------------------------------------

def test_compliance_verifies_a_player_and_the_decision_is_audited_without_the_number(api, player, make_user):
    # given a document waiting for review
    document = _submit(player)
    officer = make_user("compliance")
    # when compliance verifies the player
    response = api(officer).post(f"/api/v1/compliance/kyc/{player.pk}/verify", {"reason": "matches"},
                                 format="json")
    # then the document and the player are verified, by that officer
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "verified" and response.json()["document_number"] == "••••••5678"
    document.refresh_from_db()
    assert (document.status, document.reviewed_by, document.reason) == ("verified", officer, "matches")
    assert _kyc_of(player) == "verified"
    assert api(player).get("/api/v1/me/kyc").json()["status"] == "verified"
    # audited in compliance as the officer's, with the document's type and id and never its number
    row = audit_rows("kyc.verify").get()
    assert (row.category, row.actor, row.outcome) == ("compliance", officer, "success")
    assert row.details == {"document_id": document.pk, "document_type": "passport", "reason": "matches"}
    assert NUMBER not in _every_audit_detail() and "5678" not in _every_audit_detail()
    assert Notification.objects.get(user=player, kind="kyc_verified")


def test_a_rejection_needs_a_reason_the_player_reads_and_they_may_send_again(api, player, make_user):
    # given a document waiting for review
    _submit(player)
    officer = api(make_user("compliance"))
    # when compliance rejects it without a reason: refused, audited, nothing changed
    response = officer.post(f"/api/v1/compliance/kyc/{player.pk}/reject", {}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "reason_required"
    assert audit_rows("kyc.reject", "refused").exists() and _kyc_of(player) == "pending"
    # when with a reason
    response = officer.post(f"/api/v1/compliance/kyc/{player.pk}/reject", {"reason": "The photo is blurred."},
                            format="json")
    # then the player reads it, and may send another document
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    state = api(player).get("/api/v1/me/kyc").json()
    assert (state["status"], state["reason"]) == ("rejected", "The photo is blurred.")
    assert "The photo is blurred." in Notification.objects.get(user=player, kind="kyc_rejected").message
    assert api(player).post("/api/v1/me/kyc", {"document_type": "id_card", "document_number": "X9876543"},
                            format="json").status_code == 201
    assert _kyc_of(player) == "pending"


def test_only_a_document_waiting_for_review_is_decided(api, player, make_user):
    officer = api(make_user("compliance"))
    # a player who sent nothing: 404
    response = officer.post(f"/api/v1/compliance/kyc/{player.pk}/verify", {}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "kyc_not_submitted"
    # an unknown user (past bigint too): 404
    for user_id in (player.pk + 1000, "9" * 25):
        assert officer.post(f"/api/v1/compliance/kyc/{user_id}/verify", {}, format="json").status_code == 404
    # a document already decided: 409
    _submit(player)
    assert officer.post(f"/api/v1/compliance/kyc/{player.pk}/verify", {}, format="json").status_code == 200
    response = officer.post(f"/api/v1/compliance/kyc/{player.pk}/reject", {"reason": "late"}, format="json")
    assert response.status_code == 409 and response.json()["error"] == "kyc_not_pending"
    assert _kyc_of(player) == "verified"


def test_a_decision_on_an_older_document_never_lands_on_the_newer_one(player, make_user):
    # given a rejected document, and a newer one waiting
    officer = Actor.of(make_user("compliance"))
    old = _submit(player)
    kyc_reject(player_id=player.pk, reason="blurred", actor=officer)
    new = _submit(player, number="N7654321")
    # when a reviewer who looked at the old one verifies it (a stale admin page)
    with pytest.raises(DomainError) as refused:
        kyc_verify(player_id=player.pk, document_id=old.pk, actor=officer)
    # then it is refused, and the newer one still waits
    assert refused.value.code == "kyc_not_pending"
    new.refresh_from_db()
    assert new.status == "pending" and _kyc_of(player) == "pending"


def test_the_queue_shows_numbers_masked_and_a_reviewer_opens_one_in_full(api, player, make_user):
    # given two players' documents, one decided
    document = _submit(player)
    other = make_user("player")
    _submit(other, number="Z1111111")
    kyc_verify(player_id=other.pk, actor=Actor.of(make_user("compliance")))
    regulator, officer = api(make_user("regulator")), api(make_user("compliance"))
    # when a regulator reads the waiting ones
    response = regulator.get("/api/v1/compliance/kyc", {"status": "pending"})
    # then one row, the number masked
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row == {**row, "id": document.pk, "user_id": player.pk, "username": player.username,
                   "document_number": "••••••5678", "status": "pending", "has_file": False}
    assert len(regulator.get("/api/v1/compliance/kyc").json()["results"]) == 2
    # a regulator may not open one in full; compliance may, and the opening is audited
    assert regulator.get(f"/api/v1/compliance/kyc/documents/{document.pk}").status_code == 403
    opened = officer.get(f"/api/v1/compliance/kyc/documents/{document.pk}")
    assert opened.status_code == 200 and opened.json()["document_number"] == NUMBER
    assert audit_rows("kyc.document_open").get().details == {"document_id": document.pk, "document_type": "passport"}
    assert officer.get("/api/v1/compliance/kyc/documents/999999").status_code == 404
    # an unknown status is a 400 naming it
    response = officer.get("/api/v1/compliance/kyc", {"status": "unverified"})
    assert response.status_code == 400 and response.json()["details"]["field"] == "status"


@pytest.mark.parametrize(("role", "reads", "decides"), [
    ("player", False, False), ("agent", False, False), ("trader", False, False),
    ("regulator", True, False), ("compliance", True, True), ("admin", True, True),
])
def test_who_reads_the_queue_and_who_decides(api, player, make_user, role, reads, decides):
    _submit(player)
    client = api(make_user(role))
    assert client.get("/api/v1/compliance/kyc").status_code == (200 if reads else 403)
    response = client.post(f"/api/v1/compliance/kyc/{player.pk}/verify", {}, format="json")
    assert response.status_code == (200 if decides else 403)
    assert _kyc_of(player) == ("verified" if decides else "pending")


def test_masking_never_shows_more_than_half():
    assert [number_masked(n) for n in ("AB12", "ABC123", "P1234-5678")] == ["••12", "•••123", "••••••5678"]


# --- The withdrawal rule --------------------------------------------------------------------------

def test_a_withdrawal_past_the_threshold_needs_a_verified_identity(api, make_user, settings):
    # given a player with 2,000.00 and a threshold of 1,000.00 withdrawn in all
    settings.RISK_KYC_WITHDRAWAL_THRESHOLD = "1000.00"
    player = make_user("player", balance="2000.00")
    client = api(player)
    # when they withdraw up to the threshold exactly: allowed
    assert client.post("/api/v1/wallet/withdrawals", {"amount": "1000.00"}, format="json").status_code == 201
    before = ledger_snapshot()
    # when one cent more
    response = client.post("/api/v1/wallet/withdrawals", {"amount": "0.01"}, format="json")
    # then 403 kyc_required with the threshold and what they withdrew, nothing moved, the refusal audited
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["error"] == "kyc_required"
    assert (body["details"]["threshold"], body["details"]["withdrawn_ever"]) == ("1000.00", "1000.00")
    assert ledger_snapshot() == before
    assert audit_rows("wallet.withdrawal", "refused").get().details["error"] == "kyc_required"
    # (more than the balance is refused for funds: a verified identity would not let it through either)
    response = client.post("/api/v1/wallet/withdrawals", {"amount": "1000.01"}, format="json")
    assert response.status_code == 422 and response.json()["error"] == "insufficient_funds"
    # when still only pending: refused as well
    _submit(player)
    assert client.post("/api/v1/wallet/withdrawals", {"amount": "0.01"}, format="json").status_code == 403
    assert ledger_snapshot() == before
    # once verified: allowed
    kyc_verify(player_id=player.pk, actor=Actor.of(make_user("compliance")))
    response = client.post("/api/v1/wallet/withdrawals", {"amount": "500.00"}, format="json")
    assert response.status_code == 201 and Decimal(response.json()["balance"]) == Decimal("500.00")


# --- The admin, the console and the player's page -------------------------------------------------

def test_compliance_decides_in_the_admin_and_a_regulator_sees_the_number_masked(client, player, make_user, media):
    # given a document with a scan
    document = _submit(player, upload=SimpleUploadedFile("scan.png", PNG, content_type="image/png"))
    base = f"/admin/risk/kycdocument/{document.pk}/"
    # a regulator reads the list and the page, the number masked, and cannot download the scan or decide
    client.force_login(make_user("regulator"))
    for page in ("/admin/risk/kycdocument/", base + "change/"):
        html = client.get(page).content.decode()
        assert "••••••5678" in html and NUMBER not in html
    assert client.get(base + "file/").status_code == 403
    assert client.post(base + "verify/", {"reason": "x"}).status_code == 403
    # compliance reads it in full (audited), downloads the scan decrypted, and verifies through the service
    client.force_login(make_user("compliance"))
    assert NUMBER in client.get(base + "change/").content.decode()
    assert audit_rows("kyc.document_open").count() == 1
    download = client.get(base + "file/")
    assert download.status_code == 200 and download["Content-Type"] == "image/png" and download.content == PNG
    assert "attachment" in download["Content-Disposition"] and audit_rows("kyc.file_open").count() == 1
    assert client.post(base + "verify/", {"reason": "matches"}).status_code == 302
    assert _kyc_of(player) == "verified" and audit_rows("kyc.verify").get().actor.username.startswith("compliance")
    assert client.get("/admin/risk/kycdocument/add/").status_code == 403


def test_compliance_works_the_queue_on_the_console(client, player, make_user):
    # given a document waiting, and compliance on the console
    document = _submit(player)
    client.force_login(make_user("compliance"))
    queue = client.get("/admin/console/kyc/")
    assert queue.status_code == 200 and "••••••5678" in queue.content.decode()
    assert NUMBER in client.get(f"/admin/console/kyc/{document.pk}/").content.decode()
    # when rejecting without a reason: back on the document, told why, nothing changed
    response = client.post(f"/admin/console/kyc/{document.pk}/decide/", {"decision": "reject"}, follow=True)
    assert "Say why" in response.content.decode() and _kyc_of(player) == "pending"
    # when rejecting with one
    response = client.post(f"/admin/console/kyc/{document.pk}/decide/", {"decision": "reject",
                                                                        "reason": "Expired."})
    assert response.status_code == 302 and _kyc_of(player) == "rejected"
    # a regulator reads the queue but opens nothing in full
    client.force_login(make_user("regulator"))
    assert client.get("/admin/console/kyc/?status=rejected").status_code == 200
    assert client.get(f"/admin/console/kyc/{document.pk}/").status_code == 403


def test_a_player_sends_a_document_from_their_page(client, player, media):
    # given the player's identity page
    client.force_login(player)
    assert 'id="kyc-form"' in client.get("/account/kyc").content.decode()
    # when a text file claiming to be a PNG is sent: drawn again with the reason
    refused = client.post("/account/kyc", {"document_type": "passport", "document_number": NUMBER,
                                           "file": SimpleUploadedFile("scan.png", b"hello", content_type="image/png")})
    assert refused.status_code == 422 and "PDF, PNG or JPEG" in refused.content.decode()
    # when a real scan is sent (htmx swaps the section)
    response = client.post("/account/kyc", {"document_type": "passport", "document_number": NUMBER,
                                            "file": SimpleUploadedFile("scan.png", PNG, content_type="image/png")},
                           HTTP_HX_REQUEST="true")
    # then the section says it is being reviewed, and no longer offers the form
    html = response.content.decode()
    assert response.status_code == 200 and 'data-status="pending"' in html and 'id="kyc-form"' not in html
    assert "••••••5678" in html and NUMBER not in html
    assert len(_stored_files(media)) == 1
