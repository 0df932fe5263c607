"""Typed, immutable results of the Marathon client: what callers get instead of Marathon's raw JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Fields Marathon adds to an app on GET; they must not be sent back in a definition (API notes §3.6).
READ_ONLY_APP_FIELDS = frozenset(
    {
        "tasks",
        "tasksStaged",
        "tasksRunning",
        "tasksHealthy",
        "tasksUnhealthy",
        "deployments",
        "lastTaskFailure",
        "readinessCheckResults",
        "taskStats",
        "taskFailures",
    }
)

_RAW = {"compare": False, "hash": False, "repr": False}


def parse_timestamp(value: Any) -> datetime | None:
    """Marathon's ISO-8601 UTC timestamps (``2026-01-01T10:00:05.000Z``) as aware datetimes; None if absent/odd."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    return default


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class MarathonTask:
    """One task (instance) of an app, as Marathon reports it."""

    id: str
    app_id: str
    host: str | None
    ports: tuple[int, ...]
    state: str | None
    staged_at: datetime | None
    started_at: datetime | None
    version: str | None
    agent_id: str | None
    # One entry per health check: whether the last result said alive.
    health_results: tuple[bool, ...] = ()

    @property
    def healthy(self) -> bool | None:
        """True when every health check says alive, False when one does not, None when unchecked."""
        if not self.health_results:
            return None
        return all(self.health_results)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """``host:port`` for each host port."""
        if not self.host:
            return ()
        return tuple(f"{self.host}:{port}" for port in self.ports)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MarathonTask:
        obj = _dict(obj)
        return cls(
            id=_str(obj.get("id")) or "",
            app_id=_str(obj.get("appId")) or "",
            host=_str(obj.get("host")),
            ports=tuple(p for p in _list(obj.get("ports")) if isinstance(p, int) and not isinstance(p, bool)),
            state=_str(obj.get("state")),
            staged_at=parse_timestamp(obj.get("stagedAt")),
            started_at=parse_timestamp(obj.get("startedAt")),
            version=_str(obj.get("version")),
            agent_id=_str(obj.get("slaveId")) or _str(obj.get("agentId")),
            health_results=tuple(
                bool(_dict(result).get("alive")) for result in _list(obj.get("healthCheckResults"))
            ),
        )


@dataclass(frozen=True)
class MarathonAppInfo:
    """An app as Marathon runs it: its definition, counts, tasks, deployments and last failure."""

    id: str
    version: str | None
    instances: int
    tasks_running: int
    tasks_staged: int
    tasks_healthy: int
    tasks_unhealthy: int
    tasks: tuple[MarathonTask, ...]
    deployment_ids: tuple[str, ...]
    last_task_failure: str | None
    last_task_failure_at: datetime | None = None
    # The stored definition without the read-only fields a GET adds: safe to send back.
    definition: dict[str, Any] = field(default_factory=dict, **_RAW)
    # The whole app object as Marathon answered it, for reference only.
    raw: dict[str, Any] = field(default_factory=dict, **_RAW)

    @property
    def labels(self) -> dict[str, str]:
        return dict(_dict(self.definition.get("labels")))

    @property
    def deploying(self) -> bool:
        return bool(self.deployment_ids)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MarathonAppInfo:
        obj = _dict(obj)
        failure = _dict(obj.get("lastTaskFailure"))
        return cls(
            id=_str(obj.get("id")) or "",
            version=_str(obj.get("version")),
            instances=_int(obj.get("instances")),
            tasks_running=_int(obj.get("tasksRunning")),
            tasks_staged=_int(obj.get("tasksStaged")),
            tasks_healthy=_int(obj.get("tasksHealthy")),
            tasks_unhealthy=_int(obj.get("tasksUnhealthy")),
            tasks=tuple(MarathonTask.from_json(task) for task in _list(obj.get("tasks"))),
            deployment_ids=tuple(
                d["id"] for d in _list(obj.get("deployments")) if isinstance(d, dict) and isinstance(d.get("id"), str)
            ),
            last_task_failure=_str(failure.get("message")) if failure else None,
            last_task_failure_at=parse_timestamp(failure.get("timestamp")) if failure else None,
            definition={key: value for key, value in obj.items() if key not in READ_ONLY_APP_FIELDS},
            raw=obj,
        )


@dataclass(frozen=True)
class DeploymentAction:
    """One action of a deployment step, e.g. ``ScaleApplication`` on ``/a/web``."""

    action: str
    app: str | None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DeploymentAction:
        obj = _dict(obj)
        return cls(action=_str(obj.get("action")) or "", app=_str(obj.get("app")) or _str(obj.get("pod")))


@dataclass(frozen=True)
class MarathonDeployment:
    """A running deployment plan as listed by ``GET /v2/deployments`` (``current_step`` is 1-based)."""

    id: str
    version: str | None
    affected_apps: tuple[str, ...]
    current_step: int
    total_steps: int
    current_actions: tuple[DeploymentAction, ...]
    steps: tuple[tuple[DeploymentAction, ...], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, **_RAW)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MarathonDeployment:
        obj = _dict(obj)
        steps = tuple(
            tuple(DeploymentAction.from_json(action) for action in _list(_dict(step).get("actions")))
            for step in _list(obj.get("steps"))
        )
        return cls(
            id=_str(obj.get("id")) or "",
            version=_str(obj.get("version")),
            affected_apps=tuple(a for a in _list(obj.get("affectedApps")) if isinstance(a, str)),
            current_step=_int(obj.get("currentStep")),
            total_steps=_int(obj.get("totalSteps"), len(steps)),
            current_actions=tuple(DeploymentAction.from_json(a) for a in _list(obj.get("currentActions"))),
            steps=steps,
            raw=obj,
        )


@dataclass(frozen=True)
class DeploymentResult:
    """What Marathon answers to a change: the deployment it started and the version it stamped.

    ``version`` is the new version of Marathon's group tree; an app the change left as it was keeps its older
    ``version`` (Marathon's GroupVersioningUtil), so compare deployments by id, not versions by equality.
    """

    deployment_id: str
    version: str | None
    # True when a PUT created the app (201) rather than replacing it (200).
    created: bool = False


@dataclass(frozen=True)
class MarathonInfo:
    """``GET /v2/info``: which Marathon this is and who leads."""

    name: str | None
    version: str | None
    leader: str | None
    elected: bool | None
    framework_id: str | None
    buildref: str | None
    raw: dict[str, Any] = field(default_factory=dict, **_RAW)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MarathonInfo:
        obj = _dict(obj)
        elected = obj.get("elected")
        return cls(
            name=_str(obj.get("name")),
            version=_str(obj.get("version")),
            leader=_str(obj.get("leader")),
            elected=elected if isinstance(elected, bool) else None,
            framework_id=_str(obj.get("frameworkId")),
            buildref=_str(obj.get("buildref")),
            raw=obj,
        )


@dataclass(frozen=True)
class MarathonEvent:
    """One server-sent event of ``/v2/events``.

    ``data`` is the decoded JSON object (empty when it was not one; ``error`` then says why and ``raw`` keeps the
    text), ``event_type`` the ``event:`` name (or the payload's ``eventType`` when the name was missing).
    """

    event_type: str
    timestamp: datetime | None
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    raw: str = ""
    error: str | None = None

    @property
    def deployment_id(self) -> str | None:
        """The plan id: ``id`` on deployment_success/failed, ``plan.id`` on step events."""
        plan_id = _str(_dict(self.data.get("plan")).get("id"))
        if self.event_type in ("deployment_success", "deployment_failed"):
            return _str(self.data.get("id")) or plan_id
        return plan_id

    @property
    def app_id(self) -> str | None:
        return _str(self.data.get("appId")) or _str(self.data.get("runSpecId"))

    @property
    def task_id(self) -> str | None:
        return _str(self.data.get("taskId")) or _str(self.data.get("instanceId"))

    @property
    def task_status(self) -> str | None:
        return _str(self.data.get("taskStatus"))

    @property
    def version(self) -> str | None:
        return _str(self.data.get("version")) or _str(self.data.get("runSpecVersion"))
