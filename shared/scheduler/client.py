"""The one module that speaks HTTP to the one-off job scheduler (Metronome's /v1 API): timeouts, failover, typed
errors and typed results.

Metronome has no maintained Python client (the `marathon` package stops at Marathon's /v2), so this is a small
`requests` wrapper written to the published API (dcos/metronome api/src/main/resources/public/api/v1/jobs.raml).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from .errors import (
    SchedulerError,
    SchedulerNotFound,
    SchedulerRejected,
    SchedulerUnauthorized,
    SchedulerUnavailable,
)
from .types import JobRun

logger = logging.getLogger(__name__)

DEFAULT_URLS = ("http://127.0.0.1:8090",)
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0


def _endpoint(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a Metronome URL is http(s)://[user:pass@]host[:port][/prefix], not {url!r}")
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username is not None else None
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


def _message(response: requests.Response) -> tuple[str, list[Any]]:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:500].strip(), []
    if isinstance(body, dict):
        details = body.get("details") if isinstance(body.get("details"), list) else []
        return str(body.get("message") or response.reason or ""), details
    return str(body)[:500], []


class MetronomeClient:
    """A Metronome cluster behind one or more base URLs.

    Every call has a connect and a read timeout; a URL that is unreachable, times out or answers 5xx is skipped for
    the next one. Errors are ``SchedulerError`` subclasses, runs are ``JobRun``.
    """

    name = "metronome"

    def __init__(self, urls: Sequence[str] | str = DEFAULT_URLS, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, token: str | None = None, verify: bool | str = True,
                 session: requests.Session | None = None):
        if isinstance(urls, str):
            urls = [urls]
        self.endpoints = tuple(_endpoint(url) for url in urls if url and url.strip())
        if not self.endpoints:
            raise ValueError("a MetronomeClient needs at least one URL")
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.token = token or None
        self.verify = verify
        self.session = session or requests.Session()
        self._preferred = 0

    @classmethod
    def from_settings(cls, **overrides: Any) -> MetronomeClient:
        """Configured by METRONOME_URLS, METRONOME_CONNECT_TIMEOUT, METRONOME_READ_TIMEOUT, METRONOME_TOKEN and
        METRONOME_VERIFY_TLS."""
        from django.conf import settings

        options: dict[str, Any] = {
            "urls": list(getattr(settings, "METRONOME_URLS", DEFAULT_URLS)),
            "connect_timeout": getattr(settings, "METRONOME_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
            "read_timeout": getattr(settings, "METRONOME_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
            "token": getattr(settings, "METRONOME_TOKEN", None),
            "verify": getattr(settings, "METRONOME_VERIFY_TLS", True),
        }
        options.update(overrides)
        return cls(options.pop("urls"), **options)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(url for url, _ in self.endpoints)

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, *, params: Any = None, json: Any = None, text: bool = False) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"token={self.token}"
        last: SchedulerError | None = None
        count = len(self.endpoints)
        for step in range(count):
            index = (self._preferred + step) % count
            base, auth = self.endpoints[index]
            url = base + path
            try:
                response = self.session.request(method, url, params=params, json=json, headers=headers, auth=auth,
                                                timeout=self.timeout, verify=self.verify, allow_redirects=True)
            except requests.Timeout as exc:
                last = SchedulerUnavailable(f"{method} {path} timed out: {exc.__class__.__name__}", url=url)
                continue
            except requests.RequestException as exc:
                last = SchedulerUnavailable(f"{method} {path} failed: {exc.__class__.__name__}", url=url)
                continue
            if response.status_code >= 500:
                message, details = _message(response)
                last = SchedulerUnavailable(message or f"HTTP {response.status_code}", status=response.status_code,
                                            details=details, url=url)
                continue
            self._preferred = index
            if text and response.status_code < 400:
                return response.text
            return self._result(method, path, url, response)
        logger.warning("scheduler unavailable: %s", last)
        raise last  # type: ignore[misc]

    @staticmethod
    def _result(method: str, path: str, url: str, response: requests.Response) -> Any:
        status = response.status_code
        if status < 400:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise SchedulerUnavailable(f"{method} {path}: the answer is not JSON", status=status, url=url) from None
        message, details = _message(response)
        if status in (401, 403):
            raise SchedulerUnauthorized(message or "not authorized", status=status, url=url)
        if status == 404:
            raise SchedulerNotFound(message or f"{path} does not exist", status=status, url=url)
        if status == 429:
            raise SchedulerUnavailable(message or "too many requests", status=status, url=url)
        raise SchedulerRejected(message or f"HTTP {status}", status=status, details=details, url=url)

    # ------------------------------------------------------------------------------------------- calls

    @staticmethod
    def _job_path(job_id: str) -> str:
        return "/v1/jobs/" + quote(job_id, safe="")

    def ping(self) -> bool:
        """``GET /ping`` (plain text ``pong``)."""
        return self._request("GET", "/ping", text=True).strip() == "pong"

    def get_job(self, job_id: str, *, embed: Sequence[str] = ()) -> dict[str, Any]:
        """``GET /v1/jobs/{id}`` (with ``embed=activeRuns|history|...``): the job specification as stored."""
        return self._request("GET", self._job_path(job_id), params=[("embed", item) for item in embed] or None)

    def put_job(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create the job, or replace its specification when it exists (``POST /v1/jobs`` or ``PUT /v1/jobs/{id}``)."""
        try:
            return self._request("PUT", self._job_path(spec["id"]), json=spec)
        except SchedulerNotFound:
            pass
        try:
            return self._request("POST", "/v1/jobs", json=spec)
        except SchedulerRejected as error:
            if error.status != 409:
                raise
            # Created between our PUT and POST (another attempt): replace it.
            return self._request("PUT", self._job_path(spec["id"]), json=spec)

    def delete_job(self, job_id: str) -> None:
        self._request("DELETE", self._job_path(job_id))

    def start_run(self, job_id: str) -> JobRun:
        """``POST /v1/jobs/{id}/runs``: start a run now."""
        return JobRun.from_json(self._request("POST", self._job_path(job_id) + "/runs") or {}, job_id=job_id)

    def list_runs(self, job_id: str) -> list[JobRun]:
        """The job's active runs (finished ones are only in its history)."""
        return [JobRun.from_json(run, job_id=job_id)
                for run in self._request("GET", self._job_path(job_id) + "/runs") or []]

    def get_run(self, job_id: str, run_id: str) -> JobRun:
        """A run wherever it is: among the active runs, else in the job's history (Metronome moves a finished run
        there and ``/runs/{runId}`` then answers 404)."""
        try:
            return JobRun.from_json(
                self._request("GET", self._job_path(job_id) + "/runs/" + quote(run_id, safe="")), job_id=job_id)
        except SchedulerNotFound:
            pass
        history = (self.get_job(job_id, embed=("history",)) or {}).get("history") or {}
        for key, status in (("successfulFinishedRuns", "SUCCESS"), ("failedFinishedRuns", "FAILED")):
            for entry in history.get(key) or []:
                if isinstance(entry, dict) and entry.get("id") == run_id:
                    return JobRun.from_history(entry, job_id=job_id, status=status)
        raise SchedulerNotFound(f"JobRun '{run_id}' of job '{job_id}' does not exist", status=404)

    def stop_run(self, job_id: str, run_id: str) -> None:
        """``POST /v1/jobs/{id}/runs/{runId}/actions/stop``."""
        self._request("POST", self._job_path(job_id) + "/runs/" + quote(run_id, safe="") + "/actions/stop")


def scheduler_client():
    """The client for the scheduler chosen by ONEOFF_SCHEDULER."""
    from django.conf import settings

    kind = getattr(settings, "ONEOFF_SCHEDULER", "metronome")
    if kind != "metronome":
        raise SchedulerError(f"ONEOFF_SCHEDULER={kind!r} is not supported")
    return MetronomeClient.from_settings()
