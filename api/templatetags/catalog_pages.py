"""Template filters of the web pages: plain words for statuses and timeline entries, readable JSON."""
import json

from django import template

from api.pages import wording

register = template.Library()


@register.filter
def status_words(status):
    return wording.status_words(status)


@register.filter
def event_words(event):
    return wording.event_words(event)


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def plain_number(value):
    """A decimal without trailing zeros: 0.500 -> 0.5, 2.000 -> 2."""
    text = f"{value:f}" if value is not None else ""
    return text.rstrip("0").rstrip(".") if "." in text else text
