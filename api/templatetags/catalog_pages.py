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
