"""Typed, immutable results of the scheduler client: runs of one-off jobs instead of raw JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Metronome's run states (dcos/metronome JobRunStatus): the first four are under way, the last two final.
ACTIVE_RUN_STATUSES = frozenset({"INITIAL", "STARTING", "ACTIVE"})
FINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILED"})


def parse_timestamp(value: Any) -> datetime | None:
    """Metronome's timestamps (``2016-07-15T13:02:59.735+0000``) as aware datetimes; None if absent or odd."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00 (fromisoformat on 3.11 wants the colon)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class RunTask:
    """One Mesos task of a run: its id, state (TASK_RUNNING, TASK_FINISHED, TASK_FAILED...) and times."""

    id: str
    status: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_json(cls, obj: Any) -> RunTask:
        if isinstance(obj, str):  # history entries list task ids only
            return cls(id=obj)
        obj = obj if isinstance(obj, dict) else {}
        return cls(id=str(obj.get("id") or ""), status=obj.get("status") if isinstance(obj.get("status"), str) else None,
                   started_at=parse_timestamp(obj.get("startedAt")),
                   completed_at=parse_timestamp(obj.get("completedAt")))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "completed_at": self.completed_at.isoformat() if self.completed_at else None}


@dataclass(frozen=True)
class JobRun:
    """One run of a one-off job: where it stands, when it began and ended, its tasks and why it failed."""

    id: str
    job_id: str
    status: str
    created_at: datetime | None = None
    finished_at: datetime | None = None
    tasks: tuple[RunTask, ...] = ()
    failure_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_RUN_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def exit_status(self) -> str | None:
        """The last task state reported (TASK_FINISHED, TASK_FAILED, TASK_KILLED...), if any."""
        states = [task.status for task in self.tasks if task.status]
        return states[-1] if states else None

    @classmethod
    def from_json(cls, obj: dict[str, Any], *, job_id: str = "") -> JobRun:
        obj = obj if isinstance(obj, dict) else {}
        tasks = tuple(RunTask.from_json(task) for task in obj.get("tasks") or [] if task)
        return cls(id=str(obj.get("id") or ""), job_id=str(obj.get("jobId") or job_id),
                   status=str(obj.get("status") or "INITIAL"), created_at=parse_timestamp(obj.get("createdAt")),
                   finished_at=parse_timestamp(obj.get("completedAt") or obj.get("finishedAt")), tasks=tasks,
                   raw=obj)

    @classmethod
    def from_history(cls, entry: dict[str, Any], *, job_id: str, status: str) -> JobRun:
        """A finished run as listed in ``GET /v1/jobs/{id}?embed=history`` (Metronome drops it from ``/runs``)."""
        run = cls.from_json(entry, job_id=job_id)
        reason = "Metronome lists the run among the failed finished runs" if status == "FAILED" else None
        return cls(id=run.id, job_id=job_id, status=status, created_at=run.created_at,
                   finished_at=run.finished_at, tasks=run.tasks, failure_reason=reason, raw=entry)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "job_id": self.job_id, "status": self.status,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "tasks": [task.as_dict() for task in self.tasks], "exit_status": self.exit_status,
                "failure_reason": self.failure_reason}
