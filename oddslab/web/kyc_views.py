"""The player's identity check on the site (issue 16): its state and the form to send a document. Thin
over risk.kyc, which checks what is sent as it does for the API. The section is its own fragment,
web/_kyc.html, drawn from ``kyc_context`` so another page (safer gambling) can include it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from audit.context import Actor
from core.errors import DomainError
from oddslab.web.render import page_status
from risk.kyc import EXTENSIONS, kyc_state_of, kyc_submit, number_masked
from risk.models import KycDocument, KycStatus


class KycForm(forms.Form):
    """What the player sends; risk.kyc checks the number and the file (its size, and its type by its content)."""

    document_type = forms.ChoiceField(choices=KycDocument.DocumentType.choices, label="Document")
    document_number = forms.CharField(label="Document number", widget=forms.TextInput(attrs={"autocomplete": "off"}))
    file = forms.FileField(required=False, label="A scan or photo of it (optional)",
                           widget=forms.ClearableFileInput(attrs={"accept": ",".join(EXTENSIONS.values())}))


@login_required
@require_http_methods(["GET", "POST"])
def kyc(request: HttpRequest) -> HttpResponse:
    form, done, status = None, "", 200
    if request.method == "POST":
        form = KycForm(request.POST, request.FILES)
        if not form.is_valid():
            status = 422
        else:
            try:
                kyc_submit(player=request.user, document_type=form.cleaned_data["document_type"],
                           document_number=form.cleaned_data["document_number"], upload=form.cleaned_data["file"],
                           actor=Actor.from_request(request))
            except DomainError as exc:
                field = exc.details.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
                status = page_status(exc)
            else:
                form, done = None, "Thank you: your document is sent for review."
    context = kyc_context(request.user, form=form, done=done)
    if request.htmx:
        # htmx swaps only 2xx answers: a refusal is drawn in the section, in words
        return render(request, "web/_kyc.html", context)
    return render(request, "web/kyc.html", context, status=status)


def kyc_context(user: Any, *, form: KycForm | None = None, done: str = "") -> dict[str, Any]:
    """What web/_kyc.html draws: the player's state, their latest document (its number masked) and, while
    they may send one, the form."""
    state = kyc_state_of(player=user)
    may_send = state.status in (KycStatus.UNVERIFIED, KycStatus.REJECTED) or form is not None
    return {"kyc": state, "kyc_done": done, "kyc_form": (KycForm() if form is None else form) if may_send else None,
            "kyc_number": number_masked(state.document.document_number) if state.document else ""}
