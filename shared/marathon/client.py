"""The one module that speaks HTTP to Marathon: timeouts, HA failover, auth, typed errors and typed results."""
from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import marathon
import requests
import urllib3
from marathon.models import MarathonApp
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from .definition import canonical_app_id, definition_body
from .errors import (
    MarathonConflict,
    MarathonError,
    MarathonNotFound,
    MarathonRejected,
    MarathonUnauthorized,
    MarathonUnavailable,
)
from .types import (
    DeploymentResult,
    MarathonAppInfo,
    MarathonDeployment,
    MarathonEvent,
    MarathonInfo,
    parse_timestamp,
)

logger = logging.getLogger(__name__)

DEFAULT_URLS = ("http://127.0.0.1:8080",)
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0

UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class _Endpoint:
    """One Marathon base URL, its credentials (from ``user:pass@``) kept apart so they never reach a log."""

    url: str
    auth: tuple[str, str] | None = None

    @classmethod
    def parse(cls, url: str) -> _Endpoint:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a Marathon URL is http(s)://[user:pass@]host[:port][/prefix], not {url!r}")
        auth = None
        if parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return cls(urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth)


def _redact(url: str) -> str:
    """A URL without any ``user:pass@`` (Location headers may carry them)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _base_of(url: str) -> str:
    """``scheme://host:port`` of a URL (where a redirect led)."""
    parts = urlsplit(_redact(url))
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _query(params: Any) -> list[tuple[str, str]]:
    """Query pairs with booleans spelt ``true``/``false``.

    requests would send Python's ``True``/``False``; Marathon's Jersey layer happens to accept any case, but
    other Marathon-compatible servers (and proxies that match on the query) need not.
    """
    if not params:
        return []
    items = params.items() if isinstance(params, dict) else params
    pairs = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                continue
            pairs.append((key, ("true" if item else "false") if isinstance(item, bool) else str(item)))
    return pairs


class _PackageClient(marathon.MarathonClient):
    """The ``marathon`` package's client with its transport replaced by ours.

    Its calls (``restart_app``, ``delete_app``, ``update_app``, ``delete_deployment``, ``get_leader``, ``ping``) build
    the right paths and parameters, but its ``_do_request`` has a single timeout, fails over only on connection
    errors (not on 502/503/504 from a node without a leader), turns 409 into an error without the locking
    deployment ids, and logs every 4xx as an error; so every request goes through ``MarathonClient._request``.
    """

    def __init__(self, owner: MarathonClient):
        super().__init__(servers=[endpoint.url for endpoint in owner.endpoints], session=owner.session)
        self._owner = owner

    def _do_request(self, method, path, params=None, data=None):
        return self._owner._request(method, path, params=params, data=data)

    def _do_sse_request(self, path, params=None):  # pragma: no cover - the stream has its own implementation
        raise RuntimeError("the event stream is read by MarathonClient.stream_events, not by the marathon package")


class MarathonClient:
    """A Marathon cluster, reached through one or more base URLs.

    Every call has a connect and a read timeout. A call goes first to the URL that answered last; when that one
    is unreachable, times out, or answers 502/503/504 (no leader, proxy trouble), the next URL is tried. Errors
    are the typed ``MarathonError`` subclasses; results are the frozen dataclasses of ``shared.marathon.types``.
    """

    def __init__(
        self,
        urls: Sequence[str] | str = DEFAULT_URLS,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        token: str | None = None,
        verify: bool | str = True,
        session: requests.Session | None = None,
    ):
        if isinstance(urls, str):
            urls = [urls]
        self.endpoints = tuple(_Endpoint.parse(url) for url in urls if url and url.strip())
        if not self.endpoints:
            raise ValueError("a MarathonClient needs at least one URL")
        if token and any(endpoint.auth for endpoint in self.endpoints):
            raise ValueError("give Marathon either a token or user:pass@ in the URLs, not both")
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.token = token or None
        self.verify = verify
        self.session = session or requests.Session()
        # requests reads the proxy variables (all of os.environ, twice), the CA bundle variables and ~/.netrc on
        # every call of a session that trusts the environment: a third of a worker's CPU per Marathon request.
        # They are read once per host here instead (_environment), and the sessions never read them.
        self._trust_env = self.session.trust_env
        self.session.trust_env = False
        self._environments: dict[tuple[str, str], tuple[dict[str, str], bool | str, Any]] = {}
        self._preferred = 0
        # The base URL the last event stream connected to (after following a redirect to the leader).
        self.stream_url: str | None = None
        self._package = _PackageClient(self)

    @classmethod
    def from_settings(cls, **overrides: Any) -> MarathonClient:
        """A client configured by the Django settings MARATHON_URLS, MARATHON_CONNECT_TIMEOUT,
        MARATHON_READ_TIMEOUT, MARATHON_TOKEN and MARATHON_VERIFY_TLS (defaults when unset)."""
        from django.conf import settings  # imported here so the client works without Django configured

        options: dict[str, Any] = {
            "urls": list(getattr(settings, "MARATHON_URLS", DEFAULT_URLS)),
            "connect_timeout": getattr(settings, "MARATHON_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
            "read_timeout": getattr(settings, "MARATHON_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
            "token": getattr(settings, "MARATHON_TOKEN", None),
            "verify": getattr(settings, "MARATHON_VERIFY_TLS", True),
        }
        options.update(overrides)
        return cls(options.pop("urls"), **options)

    def __repr__(self) -> str:
        return f"MarathonClient({list(self.urls)!r})"

    @property
    def urls(self) -> tuple[str, ...]:
        """The base URLs, without credentials."""
        return tuple(endpoint.url for endpoint in self.endpoints)

    @property
    def current_url(self) -> str:
        """The base URL tried first: the one that answered last."""
        return self.endpoints[self._preferred].url

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> MarathonClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------------- apps

    def create_or_replace_app(
        self, app_definition: dict[str, Any] | MarathonApp, force: bool = False, *, partial_update: bool = False
    ) -> DeploymentResult:
        """``PUT /v2/apps/{id}``: create the app or replace its definition; the id comes from the definition.

        ``partial_update=False`` (the default) makes the body the complete new definition, so a field left out
        returns to its default instead of surviving from the previous one (switching ``cmd`` to ``args`` works).
        ``force=True`` overrides a deployment that locks the app. Read-only fields of a definition read back
        from Marathon (``tasks``, ``deployments``, ``version``...) are dropped.
        """
        app_id, body = definition_body(app_definition)
        response = self._request(
            "PUT",
            self._app_path(app_id),
            params={"force": force, "partialUpdate": partial_update},
            data=json.dumps(body),
        )
        return self._deployment_result(response)

    def get_app(self, app_id: str) -> MarathonAppInfo:
        """``GET /v2/apps/{id}`` with its tasks, deployments and last task failure. MarathonNotFound if absent."""
        app_id = canonical_app_id(app_id)
        response = self._request(
            "GET",
            self._app_path(app_id),
            params=[("embed", "app.tasks"), ("embed", "app.deployments"), ("embed", "app.lastTaskFailure")],
        )
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("app"), dict):
            raise self._bad_answer(response, "an object with 'app'")
        return MarathonAppInfo.from_json(body["app"])

    def find_app(self, app_id: str) -> MarathonAppInfo | None:
        """Like ``get_app``, but None when Marathon has no such app."""
        try:
            return self.get_app(app_id)
        except MarathonNotFound:
            return None

    def list_apps(
        self, group: str | None = None, *, label: str | None = None, embed_tasks: bool = False
    ) -> list[MarathonAppInfo]:
        """``GET /v2/apps``: all apps, or those at any depth under ``group`` (e.g. ``/maracker``).

        ``label`` is Marathon's selector (``key``, ``key==value``, ``key!=value``, ``key in (a,b)``). Marathon's
        ``id=`` filter is a case-insensitive substring match, so the group prefix is enforced here as well.
        """
        params: list[tuple[str, str]] = [("embed", "apps.lastTaskFailure")]
        if embed_tasks:
            params.append(("embed", "apps.tasks"))
        prefix = None
        if group is not None and group.strip("/"):
            prefix = canonical_app_id(group)
            params.append(("id", prefix))
        if label:
            params.append(("label", label))
        response = self._request("GET", "/v2/apps", params=params)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("apps"), list):
            raise self._bad_answer(response, "an object with 'apps'")
        apps = [MarathonAppInfo.from_json(app) for app in body["apps"] if isinstance(app, dict)]
        if prefix:
            apps = [app for app in apps if app.id == prefix or app.id.startswith(prefix + "/")]
        return apps

    def delete_app(self, app_id: str, force: bool = False) -> DeploymentResult:
        """``DELETE /v2/apps/{id}``: stop and remove the app.

        Marathon's own default is ``force=true`` (cancel whatever deploys the app); this client sends the value
        given, so with the default False a locked app answers MarathonConflict.
        """
        app_id = canonical_app_id(app_id)
        return self._result(self._package.delete_app(app_id.lstrip("/"), force=force))

    def restart_app(self, app_id: str, force: bool = False) -> DeploymentResult:
        """``POST /v2/apps/{id}/restart``: replace every task following the app's upgrade strategy."""
        app_id = canonical_app_id(app_id)
        return self._result(self._package.restart_app(app_id.lstrip("/"), force=force))

    def scale_app(self, app_id: str, instances: int, force: bool = False) -> DeploymentResult:
        """A partial ``PUT /v2/apps/{id}`` of ``{"instances": n}`` (a ScaleApplication deployment).

        The package's ``scale_app`` is not used: it reads the app first (a second request and a race) and
        swallows a missing app; its ``update_app`` with a bare ``MarathonApp(instances=n)`` is exactly the call.
        """
        if isinstance(instances, bool) or not isinstance(instances, int) or instances < 0:
            raise MarathonRejected(
                f"instances must be a whole number >= 0, not {instances!r}",
                details=[{"path": "/instances", "errors": ["error.min"]}],
            )
        app_id = canonical_app_id(app_id)
        return self._result(
            self._package.update_app(app_id.lstrip("/"), MarathonApp(instances=instances), force=force)
        )

    # ---------------------------------------------------------------------------------------- deployments

    def list_deployments(self) -> list[MarathonDeployment]:
        """``GET /v2/deployments``: the plans running now."""
        response = self._request("GET", "/v2/deployments")
        body = self._json(response)
        if not isinstance(body, list):
            raise self._bad_answer(response, "a list")
        return [MarathonDeployment.from_json(item) for item in body if isinstance(item, dict)]

    def cancel_deployment(self, deployment_id: str, force: bool = False) -> DeploymentResult | None:
        """``DELETE /v2/deployments/{id}``.

        By default Marathon rolls the affected apps back with a new deployment, returned here. ``force=True``
        just stops the plan where it is: Marathon answers 202 without a body and this returns None.
        """
        if not isinstance(deployment_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", deployment_id):
            raise MarathonRejected(
                f"Invalid deployment id {deployment_id!r}",
                details=[{"path": "/deploymentId", "errors": ["must be a deployment id"]}],
            )
        answer = self._package.delete_deployment(deployment_id, force=force)
        if force or not answer:
            return None
        return self._result(answer)

    # --------------------------------------------------------------------------------------------- system

    def get_info(self) -> MarathonInfo:
        """``GET /v2/info``."""
        response = self._request("GET", "/v2/info")
        body = self._json(response)
        if not isinstance(body, dict):
            raise self._bad_answer(response, "an object")
        return MarathonInfo.from_json(body)

    def ping(self) -> bool:
        """``GET /ping``: True when a Marathon answers (raises MarathonUnavailable otherwise)."""
        self._package.ping()
        return True

    def get_leader(self) -> str | None:
        """``GET /v2/leader``: the leader's ``host:port``, or None when the cluster has no leader."""
        try:
            body = self._package.get_leader()
        except MarathonNotFound:
            return None
        except ValueError as exc:
            raise MarathonError(f"Marathon answered /v2/leader with something that is not JSON: {exc}") from exc
        leader = body.get("leader") if isinstance(body, dict) else None
        return leader if isinstance(leader, str) and leader else None

    # --------------------------------------------------------------------------------------------- events

    def stream_events(
        self,
        event_types: Iterable[str] | None = None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        light_plans: bool = True,
    ) -> MarathonEventStream:
        """Subscribe to ``/v2/events``, filtered by ``event_type`` (None or empty: every event).

        Connects at once, trying each URL in turn and following a non-leader's redirect to the leader; raises
        MarathonUnavailable when none accepts. The returned iterator yields MarathonEvent and raises
        MarathonUnavailable when the connection drops or no byte (heartbeats included) arrives for
        ``idle_timeout`` seconds; the caller then resyncs and calls this again. Nothing is replayed.
        ``light_plans`` asks for ``plan-format=light`` (deployment events without the whole before/after groups).

        Written by hand rather than with the package's ``event_stream``: that one has no timeout at all (a dead
        connection blocks forever), reads only single ``data:`` lines (no multi-line data, no ``event:`` names,
        no CR line ends), tries the URLs in reverse order, fails on unknown event types, and its connection
        error handler itself raises (it reads ``e.message``, which Python 3 exceptions do not have).
        """
        types = tuple(dict.fromkeys(event_types or ()))
        params = [("event_type", event_type) for event_type in types]
        if light_plans:
            params.append(("plan-format", "light"))
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity", "Cache-Control": "no-cache"}
        failures: list[dict[str, Any]] = []
        last_status = None
        for index in self._order():
            endpoint = self.endpoints[index]
            session = requests.Session()
            session.trust_env = False  # the environment comes from _environment, read once per host
            # The package's choice for its event connections: TCP keep-alive so a vanished peer is noticed.
            keep_alive = TCPKeepAliveAdapter()
            session.mount("http://", keep_alive)
            session.mount("https://", keep_alive)
            try:
                response, final_url = self._send(
                    session,
                    endpoint,
                    "GET",
                    "/v2/events",
                    params=params,
                    headers=headers,
                    timeout=(self.connect_timeout, idle_timeout),
                    stream=True,
                )
            except requests.RequestException as exc:
                session.close()
                failures.append({"url": endpoint.url, "error": _describe(exc)})
                logger.warning("Marathon event stream: %s unreachable (%s)", endpoint.url, _describe(exc))
                continue
            content_type = response.headers.get("Content-Type", "")
            if response.status_code == 200 and content_type.startswith("text/event-stream"):
                self._preferred = index
                self.stream_url = _base_of(final_url)
                logger.info("Marathon event stream connected to %s", self.stream_url)
                return MarathonEventStream(response, session, self.stream_url, types, idle_timeout)
            last_status = response.status_code
            try:
                if response.status_code in UNAVAILABLE_STATUSES:
                    failures.append({"url": endpoint.url, "error": f"HTTP {response.status_code}"})
                    logger.warning("Marathon event stream: %s answered %s", endpoint.url, response.status_code)
                    continue
                if response.status_code < 400:
                    failures.append(
                        {"url": endpoint.url, "error": f"HTTP {response.status_code} {content_type or 'no type'}"}
                    )
                    continue
                response.content  # noqa: B018 - read the (small) error body before closing
                raise self._error_for(response, endpoint.url)
            finally:
                if response.status_code != 200 or not content_type.startswith("text/event-stream"):
                    response.close()
                    session.close()
        self.stream_url = None
        raise MarathonUnavailable(
            "No Marathon accepted the event stream subscription", status=last_status, details=failures
        )

    # ------------------------------------------------------------------------------------------ transport

    def _order(self) -> list[int]:
        count = len(self.endpoints)
        return [(self._preferred + offset) % count for offset in range(count)]

    @staticmethod
    def _app_path(app_id: str) -> str:
        return "/v2/apps/" + quote(app_id.lstrip("/"), safe="/")

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"token={self.token}"
        if extra:
            headers.update(extra)
        return headers

    def _send(
        self,
        session: requests.Session,
        endpoint: _Endpoint,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: tuple[float, float],
        stream: bool = False,
    ) -> tuple[requests.Response, str]:
        """One request to one endpoint, following redirects by hand.

        requests drops the Authorization header when a redirect changes host, which is exactly what a
        non-leader's redirect to the leader does, so redirects keep this endpoint's credentials here.
        """
        url = endpoint.url + path
        request_params = _query(params)
        all_headers = self._headers(headers)
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        for _ in range(MAX_REDIRECTS + 1):
            proxies, verify, netrc_auth = self._environment(url)
            response = session.request(
                method,
                url,
                params=request_params,
                data=data,
                headers=all_headers,
                auth=endpoint.auth or (netrc_auth if not self.token else None),
                timeout=timeout,
                verify=verify,
                proxies=proxies,
                allow_redirects=False,
                stream=stream,
            )
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, url
            if method != "GET" and response.status_code not in (307, 308):
                return response, url
            logger.info("Marathon %s %s redirected to %s", method, _redact(url), _redact(location))
            response.close()
            url = urljoin(url, location)
            request_params = []  # the Location carries the query
        return response, url

    def _environment(self, url: str) -> tuple[dict[str, str], bool | str, Any]:
        """What requests would take from the environment for this URL (proxies, CA bundle, netrc credentials),
        as it would take it, read on the first call to each host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environments.get(key)
        if found is None:
            proxies: dict[str, str] = dict(self.session.proxies)
            verify: bool | str = self.verify
            netrc_auth = None
            if self._trust_env:
                reader = requests.Session()  # trusts the environment: requests' own merge, done once
                merged = reader.merge_environment_settings(url, dict(self.session.proxies), False, self.verify,
                                                           None)
                reader.close()
                proxies, verify = merged["proxies"], merged["verify"]
                netrc_auth = requests.utils.get_netrc_auth(url)
            found = self._environments[key] = (proxies, verify, netrc_auth)
        return found

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: str | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send one call to the cluster with failover; a 2xx response or a typed error.

        Not the package's transport (see _PackageClient). A read timeout or a 504 on a POST is not sent to the
        next URL, since the first node may have acted on it; it surfaces as MarathonUnavailable for the
        caller's own retry policy.
        """
        method = method.upper()
        timeout = timeout or (self.connect_timeout, self.read_timeout)
        failures: list[dict[str, Any]] = []
        last_status = None
        for index in self._order():
            endpoint = self.endpoints[index]
            try:
                response, _ = self._send(
                    self.session, endpoint, method, path, params=params, data=data, timeout=timeout
                )
            except requests.RequestException as exc:
                failures.append({"url": endpoint.url, "error": _describe(exc)})
                logger.warning("Marathon %s %s on %s failed: %s", method, path, endpoint.url, _describe(exc))
                # After a read timeout or a broken answer the node may have acted: only idempotent calls move on.
                sent = isinstance(exc, (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError))
                if sent and method not in IDEMPOTENT_METHODS:
                    break
                continue
            status = response.status_code
            if status in UNAVAILABLE_STATUSES:
                last_status = status
                failures.append({"url": endpoint.url, "error": f"HTTP {status}: {_short_text(response)}"})
                logger.warning("Marathon %s %s on %s answered %s", method, path, endpoint.url, status)
                if status == 504 and method not in IDEMPOTENT_METHODS:
                    break
                continue
            self._preferred = index
            if status >= 400 or (300 <= status < 400):
                raise self._error_for(response, endpoint.url)
            return response
        raise MarathonUnavailable(
            f"No Marathon answered {method} {path}: "
            + "; ".join(f"{failure['url']}: {failure['error']}" for failure in failures),
            status=last_status,
            details=failures,
        )

    def _error_for(self, response: requests.Response, url: str) -> MarathonError:
        """The typed error for a non-2xx answer (Marathon's JSON body when there is one, Jetty's HTML otherwise)."""
        status = response.status_code
        body = None
        try:
            body = response.json()
        except ValueError:
            pass
        message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
        message = message or _short_text(response) or f"HTTP {status} {response.reason or ''}".strip()
        kwargs: dict[str, Any] = {"status": status, "url": url}
        if status in (400, 422):
            return MarathonRejected(message, details=_rejection_details(body), **kwargs)
        if status == 409:
            deployments = body.get("deployments") if isinstance(body, dict) else None
            ids = [
                item["id"]
                for item in deployments or []
                if isinstance(item, dict) and isinstance(item.get("id"), str)
            ]
            return MarathonConflict(message, deployment_ids=ids, **kwargs)
        if status == 404:
            return MarathonNotFound(message, **kwargs)
        if status == 403 and "running deployments" in message:
            # TooManyRunningDeploymentsException: the cluster is busy, not the caller forbidden.
            return MarathonUnavailable(message, **kwargs)
        if status in (401, 403):
            return MarathonUnauthorized(message, **kwargs)
        if status in UNAVAILABLE_STATUSES:
            return MarathonUnavailable(message, **kwargs)
        # 500 (an unexpected exception inside Marathon, often storage trouble) may pass; 3xx/405/415 will not.
        return MarathonError(message, retryable=status >= 500, **kwargs)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise MarathonError(
                f"Marathon answered {response.request.method} {response.url} with something that is not JSON",
                status=response.status_code,
            ) from exc

    @staticmethod
    def _bad_answer(response: requests.Response, expected: str) -> MarathonError:
        return MarathonError(
            f"Marathon answered {response.request.method} {_redact(response.url)} without {expected}",
            status=response.status_code,
        )

    def _deployment_result(self, response: requests.Response) -> DeploymentResult:
        body = self._json(response) if response.content else {}
        return self._result(
            body if isinstance(body, dict) else {},
            header=response.headers.get("Marathon-Deployment-Id"),
            created=response.status_code == 201,
        )

    @staticmethod
    def _result(body: Any, *, header: str | None = None, created: bool = False) -> DeploymentResult:
        body = body if isinstance(body, dict) else {}
        deployment_id = body.get("deploymentId") or header
        if not deployment_id:
            # Older Marathons answer a PUT that creates with the app itself, its deployments embedded.
            deployments = body.get("deployments") or []
            if deployments and isinstance(deployments[0], dict):
                deployment_id = deployments[0].get("id")
        if not isinstance(deployment_id, str) or not deployment_id:
            raise MarathonError("Marathon accepted the change but named no deployment")
        version = body.get("version")
        return DeploymentResult(
            deployment_id=deployment_id, version=version if isinstance(version, str) else None, created=created
        )


def _rejection_details(body: Any) -> list[dict[str, Any]]:
    """Marathon's ``details`` as ``[{"path", "errors": [...]}]`` (a 400 may carry a bare parser message)."""
    if not isinstance(body, dict):
        return []
    details = body.get("details")
    if isinstance(details, str):
        return [{"path": "/", "errors": [details]}]
    result = []
    for item in details if isinstance(details, list) else []:
        if not isinstance(item, dict):
            continue
        errors = item.get("errors")
        if isinstance(errors, str):
            errors = [errors]
        result.append(
            {
                "path": item.get("path") if isinstance(item.get("path"), str) else "/",
                "errors": [str(error) for error in errors or []],
            }
        )
    return result


def _short_text(response: requests.Response, limit: int = 200) -> str:
    """The start of a non-JSON body (Jetty's HTML error page), tags stripped, for messages."""
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a body we cannot decode says nothing useful
        return ""
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:limit]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate verification failed"
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


class _SSEParser:
    """Incremental parser of the server-sent events format (WHATWG HTML, "Parsing an event stream").

    Lines end in CRLF, LF or CR; ``:`` starts a comment; ``data:`` lines accumulate; an empty line dispatches.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """Feed bytes; returns the ``(event name, data)`` pairs completed by them."""
        text = self._decoder.decode(chunk)
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_lf = False
        self._buffer += text
        events = []
        while True:
            match = re.search(r"\r\n|\r|\n", self._buffer)
            if not match:
                break
            if match.group() == "\r" and match.end() == len(self._buffer):
                # A CR at the end of the chunk may be the first half of a CRLF split across reads.
                self._skip_lf = True
            line = self._buffer[: match.start()]
            self._buffer = self._buffer[match.end() :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> tuple[str, str] | None:
        if line == "":
            data, name = self._data, self._event
            self._data, self._event = [], ""
            if not data:
                return None
            return name, "\n".join(data)
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        # "id" and "retry" mean nothing to Marathon's stream.
        return None


class MarathonEventStream(Iterator[MarathonEvent]):
    """An open ``/v2/events`` connection: iterate for MarathonEvent, ``url`` says where it is connected.

    Raises MarathonUnavailable when the connection ends or stays silent for ``idle_timeout`` seconds. Events are
    also filtered here by type, for Marathons older than 1.3.7 that ignore ``event_type``.
    """

    READ_SIZE = 64 * 1024

    def __init__(
        self,
        response: requests.Response,
        session: requests.Session,
        url: str,
        event_types: tuple[str, ...],
        idle_timeout: float,
    ):
        self.url = url
        self.event_types = frozenset(event_types)
        self.idle_timeout = idle_timeout
        self._response = response
        self._session = session
        self._parser = _SSEParser()
        self._pending: list[MarathonEvent] = []
        self._closed = False

    def __iter__(self) -> MarathonEventStream:
        return self

    def __next__(self) -> MarathonEvent:
        while not self._pending:
            if self._closed:
                raise StopIteration
            try:
                # read1 returns whatever has arrived (a heartbeat line break counts), waiting at most
                # idle_timeout on the socket; iter_content would wait for a full chunk on unchunked bodies.
                chunk = self._response.raw.read1(self.READ_SIZE)
            except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                self.close()
                raise MarathonUnavailable(
                    f"Marathon event stream from {self.url} silent for {self.idle_timeout:g}s", url=self.url
                ) from exc
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError, ValueError) as exc:
                if self._closed:
                    raise StopIteration from None
                self.close()
                raise MarathonUnavailable(
                    f"Marathon event stream from {self.url} broke: {type(exc).__name__}", url=self.url
                ) from exc
            if not chunk:
                was_closed = self._closed
                self.close()
                if was_closed:
                    raise StopIteration
                raise MarathonUnavailable(f"Marathon event stream from {self.url} closed", url=self.url)
            for name, data in self._parser.feed(chunk):
                event = _event(name, data)
                if not self.event_types or event.event_type in self.event_types:
                    self._pending.append(event)
        return self._pending.pop(0)

    def close(self) -> None:
        """Hang up (safe to call more than once; iteration then stops)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._response.close()
        finally:
            self._session.close()

    def __enter__(self) -> MarathonEventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _event(name: str, data: str) -> MarathonEvent:
    try:
        payload = json.loads(data)
    except ValueError as exc:
        logger.warning("Marathon event %r with data that is not JSON: %.200s", name, data)
        return MarathonEvent(event_type=name or "message", timestamp=None, data={}, raw=data, error=str(exc))
    if not isinstance(payload, dict):
        return MarathonEvent(
            event_type=name or "message", timestamp=None, data={}, raw=data, error="data is not a JSON object"
        )
    payload_type = payload.get("eventType") if isinstance(payload.get("eventType"), str) else None
    event_type = name if name and name != "message" else (payload_type or name or "message")
    return MarathonEvent(
        event_type=event_type, timestamp=parse_timestamp(payload.get("timestamp")), data=payload, raw=data
    )
