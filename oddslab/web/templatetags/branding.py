from django import template

from oddslab.web.branding import Brand, brand_of

register = template.Library()


@register.simple_tag(takes_context=True)
def tenant_brand(context) -> Brand:
    """The header's tenant name and colour: ``{% tenant_brand as brand %}``."""
    request = context.get("request")
    return brand_of(getattr(request, "user", None) or context.get("user"))
