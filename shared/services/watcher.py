"""Marathon events to state: job outcomes, timeline entries and each deployment's runtime state, in batches."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2.extras import execute_values

from shared.errors import IllegalTransition
from shared.logctx import bind_job, unbind_job
from shared.models import Deployment, DeploymentStatus, Job, JobEvent, JobKind, JobStatus
from shared.services import jobs as job_services
from shared.services.deployments import deployment_mark, deployment_sync_from_app
from shared.services.job_runner import settle_from_marathon
from shared.services.webhooks import deployment_health_changed
from shared.statements import select_by_pk, select_where, update_rows

logger = logging.getLogger(__name__)

DEPLOYMENT_EVENT_TYPES = (
    "deployment_info",
    "deployment_step_success",
    "deployment_step_failure",
    "deployment_success",
    "deployment_failed",
)
TASK_EVENT_TYPES = (
    "status_update_event",
    "instance_changed_event",
    "health_status_changed_event",
    "failed_health_check_event",
    "unhealthy_instance_kill_event",
    "app_terminated_event",
)
# What the watcher subscribes to (the `event_type` filters of /v2/events); everything else is ignored.
WATCHED_EVENT_TYPES = DEPLOYMENT_EVENT_TYPES + TASK_EVENT_TYPES

# Mesos task states after which a task is gone for good (API notes §7.3).
TERMINAL_TASK_STATES = frozenset({
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
})
# Ends of a task that are failures worth showing (a kill during a scale-down or a stop is not one).
FAILED_TASK_STATES = frozenset({"TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"})
STAGED_TASK_STATES = frozenset({"TASK_STAGING", "TASK_STARTING"})
# instance_changed_event's `condition` as the Mesos task state it stands for.
CONDITION_STATES = {
    "Provisioned": "TASK_STAGING",
    "Staging": "TASK_STAGING",
    "Starting": "TASK_STARTING",
    "Running": "TASK_RUNNING",
    "Killing": "TASK_KILLING",
    "Finished": "TASK_FINISHED",
    "Failed": "TASK_FAILED",
    "Killed": "TASK_KILLED",
    "Error": "TASK_ERROR",
    "Dropped": "TASK_DROPPED",
    "Gone": "TASK_GONE",
    "Unreachable": "TASK_UNREACHABLE",
    "UnreachableInactive": "TASK_UNREACHABLE",
    "Unknown": "TASK_UNKNOWN",
}

RUNTIME_FIELDS = (
    "status", "deployment_id", "instances", "tasks_staged", "tasks_running", "tasks_healthy", "tasks_unhealthy",
    "tasks", "last_failure", "last_event_at",
)
PENDING_OUTCOME_SECONDS = 300
GONE_TASKS_KEPT = 50_000


class MalformedEvent(ValueError):
    """An event of a watched type whose data lacks what the watcher needs; it is logged and skipped."""


# ------------------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class DeploymentFact:
    """A deployment event reduced to what matters: plan, apps, step, outcome."""

    event_type: str
    timestamp: datetime
    plan_id: str
    version: str
    apps: tuple[str, ...]
    step: int | None
    steps: int
    actions: tuple[str, ...]
    reason: str

    @property
    def terminal(self):
        return self.event_type in ("deployment_success", "deployment_failed")

    def dedupe_key(self):
        step = self.step if self.step is not None else _digest(self.actions)
        if self.terminal:
            return f"{self.event_type}:{self.plan_id}"
        return f"{self.event_type}:{self.plan_id}:{step}"

    def message(self):
        short = self.plan_id
        if self.event_type == "deployment_success":
            return f"Marathon: deployment {short} succeeded"
        if self.event_type == "deployment_failed":
            return f"Marathon: deployment {short} failed: {self.reason or 'no reason given'}"
        where = f"step {self.step}/{self.steps}" if self.step else "a step"
        what = {"deployment_info": "started", "deployment_step_success": "done",
                "deployment_step_failure": "failed"}[self.event_type]
        return f"Marathon: deployment {short} {where} {what}: {', '.join(self.actions)}"

    def data(self):
        data = {"event_type": self.event_type, "timestamp": _iso(self.timestamp), "deployment_id": self.plan_id,
                "version": self.version, "apps": list(self.apps)}
        if self.step is not None:
            data.update(step=self.step, steps=self.steps)
        if self.actions:
            data["actions"] = list(self.actions)
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class TaskFact:
    """A task, health or app event reduced to the app, the task and what changed."""

    event_type: str
    timestamp: datetime
    app_id: str
    task_id: str = ""
    instance_id: str = ""
    state: str = ""
    host: str = ""
    ports: tuple[int, ...] = ()
    message: str = ""
    alive: bool | None = None
    version: str = ""

    def dedupe_key(self):
        ident = self.task_id or self.instance_id or self.app_id
        detail = self.state or ("" if self.alive is None else ("alive" if self.alive else "dead"))
        key = f"{self.event_type}:{ident}:{detail}:{_iso(self.timestamp)}"
        return key if len(key) <= 255 else f"{self.event_type}:{_digest(key)}"

    def message_text(self):
        if self.event_type == "status_update_event":
            where = f" on {self.host}" + (f":{','.join(map(str, self.ports))}" if self.ports else "") if self.host else ""
            text = f"Marathon: task {self.task_id} {self.state}{where}"
            return f"{text}: {self.message}" if self.message else text
        if self.event_type == "instance_changed_event":
            return f"Marathon: instance {self.instance_id} {self.state}"
        if self.event_type == "health_status_changed_event":
            return f"Marathon: instance {self.instance_id} is {'healthy' if self.alive else 'unhealthy'}"
        if self.event_type == "failed_health_check_event":
            return f"Marathon: a health check failed on instance {self.instance_id}"
        if self.event_type == "unhealthy_instance_kill_event":
            return f"Marathon: killed unhealthy task {self.task_id or self.instance_id}: {self.message}"
        return f"Marathon: every task of {self.app_id} is gone"

    def data(self):
        data = {"event_type": self.event_type, "timestamp": _iso(self.timestamp), "app_id": self.app_id}
        for name in ("task_id", "instance_id", "state", "host", "message", "version"):
            value = getattr(self, name)
            if value:
                data[name] = value
        if self.ports:
            data["ports"] = list(self.ports)
        if self.alive is not None:
            data["alive"] = self.alive
        return data


def _digest(value):
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _iso(moment):
    """UTC, fixed width (microseconds always there), so that these strings compare as the times do."""
    if not moment:
        return ""
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _text(data, name, *, required=False, event_type=""):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise MalformedEvent(f"{event_type} without {name}")
        return ""
    if not isinstance(value, str):
        raise MalformedEvent(f"{event_type}: {name} is {type(value).__name__}, not a string")
    return value


def _instance_of(task_id):
    """The instance id inside a 1.5+ task id (``<instance>._app.<n>``); older task ids are their instance."""
    head, sep, _ = task_id.partition("._app.")
    return head if sep else task_id


def event_fact(event):
    """A watched event as a DeploymentFact or TaskFact; None for other types; MalformedEvent when unusable."""
    event_type = event.event_type
    if event_type not in WATCHED_EVENT_TYPES:
        return None
    if event.error:
        raise MalformedEvent(f"{event_type}: {event.error}")
    data = event.data
    if not isinstance(data, dict) or not data:
        raise MalformedEvent(f"{event_type} without data")
    timestamp = event.timestamp
    if timestamp is None:
        raise MalformedEvent(f"{event_type} without a valid timestamp")
    if event_type in DEPLOYMENT_EVENT_TYPES:
        return _deployment_fact(event_type, timestamp, data)
    return _task_fact(event_type, timestamp, data)


def _deployment_fact(event_type, timestamp, data):
    plan = data.get("plan")
    if not isinstance(plan, dict):
        raise MalformedEvent(f"{event_type} without a plan object")
    plan_id = _text(plan, "id", event_type=event_type)
    if event_type in ("deployment_success", "deployment_failed"):
        plan_id = _text(data, "id", event_type=event_type) or plan_id
    if not plan_id:
        raise MalformedEvent(f"{event_type} without a deployment id")
    steps = plan.get("steps")
    if steps is None:
        steps = []
    if not isinstance(steps, list):
        raise MalformedEvent(f"{event_type}: plan.steps is not a list")
    apps = []
    step_actions = []
    for step in steps:
        actions = step.get("actions") if isinstance(step, dict) else None
        if not isinstance(actions, list):
            raise MalformedEvent(f"{event_type}: a plan step without actions")
        step_actions.append(actions)
        for action in actions:
            app = action.get("app") if isinstance(action, dict) else None
            if isinstance(app, str) and app and app not in apps:
                apps.append(app)
    target = plan.get("target")
    if not apps and isinstance(target, dict):
        apps = [a["id"] for a in target.get("apps") or [] if isinstance(a, dict) and isinstance(a.get("id"), str)]
    step_index = None
    actions = ()
    current = data.get("currentStep")
    if event_type not in ("deployment_success", "deployment_failed"):
        if not isinstance(current, dict) or not isinstance(current.get("actions"), list):
            raise MalformedEvent(f"{event_type} without currentStep.actions")
        actions = tuple(
            f"{a.get('action', '?')} {a.get('app') or a.get('pod') or ''}".strip()
            for a in current["actions"] if isinstance(a, dict)
        )
        for index, candidate in enumerate(step_actions, start=1):
            if _same_actions(candidate, current["actions"]):
                step_index = index
                break
    return DeploymentFact(
        event_type=event_type, timestamp=timestamp, plan_id=plan_id, version=_text(plan, "version"),
        apps=tuple(apps), step=step_index, steps=len(step_actions), actions=actions,
        reason=_text(data, "reason") if event_type == "deployment_failed" else "",
    )


def _same_actions(left, right):
    def key(actions):
        return [(a.get("action"), a.get("app") or a.get("pod")) for a in actions if isinstance(a, dict)]

    return key(left) == key(right)


def _task_fact(event_type, timestamp, data):
    if event_type == "instance_changed_event":
        app_id = _text(data, "runSpecId", required=True, event_type=event_type)
        instance_id = _text(data, "instanceId", required=True, event_type=event_type)
        condition = _text(data, "condition", required=True, event_type=event_type)
        return TaskFact(event_type, timestamp, app_id, instance_id=instance_id,
                        state=CONDITION_STATES.get(condition, "TASK_UNKNOWN"), host=_text(data, "host"),
                        version=_text(data, "runSpecVersion"))
    app_id = _text(data, "appId", required=True, event_type=event_type)
    if event_type == "status_update_event":
        task_id = _text(data, "taskId", required=True, event_type=event_type)
        state = _text(data, "taskStatus", required=True, event_type=event_type)
        ports = data.get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in ports):
            raise MalformedEvent(f"{event_type}: ports is not a list of numbers")
        return TaskFact(event_type, timestamp, app_id, task_id=task_id, instance_id=_instance_of(task_id),
                        state=state, host=_text(data, "host"), ports=tuple(ports),
                        message=_text(data, "message"), version=_text(data, "version"))
    if event_type == "health_status_changed_event":
        instance_id = _text(data, "instanceId", event_type=event_type) or _text(data, "taskId")
        alive = data.get("alive")
        if not instance_id or not isinstance(alive, bool):
            raise MalformedEvent(f"{event_type} without instanceId and a boolean alive")
        return TaskFact(event_type, timestamp, app_id, instance_id=_instance_of(instance_id), alive=alive,
                        version=_text(data, "version"))
    if event_type == "failed_health_check_event":
        instance_id = _text(data, "instanceId", event_type=event_type) or _text(data, "taskId")
        return TaskFact(event_type, timestamp, app_id, instance_id=_instance_of(instance_id))
    if event_type == "unhealthy_instance_kill_event":
        task_id = _text(data, "taskId")
        instance_id = _text(data, "instanceId") or _instance_of(task_id)
        if not instance_id:
            raise MalformedEvent(f"{event_type} without taskId or instanceId")
        return TaskFact(event_type, timestamp, app_id, task_id=task_id, instance_id=instance_id,
                        host=_text(data, "host"), message=_text(data, "reason") or "failed its health checks",
                        version=_text(data, "version"))
    return TaskFact(event_type, timestamp, app_id)  # app_terminated_event


# ------------------------------------------------------------------------------------------ what is kept


@dataclass
class PendingOutcome:
    success: bool
    reason: str
    fact: DeploymentFact
    expires: float


@dataclass
class WatcherMemory:
    """What one watcher process remembers between batches.

    ``gone``: ids of tasks seen ending, so a late or repeated event of theirs does not bring them back.
    ``pending``: outcomes of deployments whose job was not yet `waiting` when the event came (the worker had
    Marathon's answer but had not committed it); they are applied once the job is waiting.
    """

    gone: OrderedDict = field(default_factory=OrderedDict)
    pending: dict = field(default_factory=dict)
    finished: OrderedDict = field(default_factory=OrderedDict)

    def finish_plan(self, plan_id):
        self.finished[plan_id] = True
        self.finished.move_to_end(plan_id)
        while len(self.finished) > GONE_TASKS_KEPT:
            self.finished.popitem(last=False)

    def forget_task(self, *ids):
        for ident in ids:
            if ident:
                self.gone[ident] = True
                self.gone.move_to_end(ident)
        while len(self.gone) > GONE_TASKS_KEPT:
            self.gone.popitem(last=False)

    def is_gone(self, *ids):
        return any(ident and ident in self.gone for ident in ids)


_default_memory = WatcherMemory()


@dataclass
class BatchResult:
    """Counts of what one call of watcher_handle_events did."""

    handled: int = 0
    ignored: int = 0
    malformed: int = 0
    deployments_updated: int = 0
    job_events: int = 0
    jobs_settled: int = 0


# ------------------------------------------------------------------------------------------ the service


def watcher_handle_event(event, *, memory=None):
    """One event (see watcher_handle_events)."""
    return watcher_handle_events([event], memory=memory)


def watcher_handle_events(events, *, memory=None):
    """Apply a batch of Marathon events: runtime state of deployments, job timelines, job outcomes.

    Idempotent: a second delivery of the same event writes nothing (timeline entries carry a dedupe key,
    task counts are recomputed from the tasks rather than counted, job moves are guarded transitions).
    One transaction for the runtime state and the timeline entries of the whole batch (one SELECT ... FOR
    UPDATE of the deployments, one bulk UPDATE, one bulk INSERT); job outcomes go through job_transition.
    """
    memory = memory if memory is not None else _default_memory
    result = BatchResult()
    facts = []
    for event in events:
        try:
            fact = event_fact(event)
        except MalformedEvent as exc:
            result.malformed += 1
            logger.warning("watcher: skipping a malformed %s event: %s; data: %.300s", event.event_type, exc,
                           event.raw or event.data)
            continue
        if fact is None:
            result.ignored += 1
            continue
        facts.append(fact)
    if not facts:
        return result
    result.handled = len(facts)

    app_ids = set()
    plan_ids = set()
    for fact in facts:
        if isinstance(fact, DeploymentFact):
            app_ids.update(fact.apps)
            plan_ids.add(fact.plan_id)
        else:
            app_ids.add(fact.app_id)

    outcomes = []
    with transaction.atomic():
        rows = {
            row.marathon_app_id: row
            for row in select_where(Deployment, "marathon_app_id = ANY(%s) ORDER BY id FOR UPDATE", [sorted(app_ids)])
        }
        before = {app_id: _runtime_snapshot(row) for app_id, row in rows.items()}
        jobs = select_where(
            Job, "deployment_id = ANY(%s) OR (marathon_app_id = ANY(%s) AND status IN ('waiting', 'running'))",
            [sorted(plan_ids), sorted(app_ids)],
        ) if app_ids or plan_ids else []
        by_plan = {}
        waiting_by_app = {}
        for job in jobs:
            if job.deployment_id:
                by_plan.setdefault(job.deployment_id, []).append(job)
            if job.status == JobStatus.WAITING and job.marathon_app_id:
                waiting_by_app[job.marathon_app_id] = job
        timeline = []
        for fact in facts:
            if isinstance(fact, DeploymentFact):
                matched = _jobs_of_plan(fact, by_plan, jobs)
                for job in matched:
                    timeline.append(JobEvent(job_id=job.pk, type=fact.event_type, message=fact.message()[:10000],
                                             data=fact.data(), dedupe_key=fact.dedupe_key()[:255]))
                stale = fact.event_type == "deployment_info" and fact.plan_id in memory.finished
                for app_id in fact.apps:
                    row = rows.get(app_id)
                    if row is not None and not stale:
                        _apply_deployment_fact(row, fact)
                if fact.terminal:
                    memory.finish_plan(fact.plan_id)
                if fact.terminal:
                    waiting = [job for job in matched if job.status == JobStatus.WAITING]
                    if waiting:
                        outcomes.extend((job, fact) for job in waiting)
                    elif any(job.status == JobStatus.RUNNING for job in matched) or any(
                        job.status == JobStatus.RUNNING and job.marathon_app_id in fact.apps for job in jobs
                    ):
                        memory.pending[fact.plan_id] = PendingOutcome(
                            fact.event_type == "deployment_success", fact.reason, fact,
                            time.monotonic() + PENDING_OUTCOME_SECONDS)
            else:
                row = rows.get(fact.app_id)
                if row is not None:
                    _apply_task_fact(row, fact, memory)
                job = waiting_by_app.get(fact.app_id)
                if job is not None:
                    timeline.append(JobEvent(job_id=job.pk, type=fact.event_type, message=fact.message_text()[:10000],
                                             data=fact.data(), dedupe_key=fact.dedupe_key()))
        changed = []
        for app_id, row in rows.items():
            _recount(row)
            if _runtime_snapshot(row) != before[app_id]:
                row.updated_at = timezone.now()
                changed.append(row)
        if changed:
            update_rows(changed, [*RUNTIME_FIELDS, "updated_at"])
            for row in changed:
                old_status = before[row.marathon_app_id][0]  # RUNTIME_FIELDS starts with the status
                if old_status != row.status:
                    deployment_health_changed(row, old_status, row.status)  # webhooks, in this transaction
        if timeline:
            result.job_events = _insert_timeline(timeline)
        result.deployments_updated = len(changed)

    for job, fact in outcomes:
        if _settle_with_outcome(job, fact, rows.get(job.marathon_app_id)):
            result.jobs_settled += 1
    if memory.pending:
        result.jobs_settled += watcher_settle_pending(memory)
    return result


def _insert_timeline(entries):
    """One INSERT ... ON CONFLICT DO NOTHING for the batch's timeline entries; returns how many were new.

    (bulk_create(ignore_conflicts=True) cannot say which rows it skipped, and the count is the proof that a
    second delivery wrote nothing.)
    """
    now = timezone.now()
    rows = [
        (str(entry.job_id), now, entry.type, "", "", entry.message, json.dumps(entry.data), entry.dedupe_key)
        for entry in entries
    ]
    table = JobEvent._meta.db_table
    with connection.cursor() as cursor:
        inserted = execute_values(
            cursor.cursor,
            f"INSERT INTO {table} (job_id, at, type, from_status, to_status, message, data, dedupe_key) "
            f"VALUES %s ON CONFLICT (job_id, dedupe_key) DO NOTHING RETURNING id",
            rows,
            page_size=1000,
            fetch=True,
        )
    return len(inserted)


def _jobs_of_plan(fact, by_plan, jobs):
    """The jobs of a deployment: by its id, else by app id and version (a job that missed the id)."""
    matched = by_plan.get(fact.plan_id)
    if matched:
        return matched
    if not fact.version:
        return []
    return [
        job for job in jobs
        if job.marathon_app_id in fact.apps and job.marathon_version == fact.version
        and job.status in (JobStatus.WAITING, JobStatus.RUNNING) and not job.deployment_id
    ]


def _runtime_snapshot(row):
    return tuple(getattr(row, name) for name in RUNTIME_FIELDS)


def _note_event_time(row, fact):
    if row.last_event_at is None or fact.timestamp > row.last_event_at:
        row.last_event_at = fact.timestamp


def _apply_deployment_fact(row, fact):
    _note_event_time(row, fact)
    current = row.deployment_id
    if fact.event_type == "deployment_info":
        if current in ("", fact.plan_id):
            row.deployment_id = fact.plan_id
            row.status = DeploymentStatus.DEPLOYING
        return
    if fact.event_type == "deployment_success":
        if current in ("", fact.plan_id):
            row.deployment_id = ""
            if row.status == DeploymentStatus.FAILED:
                row.status = DeploymentStatus.DEPLOYING  # derived again by _recount
            row._settled = True
        return
    if fact.event_type == "deployment_failed":
        if current in ("", fact.plan_id):
            row.deployment_id = ""
            row.status = DeploymentStatus.FAILED
            if not row.last_failure and fact.reason:
                row.last_failure = f"deployment {fact.plan_id} failed: {fact.reason}"


def _find_task(tasks, fact):
    if fact.task_id and fact.task_id in tasks:
        return fact.task_id
    instance = fact.instance_id
    if not instance:
        return None
    if instance in tasks:
        return instance
    for key, task in tasks.items():
        if task.get("instance_id") == instance or _instance_of(key) == instance:
            return key
    return None


def _apply_task_fact(row, fact, memory):
    _note_event_time(row, fact)
    if fact.event_type == "app_terminated_event":
        for key in list(row.tasks or {}):
            memory.forget_task(key, _instance_of(key))
        row.tasks = {}
        row.instances = 0
        row.status = DeploymentStatus.STOPPED
        return
    tasks = dict(row.tasks or {})
    key = _find_task(tasks, fact)
    stamp = _iso(fact.timestamp)
    if key is not None and (tasks[key].get("at") or "") > stamp:
        return  # an older event than what the task already shows
    if fact.event_type in ("status_update_event", "instance_changed_event"):
        if fact.state in TERMINAL_TASK_STATES:
            if key is not None:
                tasks.pop(key)
            memory.forget_task(fact.task_id, fact.instance_id, key)
            if fact.state in FAILED_TASK_STATES and fact.message:
                row.last_failure = fact.message
        else:
            if memory.is_gone(fact.task_id, fact.instance_id):
                return
            task = dict(tasks.pop(key)) if key is not None else {"healthy": None, "started_at": None}
            task_id = fact.task_id or key or fact.instance_id
            task.update(id=task_id, instance_id=fact.instance_id or task.get("instance_id") or "",
                        state=fact.state, at=stamp)
            if fact.host:
                task["host"] = fact.host
            if fact.ports:
                task["ports"] = list(fact.ports)
            task.setdefault("host", fact.host or None)
            task.setdefault("ports", [])
            task["endpoints"] = [f"{task['host']}:{port}" for port in task["ports"]] if task["host"] else []
            if fact.version:
                task["version"] = fact.version
            if fact.state == "TASK_RUNNING" and not task.get("started_at"):
                task["started_at"] = stamp
            tasks[task_id] = task
        row.tasks = tasks
        return
    if fact.event_type == "health_status_changed_event":
        if key is not None:
            task = dict(tasks[key])
            task["healthy"] = fact.alive
            task["at"] = stamp
            tasks[key] = task
            row.tasks = tasks
        return
    if fact.event_type == "unhealthy_instance_kill_event":
        where = f" on {fact.host}" if fact.host else ""
        row.last_failure = f"task {fact.task_id or fact.instance_id}{where} killed as unhealthy: {fact.message}"
    # failed_health_check_event: a timeline entry only; health flips come with health_status_changed_event.


def _recount(row):
    live = [task for task in (row.tasks or {}).values() if task.get("state") not in TERMINAL_TASK_STATES]
    row.tasks_staged = sum(1 for task in live if task.get("state") in STAGED_TASK_STATES)
    row.tasks_running = sum(1 for task in live if task.get("state") == "TASK_RUNNING")
    row.tasks_healthy = sum(1 for task in live if task.get("healthy") is True)
    row.tasks_unhealthy = sum(1 for task in live if task.get("healthy") is False)
    if row.status == DeploymentStatus.FAILED and not getattr(row, "_settled", False):
        return  # failed stays failed until a deployment starts or succeeds
    if row.deployment_id:
        row.status = DeploymentStatus.DEPLOYING
    elif row.instances == 0 and not live:
        row.status = DeploymentStatus.STOPPED
    elif row.tasks_unhealthy or row.tasks_running < row.instances:
        row.status = DeploymentStatus.UNHEALTHY
    else:
        row.status = DeploymentStatus.RUNNING


def _settle_with_outcome(job, fact, row, *, success=None, reason=None):
    """Move a waiting job to succeeded or failed after its deployment ended; False when it had moved on."""
    success = fact.event_type == "deployment_success" if success is None else success
    reason = fact.reason if reason is None else reason
    job = select_by_pk(Job, job.pk)
    if job is None or job.status != JobStatus.WAITING:
        return False
    bind_job(job)  # the job's lines in the watcher's log name it, like the worker's
    try:
        logger.info("watcher: deployment %s %s", fact.plan_id, "succeeded" if success else f"failed: {reason}")
        if success:
            if job.kind == JobKind.STOP:
                deployment_mark(job.marathon_app_id, DeploymentStatus.STOPPED)
                job_services.job_mark_succeeded(job, message=f"deployment {fact.plan_id} finished: stopped")
                return True
            running = row.tasks_running if row is not None else None
            instances = row.instances if row is not None else None
            message = f"deployment {fact.plan_id} finished"
            if row is not None:
                message += f"; {running}/{instances} running"
            job_services.job_mark_succeeded(job, message=message,
                                            result={"tasks_running": running, "instances": instances})
            return True
        if job.cancel_requested:
            return False  # the cancellation in progress settles it as cancelled
        last_failure = (row.last_failure if row is not None else "") or None
        job_services.job_fail(job, {
            "code": "deployment_failed",
            "message": f"Marathon: {reason or 'the deployment failed'}",
            "retryable": False,
            "details": {"deployment_id": fact.plan_id, "reason": reason or None, "last_task_failure": last_failure},
        })
        return True
    except IllegalTransition:
        return False
    finally:
        unbind_job()


def watcher_settle_pending(memory=None):
    """Apply remembered outcomes to jobs that have since become `waiting`; forget the expired ones."""
    memory = memory if memory is not None else _default_memory
    if not memory.pending:
        return 0
    now = time.monotonic()
    for plan_id in [p for p, outcome in memory.pending.items() if outcome.expires < now]:
        memory.pending.pop(plan_id, None)
    settled = 0
    jobs = select_where(Job, "status = 'waiting' AND deployment_id = ANY(%s)", [sorted(memory.pending)])
    for job in jobs:
        outcome = memory.pending.pop(job.deployment_id, None)
        if outcome is None:
            continue
        row = next(iter(select_where(Deployment, "marathon_app_id = %s", [job.marathon_app_id])), None)
        if _settle_with_outcome(job, outcome.fact, row, success=outcome.success, reason=outcome.reason):
            settled += 1
    return settled


# ------------------------------------------------------------------------------------------------ resync


def watcher_resync(client):
    """Bring jobs and deployments to Marathon's truth after a (re)connect: events missed are never replayed.

    Reads /v2/deployments once and the apps under MARATHON_GROUP once, syncs every deployment row, marks
    rows whose app vanished as stopped, then settles every `waiting` job (settle_from_marathon).
    """
    counts = {"deployments": 0, "synced": 0, "stopped": 0, "waiting": 0, "settled": 0}
    in_flight = {deployment.id for deployment in client.list_deployments()}
    counts["deployments"] = len(in_flight)
    group = settings.MARATHON_GROUP.rstrip("/")
    apps = client.list_apps(group=group or None, embed_tasks=True)
    seen = set()
    for app in apps:
        seen.add(app.id)
        if deployment_sync_from_app(app.id, app) is not None:
            counts["synced"] += 1
    prefix = (group + "/") if group else "/"
    busy = set(
        Job.objects.filter(status__in=[JobStatus.RUNNING, JobStatus.WAITING]).values_list("marathon_app_id",
                                                                                           flat=True)
    )
    vanished = (
        Deployment.objects.filter(marathon_app_id__startswith=prefix)
        .exclude(status=DeploymentStatus.STOPPED)
        .exclude(marathon_app_id__in=seen)
        .values_list("marathon_app_id", flat=True)
    )
    for marathon_id in list(vanished):
        if marathon_id not in busy:
            deployment_mark(marathon_id, DeploymentStatus.STOPPED)
            counts["stopped"] += 1
    for job in Job.objects.filter(status=JobStatus.WAITING).order_by("created_at"):
        counts["waiting"] += 1
        try:
            if settle_from_marathon(job, client) is not None:
                counts["settled"] += 1
        except IllegalTransition:
            continue
    return counts
