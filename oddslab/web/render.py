"""Named partials: a page template's ``{% block %}`` rendered on its own (django-htmx's pattern of
one template per page; the view returns the partial for htmx requests and the page otherwise)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.context import make_context
from django.template.loader import get_template
from django.template.loader_tags import BlockNode

from core.errors import DomainError


def render_block(template_name: str, block: str, context: dict[str, Any], request: HttpRequest | None = None) -> str:
    template = get_template(template_name).template
    node = next((n for n in template.nodelist.get_nodes_by_type(BlockNode) if n.name == block), None)
    if node is None:
        raise LookupError(f"{template_name} has no block {block!r}")
    ctx = make_context(context, request, autoescape=template.engine.autoescape)
    with ctx.bind_template(template):
        return node.render(ctx)


def page(request: HttpRequest, template_name: str, context: dict[str, Any], *, partial: str = "content",
         status: int = 200) -> HttpResponse:
    """The whole page, or only its ``partial`` block when htmx asks."""
    if getattr(request, "htmx", False):
        return HttpResponse(render_block(template_name, partial, context, request), status=status)
    return render(request, template_name, context, status=status)


def page_status(error: DomainError) -> int:
    """A refused form is drawn again with the reason in words (422); an unknown id stays a 404."""
    return 404 if error.status == 404 else 422
