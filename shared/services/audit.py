"""The audit log: who changed the catalog or asked for a job, written inside the change's own transaction."""
from structlog.contextvars import get_contextvars

from shared.models import AuditEntry
from shared.permissions import is_signed_in


def audit_record(actor, action, target_type, target_id="", summary=""):
    """Add one entry; call it inside the transaction of the change so both commit or neither does.

    The request id comes from the log context the request middleware binds (empty outside a request).
    `summary` must never carry a secret: it is written as it is and shown to admins.
    """
    entry = audit_entry(actor, action, target_type, target_id, summary)
    entry.save(force_insert=True)
    return entry


def audit_entry(actor, action, target_type, target_id="", summary=""):
    """The entry audit_record writes, unsaved: for writers that insert it together with their own rows."""
    actor = actor if is_signed_in(actor) else None
    return AuditEntry(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        summary=summary[:2000],
        request_id=str(get_contextvars().get("request_id", ""))[:128],
    )
