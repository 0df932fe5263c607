"""The Marathon client against the simulator over real HTTP on loopback: calls, errors, failover, events."""
import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from marathon.models import MarathonApp, MarathonHealthCheck
from marathon.models.container import MarathonContainer, MarathonContainerPortMapping, MarathonDockerContainer

from shared.marathon import (
    DeploymentResult,
    MarathonAppInfo,
    MarathonClient,
    MarathonConflict,
    MarathonError,
    MarathonNotFound,
    MarathonRejected,
    MarathonUnauthorized,
    MarathonUnavailable,
)
from tests.fixtures.processes import free_port


# API notes §11: an image from registry.invalid never starts, so its deployment stays open (the app is locked).
STUCK_IMAGE = "registry.invalid/never/starts:1"
ALL_STREAM_TYPES = ["deployment_info", "deployment_step_success", "deployment_success", "status_update_event"]


def docker_app(app_id, image="nginx:1.27", instances=1, **extra):
    definition = {
        "id": app_id,
        "instances": instances,
        "cpus": 0.1,
        "mem": 32,
        "container": {
            "type": "DOCKER",
            "docker": {"image": image},
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
        },
        "networks": [{"mode": "container/bridge"}],
    }
    definition.update(extra)
    return definition


def wait_until(predicate, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def wait_deployed(client, app_id, timeout=30.0) -> MarathonAppInfo:
    def settled():
        app = client.get_app(app_id)
        return app if not app.deploying and app.tasks_running == app.instances else None

    return wait_until(settled, timeout)


def dead_url():
    """A loopback URL nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def client(marathon_sim):
    with MarathonClient([marathon_sim.url], connect_timeout=2, read_timeout=5) as client:
        yield client


@pytest.fixture
def second_sim(marathon_sim_factory):
    return marathon_sim_factory()


# ----------------------------------------------------------------------------------------------- system calls


def test_ping_info_and_leader(client, marathon_sim):
    assert client.ping() is True
    info = client.get_info()
    assert info.name == "marathon"
    assert info.version
    assert info.leader and ":" in info.leader
    assert info.elected is True
    assert client.get_leader() == info.leader


def test_leader_change_is_reported_and_no_leader_is_none_or_unavailable(client, marathon_sim):
    marathon_sim.leader_change("10.0.0.9:8080")
    assert client.get_leader() == "10.0.0.9:8080"
    assert client.get_info().leader == "10.0.0.9:8080"
    marathon_sim.no_leader(status=502)
    with pytest.raises(MarathonUnavailable) as caught:
        client.get_leader()
    assert caught.value.status == 502 and caught.value.retryable


# ---------------------------------------------------------------------------------------------------- apps


def test_create_get_replace_and_list(client):
    created = client.create_or_replace_app(docker_app("/t/web", labels={"owner": "team-a"}))
    assert isinstance(created, DeploymentResult)
    assert created.created is True and created.deployment_id and created.version

    app = wait_deployed(client, "/t/web")
    assert app.id == "/t/web" and app.instances == 1 and app.tasks_running == 1
    assert app.deployment_ids == ()
    assert app.labels == {"owner": "team-a"}
    assert "tasks" not in app.definition and app.definition["container"]["docker"]["image"] == "nginx:1.27"
    task = app.tasks[0]
    assert task.app_id == "/t/web" and task.state == "TASK_RUNNING" and task.host
    assert task.started_at is not None
    assert all(31000 <= port <= 32000 for port in task.ports) and len(task.ports) == 1

    # A complete replacement: cmd instead of the image's command; nothing of the old definition survives.
    replaced = client.create_or_replace_app(docker_app("/t/web", cmd="nginx -g 'daemon off;'"))
    assert replaced.created is False and replaced.deployment_id != created.deployment_id
    app = wait_deployed(client, "/t/web")
    assert app.version == replaced.version
    assert app.definition["cmd"] == "nginx -g 'daemon off;'"
    assert not app.labels
    # ... then args instead of cmd: a partial update would keep cmd and be refused for having both.
    client.create_or_replace_app(docker_app("/t/web", args=["--port", "80"]))
    app = wait_deployed(client, "/t/web")
    assert app.definition.get("args") == ["--port", "80"] and not app.definition.get("cmd")

    client.create_or_replace_app(docker_app("/t/other/api"))
    client.create_or_replace_app(docker_app("/tx/web"))
    assert {a.id for a in client.list_apps()} == {"/t/web", "/t/other/api", "/tx/web"}
    assert {a.id for a in client.list_apps("/t")} == {"/t/web", "/t/other/api"}
    assert [a.id for a in client.list_apps("/t/other")] == ["/t/other/api"]
    assert [a.id for a in client.list_apps(label="owner")] == []


def test_create_from_the_marathon_package_models(client):
    app = MarathonApp(
        id="/t/model",
        instances=2,
        cpus=0.1,
        mem=32,
        container=MarathonContainer(
            type="DOCKER",
            docker=MarathonDockerContainer(image="nginx:1.27"),
            port_mappings=[MarathonContainerPortMapping(container_port=80, host_port=0, name="http")],
        ),
        networks=[{"mode": "container/bridge"}],
        env={"EMPTY": ""},
        health_checks=[MarathonHealthCheck(protocol="HTTP", path="/", port_index=0)],
    )
    client.create_or_replace_app(app)
    info = wait_deployed(client, "/t/model")
    assert info.instances == 2 and len(info.tasks) == 2
    assert info.definition["container"]["portMappings"][0]["hostPort"] == 0
    assert info.definition["env"] == {"EMPTY": ""}
    assert info.tasks_healthy == 2 and all(task.healthy for task in info.tasks)


def test_a_definition_read_back_can_be_sent_again(client):
    client.create_or_replace_app(docker_app("/t/again"))
    app = wait_deployed(client, "/t/again")
    again = client.create_or_replace_app(app.raw)
    assert again.created is False and again.deployment_id
    # Nothing changed, so Marathon keeps the app's version (GroupVersioningUtil) and no task is replaced.
    after = wait_deployed(client, "/t/again")
    assert after.version == app.version
    assert [t.id for t in after.tasks] == [t.id for t in app.tasks]


def test_scale_restart_and_delete(client):
    client.create_or_replace_app(docker_app("/t/web"))
    first = wait_deployed(client, "/t/web")

    scaled = client.scale_app("/t/web", 3)
    app = wait_deployed(client, "/t/web")
    assert app.instances == 3 and app.tasks_running == 3 and len(app.tasks) == 3
    assert app.version == scaled.version

    restarted = client.restart_app("/t/web")
    app = wait_deployed(client, "/t/web")
    assert app.version == restarted.version and app.version != first.version
    assert not {t.id for t in app.tasks} & {t.id for t in first.tasks}

    client.scale_app("t/web", 0)
    app = wait_deployed(client, "/t/web")
    assert app.instances == 0 and app.tasks == ()

    deleted = client.delete_app("/t/web")
    assert deleted.deployment_id
    with pytest.raises(MarathonNotFound):
        client.get_app("/t/web")
    assert client.find_app("/t/web") is None


def test_scale_refuses_negative_instances_without_a_request(client, marathon_sim):
    marathon_sim.clear_received()
    with pytest.raises(MarathonRejected) as caught:
        client.scale_app("/t/web", -1)
    assert caught.value.details[0]["path"] == "/instances"
    assert marathon_sim.received(limit=0)["total"] == 0


# --------------------------------------------------------------------------------------------- deployments


def test_locked_app_conflict_force_and_deployments_list(client):
    stuck = client.create_or_replace_app(docker_app("/t/stuck", image=STUCK_IMAGE))
    deployments = wait_until(lambda: [d for d in client.list_deployments() if d.id == stuck.deployment_id])
    deployment = deployments[0]
    assert deployment.affected_apps == ("/t/stuck",)
    assert deployment.total_steps >= 1 and 1 <= deployment.current_step <= deployment.total_steps
    assert deployment.current_actions and deployment.current_actions[0].app == "/t/stuck"

    app = wait_until(lambda: client.get_app("/t/stuck").last_task_failure and client.get_app("/t/stuck"))
    assert stuck.deployment_id in app.deployment_ids
    assert app.tasks_running == 0

    for call in (
        lambda: client.restart_app("/t/stuck"),
        lambda: client.scale_app("/t/stuck", 2),
        lambda: client.create_or_replace_app(docker_app("/t/stuck")),
        lambda: client.delete_app("/t/stuck"),
    ):
        with pytest.raises(MarathonConflict) as caught:
            call()
        error = caught.value
        assert error.status == 409 and error.retryable and error.code == "marathon_conflict"
        assert error.deployment_ids == (stuck.deployment_id,)
        assert error.to_dict()["details"] == [{"id": stuck.deployment_id}]

    fixed = client.create_or_replace_app(docker_app("/t/stuck"), force=True)
    assert fixed.deployment_id != stuck.deployment_id
    wait_deployed(client, "/t/stuck")
    assert all(d.id != stuck.deployment_id for d in client.list_deployments())


def test_cancel_deployment_rolls_back_by_default(client):
    stuck = client.create_or_replace_app(docker_app("/t/new", image=STUCK_IMAGE))
    rollback = client.cancel_deployment(stuck.deployment_id)
    assert isinstance(rollback, DeploymentResult) and rollback.deployment_id != stuck.deployment_id
    # Rolling back a creation removes the app.
    wait_until(lambda: client.find_app("/t/new") is None)
    wait_until(lambda: not client.list_deployments())


def test_cancel_deployment_with_force_just_stops_it(client):
    stuck = client.create_or_replace_app(docker_app("/t/kept", image=STUCK_IMAGE))
    assert client.cancel_deployment(stuck.deployment_id, force=True) is None
    wait_until(lambda: all(d.id != stuck.deployment_id for d in client.list_deployments()))
    assert client.get_app("/t/kept").id == "/t/kept"  # the app stays as it was


def test_delete_with_force_overrides_the_lock(client):
    client.create_or_replace_app(docker_app("/t/stuck", image=STUCK_IMAGE))
    client.delete_app("/t/stuck", force=True)
    assert client.find_app("/t/stuck") is None


# ----------------------------------------------------------------------------------------------------- errors


def test_not_found(client):
    with pytest.raises(MarathonNotFound) as caught:
        client.get_app("/does/not/exist")
    error = caught.value
    assert (error.status, error.code, error.retryable) == (404, "marathon_not_found", False)
    assert error.message == "App '/does/not/exist' does not exist"
    for call in (
        lambda: client.restart_app("/nope"),
        lambda: client.delete_app("/nope"),
        lambda: client.cancel_deployment("00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(MarathonNotFound):
            call()


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"cmd": "sleep 1", "args": ["sleep", "1"]}, "/"),
        ({"cpus": -1}, "/cpus"),
        ({"networks": [{"mode": "overlay"}]}, "/networks"),
    ],
)
def test_rejected_with_marathon_details(client, extra, path):
    with pytest.raises(MarathonRejected) as caught:
        client.create_or_replace_app(docker_app("/t/bad", **extra))
    error = caught.value
    assert (error.status, error.code, error.retryable) == (422, "marathon_rejected", False)
    assert error.message
    assert any(d["path"].startswith(path) and d["errors"] for d in error.details)
    assert client.find_app("/t/bad") is None


def test_bad_request_with_a_parser_message(client, marathon_sim):
    # Marathon's 400 for unparsable JSON carries its parser message as a string (spec/errors/400-invalid-json.json);
    # the client only sends JSON it encoded itself, so the answer is armed as a fault here.
    marathon_sim.fail_next(
        1, 400, path_prefix="/v2/apps", body={"message": "Invalid JSON", "details": "Unexpected end-of-input"}
    )
    with pytest.raises(MarathonRejected) as caught:
        client.create_or_replace_app(docker_app("/t/web"))
    error = caught.value
    assert (error.status, error.message, error.retryable) == (400, "Invalid JSON", False)
    assert error.details == [{"path": "/", "errors": ["Unexpected end-of-input"]}]


def test_invalid_app_id_is_rejected_before_any_request(client, marathon_sim):
    marathon_sim.clear_received()
    with pytest.raises(MarathonRejected) as caught:
        client.create_or_replace_app(docker_app("/Bad_ID"))
    assert caught.value.details == [{"path": "/id", "errors": [caught.value.details[0]["errors"][0]]}]
    assert marathon_sim.received(limit=0)["total"] == 0


@pytest.mark.parametrize("status", [502, 503, 504])
def test_unavailable_statuses_then_success(client, marathon_sim, status):
    marathon_sim.fail_next(3, status)
    for _ in range(3):
        with pytest.raises(MarathonUnavailable) as caught:
            client.get_info()
        error = caught.value
        assert (error.status, error.code, error.retryable) == (status, "marathon_unavailable", True)
        assert error.details and error.details[0]["url"] == marathon_sim.url
    assert client.get_info().name == "marathon"


def test_internal_error_is_typed_and_retryable(client, marathon_sim):
    marathon_sim.fail_next(1, 500, body={"message": "Futures timed out"})
    with pytest.raises(MarathonError) as caught:
        client.list_deployments()
    assert type(caught.value) is MarathonError
    assert caught.value.status == 500 and caught.value.retryable and caught.value.message == "Futures timed out"


def test_too_many_deployments_is_retryable(marathon_sim_factory):
    sim = marathon_sim_factory(extra_args=["--max-running-deployments", "1"])
    client = MarathonClient([sim.url])
    client.create_or_replace_app(docker_app("/t/one", image=STUCK_IMAGE))
    with pytest.raises(MarathonUnavailable) as caught:
        client.create_or_replace_app(docker_app("/t/two", image=STUCK_IMAGE))
    assert caught.value.status == 403 and caught.value.retryable


def test_forbidden_is_unauthorized(client, marathon_sim):
    marathon_sim.fail_next(1, 403, body={"message": "Not Authorized to perform this action!"})
    with pytest.raises(MarathonUnauthorized) as caught:
        client.delete_app("/t/web")
    assert (caught.value.status, caught.value.retryable) == (403, False)


def test_hang_times_out_as_unavailable(marathon_sim):
    client = MarathonClient([marathon_sim.url], connect_timeout=1, read_timeout=0.3)
    marathon_sim.hang_next(1, 2)
    with pytest.raises(MarathonUnavailable) as caught:
        client.get_info()
    assert "read timeout" in caught.value.message and caught.value.status is None
    assert client.get_info().name == "marathon"


def test_refused_is_unavailable():
    url = dead_url()
    with pytest.raises(MarathonUnavailable) as caught:
        MarathonClient([url], connect_timeout=1).ping()
    assert caught.value.details == [{"url": url, "error": "connection failed"}]


# --------------------------------------------------------------------------------------------- auth and TLS


def test_basic_auth_from_the_url(marathon_sim_factory):
    sim = marathon_sim_factory(credentials="alice:s3cr:et")
    host = sim.url.removeprefix("http://")
    client = MarathonClient([f"http://alice:s3cr%3Aet@{host}"])
    assert client.urls == (sim.url,)  # credentials never show in URLs
    client.create_or_replace_app(docker_app("/t/auth"))
    assert wait_deployed(client, "/t/auth").id == "/t/auth"

    wrong_password = MarathonClient([f"http://alice:wrong@{host}"])
    no_credentials = MarathonClient([sim.url])
    token_instead = MarathonClient([sim.url], token="abc")
    for bad in (wrong_password, no_credentials, token_instead):
        with pytest.raises(MarathonUnauthorized) as caught:
            bad.get_info()
        assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, "marathon_unauthorized", False)
    with pytest.raises(MarathonUnauthorized):
        MarathonClient([sim.url]).stream_events(["deployment_success"], idle_timeout=5)


def test_token_is_sent_as_dcos_authorization_header(marathon_sim):
    # The simulator has no auth plugin (open-source Marathon without one allows everything), so a node in
    # front of it that records headers shows what the client sends.
    tokened = MarathonClient([marathon_sim.url], token="eyJhbGciOi")
    assert tokened.ping() is True
    with non_leader(marathon_sim.url) as (url, seen):
        with MarathonClient([url], token="eyJhbGciOi").stream_events(idle_timeout=5) as stream:
            assert stream.url == marathon_sim.url
    assert seen[0]["Authorization"] == "token=eyJhbGciOi"
    assert seen[0]["Accept"] == "text/event-stream"
    with pytest.raises(ValueError):
        MarathonClient(["http://a:b@127.0.0.1:8080"], token="t")


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy that answers every request itself with Marathon's pong, recording the request line."""

    seen: list

    def do_GET(self):
        self.seen.append(self.path)
        body = b"pong"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_proxies_and_netrc_come_from_the_environment_once_per_host(monkeypatch, marathon_sim_factory, tmp_path):
    seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Proxy", (_Proxy,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        client = MarathonClient(["http://marathon.invalid:8080"], connect_timeout=2)
        assert client.ping() is True  # the host does not resolve: only the proxy can have answered
        assert seen == ["http://marathon.invalid:8080/ping"]
        monkeypatch.delenv("HTTP_PROXY")  # read once per host: the client keeps what it found
        assert client.ping() is True and len(seen) == 2
        # A session that does not trust the environment is left alone.
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        session = requests.Session()
        session.trust_env = False
        with pytest.raises(MarathonUnavailable):
            MarathonClient(["http://marathon.invalid:8080"], connect_timeout=2, session=session).ping()
        assert len(seen) == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    # Credentials from ~/.netrc (here $NETRC), as requests reads them, when the URL carries none.
    monkeypatch.delenv("HTTP_PROXY")
    sim = marathon_sim_factory(credentials="alice:pw")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert MarathonClient([sim.url]).get_info()
    with pytest.raises(MarathonUnauthorized):
        MarathonClient([sim.url], token="abc").get_info()  # a token is never replaced by netrc's password


def test_tls_verification_is_switchable_and_https_urls_accepted():
    assert MarathonClient(["https://marathon.example:8443"], verify=False).verify is False
    assert MarathonClient(["https://marathon.example:8443"]).verify is True
    with pytest.raises(ValueError):
        MarathonClient(["ftp://marathon.example"])


def test_from_settings(settings, marathon_sim):
    settings.MARATHON_URLS = [dead_url(), marathon_sim.url]
    settings.MARATHON_CONNECT_TIMEOUT = 1.5
    settings.MARATHON_READ_TIMEOUT = 4
    settings.MARATHON_TOKEN = ""
    settings.MARATHON_VERIFY_TLS = False
    client = MarathonClient.from_settings()
    assert client.urls[1] == marathon_sim.url
    assert (client.connect_timeout, client.read_timeout, client.token, client.verify) == (1.5, 4.0, None, False)
    assert client.ping() is True


# ------------------------------------------------------------------------------------------------- failover


def test_failover_when_the_first_url_is_down(marathon_sim):
    client = MarathonClient([dead_url(), marathon_sim.url], connect_timeout=1)
    assert client.get_info().name == "marathon"
    assert client.current_url == marathon_sim.url
    client.create_or_replace_app(docker_app("/t/web"))
    assert wait_deployed(client, "/t/web").tasks_running == 1


def test_failover_on_unavailable_answers_between_two_simulators(marathon_sim, second_sim):
    client = MarathonClient([marathon_sim.url, second_sim.url])
    marathon_sim.fail_next(1, 503)
    assert client.get_info().name == "marathon"
    assert client.current_url == second_sim.url
    # The URL that answered last is tried first from now on.
    second_sim.clear_received()
    client.list_deployments()
    assert second_sim.request_count("/v2/deployments", "GET") == 1
    # Both unavailable: one error naming both.
    second_sim.fail_next(1, 502)
    marathon_sim.fail_next(1, 503)
    with pytest.raises(MarathonUnavailable) as caught:
        client.get_info()
    assert [d["url"] for d in caught.value.details] == [second_sim.url, marathon_sim.url]


def test_failover_on_timeout_for_reads_but_not_for_a_restart(marathon_sim, second_sim):
    for sim in (marathon_sim, second_sim):
        MarathonClient([sim.url]).create_or_replace_app(docker_app("/t/web"))
    client = MarathonClient([marathon_sim.url, second_sim.url], read_timeout=0.3)
    marathon_sim.hang_next(1, 2)
    assert client.get_info().name == "marathon"
    assert client.current_url == second_sim.url

    # A POST that timed out may have been carried out: it is not sent to another node.
    second_sim.hang_next(1, 2, path_prefix="/v2/apps/t/web/restart")
    marathon_sim.clear_received()
    with pytest.raises(MarathonUnavailable):
        client.restart_app("/t/web")
    assert marathon_sim.request_count("/v2/apps/t/web/restart", "POST") == 0


# ---------------------------------------------------------------------------------------------- event stream


def next_matching(stream, predicate, limit=500):
    for _ in range(limit):
        event = next(stream)
        if predicate(event):
            return event
    raise AssertionError("no matching event")


def test_event_stream_filters_and_parses(client):
    with client.stream_events(ALL_STREAM_TYPES, idle_timeout=10) as stream:
        assert stream.url == client.current_url
        assert client.stream_url == stream.url
        result = client.create_or_replace_app(docker_app("/t/events"))
        seen = []

        def done(event):
            seen.append(event)
            return event.event_type == "deployment_success" and event.deployment_id == result.deployment_id

        event = next_matching(stream, done)
    assert {e.event_type for e in seen} <= set(ALL_STREAM_TYPES)
    assert event.timestamp is not None and event.raw and event.error is None
    assert event.data["plan"]["id"] == result.deployment_id
    assert "original" not in event.data["plan"]  # plan-format=light
    running = [e for e in seen if e.event_type == "status_update_event" and e.task_status == "TASK_RUNNING"]
    assert running and running[0].app_id == "/t/events" and running[0].task_id
    infos = [e for e in seen if e.event_type == "deployment_info"]
    assert infos and all(e.deployment_id == result.deployment_id for e in infos)


def test_event_stream_without_filter_starts_with_attached(client):
    with client.stream_events(idle_timeout=10) as stream:
        first = next(stream)
    assert first.event_type == "event_stream_attached" and "remoteAddress" in first.data


def test_event_stream_drop_then_reconnect(client, marathon_sim):
    stream = client.stream_events(["deployment_success"], idle_timeout=10)
    client.create_or_replace_app(docker_app("/t/one"))
    assert next(stream).event_type == "deployment_success"
    assert marathon_sim.drop_streams() >= 1
    with pytest.raises(MarathonUnavailable) as caught:
        while True:
            next(stream)
    assert caught.value.retryable
    with pytest.raises(StopIteration):
        next(stream)  # a broken stream stays finished

    with client.stream_events(["deployment_success"], idle_timeout=10) as again:
        result = client.create_or_replace_app(docker_app("/t/two"))
        assert next_matching(again, lambda e: e.deployment_id == result.deployment_id)


def test_event_stream_leader_change_breaks_the_stream(client, marathon_sim):
    stream = client.stream_events(["deployment_success"], idle_timeout=10)
    marathon_sim.leader_change()
    with pytest.raises(MarathonUnavailable):
        while True:
            next(stream)
    with client.stream_events(["deployment_success"], idle_timeout=10) as again:
        result = client.create_or_replace_app(docker_app("/t/after"))
        assert next_matching(again, lambda e: e.deployment_id == result.deployment_id)


def test_event_stream_idle_timeout(marathon_sim_factory):
    sim = marathon_sim_factory(extra_args=["--heartbeat-seconds", "60"])
    client = MarathonClient([sim.url])
    stream = client.stream_events(["deployment_success"], idle_timeout=0.5)
    with pytest.raises(MarathonUnavailable) as caught:
        next(stream)
    assert "silent" in caught.value.message


def test_event_stream_heartbeats_keep_a_quiet_stream_alive(marathon_sim_factory):
    sim = marathon_sim_factory(extra_args=["--heartbeat-seconds", "0.1"])
    client = MarathonClient([sim.url])
    stream = client.stream_events(["deployment_success"], idle_timeout=1.0)
    # Nothing but heartbeats for three idle timeouts, then a deployment.
    later = threading.Timer(3.0, lambda: MarathonClient([sim.url]).create_or_replace_app(docker_app("/t/late")))
    later.start()
    try:
        assert next(stream).event_type == "deployment_success"
    finally:
        later.join()
        stream.close()


def test_event_stream_fails_over_and_reports_when_nobody_answers(marathon_sim):
    client = MarathonClient([dead_url(), marathon_sim.url], connect_timeout=1)
    with client.stream_events(["deployment_success"], idle_timeout=5) as stream:
        assert stream.url == marathon_sim.url
    marathon_sim.fail_next(1, 503, path_prefix="/v2/events")
    only_sim = MarathonClient([marathon_sim.url])
    with pytest.raises(MarathonUnavailable) as caught:
        only_sim.stream_events(["deployment_success"], idle_timeout=5)
    assert caught.value.status == 503
    assert only_sim.stream_url is None


class _NonLeader(BaseHTTPRequestHandler):
    """A Marathon node that is not the leader: it redirects /v2/events to the leader (API notes §7.1).

    The simulator is a single node and has no non-leader mode, so this stands in for the follower.
    """

    leader = ""
    seen: list

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.seen.append(dict(self.headers))
        self.send_response(307)
        self.send_header("Location", self.leader + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def non_leader(leader_url):
    """A follower node on a free loopback port redirecting to leader_url; yields (its URL, headers it saw)."""
    seen = []
    handler = type("NonLeader", (_NonLeader,), {"leader": leader_url, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_event_stream_follows_the_redirect_to_the_leader_with_credentials(marathon_sim_factory):
    sim = marathon_sim_factory(credentials="alice:pw")
    with non_leader(sim.url) as (follower, seen):
        client = MarathonClient([follower.replace("http://", "http://alice:pw@")])
        with client.stream_events(["deployment_success"], idle_timeout=10) as stream:
            # requests alone would drop the credentials on this cross-port redirect and get a 401.
            assert stream.url == sim.url and client.stream_url == sim.url
            host = sim.url.removeprefix("http://")
            result = MarathonClient([f"http://alice:pw@{host}"]).create_or_replace_app(docker_app("/t/led"))
            assert next_matching(stream, lambda e: e.deployment_id == result.deployment_id)
    assert seen[0]["Authorization"].startswith("Basic ")
