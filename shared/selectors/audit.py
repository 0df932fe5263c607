"""Reads of the audit log, with the filters of GET /api/v1/audit."""
from django.utils.dateparse import parse_datetime

from shared.errors import ValidationFailed
from shared.models import AuditEntry


def _when(value, field):
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValidationFailed(f"{field} must be an ISO 8601 date-time.",
                               errors={field: ["Must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z."]})
    return parsed


def audit_list(*, actor=None, action=None, target_type=None, target_id=None, since=None, until=None):
    entries = AuditEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name=actor)
    if action:
        entries = entries.filter(action__in=action.split(","))
    if target_type:
        entries = entries.filter(target_type=target_type)
    if target_id:
        entries = entries.filter(target_id=target_id)
    if since:
        entries = entries.filter(at__gte=_when(since, "since"))
    if until:
        entries = entries.filter(at__lt=_when(until, "until"))
    return entries.order_by("-at", "-id")
