"""Marathon's v2 REST resources: apps, deployments, tasks, queue, groups, info, leader, ping, events."""
import json
import re

from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from . import MARATHON_VERSION
from .appdef import Rejected, canonical_id, parent_of
from .cluster import group_tree
from .events import stream

VERSIONS_RE = re.compile(r"^(.+)/versions(?:/([^/]+))?$")


def _sim(request):
    return request.app.state.sim


def _flag(request, name, default=False):
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def _client_ip(request):
    return request.client.host if request.client else "127.0.0.1"


async def _json_body(request):
    raw = await request.body()
    if not raw.strip():
        raise Rejected(400, "Please specify data in JSON format", "Request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(400, "Invalid JSON", f"Unexpected input: {exc}") from None


def _deployment_result(plan, status=200, headers=None):
    headers = dict(headers or {})
    headers["Marathon-Deployment-Id"] = plan.id
    return JSONResponse({"deploymentId": plan.id, "version": plan.version}, status_code=status, headers=headers)


def _location(request, app_id):
    return str(request.base_url).rstrip("/") + app_id


# ---- info, leader, ping ----------------------------------------------------------------------------------

async def ping(request):
    return PlainTextResponse("pong")


async def info(request):
    sim = _sim(request)
    host, _, port = sim.leader.rpartition(":")
    return JSONResponse({
        "name": "marathon", "version": MARATHON_VERSION, "buildref": "marathon-sim", "elected": True,
        "leader": sim.leader, "frameworkId": sim.cluster.framework_id,
        "marathon_config": {
            "checkpoint": True, "executor": "//cmd", "failover_timeout": 604800, "features": [],
            "framework_name": "marathon", "ha": True, "hostname": host, "local_port_max": 20000,
            "local_port_min": 10000, "master": "zk://localhost:2181/mesos", "mesos_role": None,
            "mesos_user": "root", "webui_url": None, "max_running_deployments": sim.cluster.max_running_deployments,
            "event_stream_max_outstanding_messages": sim.bus.max_outstanding,
        },
        "zookeeper_config": {"zk": "zk://localhost:2181/marathon", "zk_timeout": 10000,
                             "zk_session_timeout": 10000, "zk_max_versions": 50},
        "http_config": {"http_port": int(port or 0), "https_port": 8443},
    })


async def leader(request):
    sim = _sim(request)
    if request.method == "DELETE":
        sim.abdicate()
        return JSONResponse({"message": "Leadership abdicated"})
    return JSONResponse({"leader": sim.leader})


# ---- apps ------------------------------------------------------------------------------------------------

def _label_matches(labels, selector):
    for clause in re.split(r",(?![^(]*\))", selector):
        clause = clause.strip()
        if not clause:
            continue
        m = re.fullmatch(r"(.+?)\s+(in|notin)\s+\((.*)\)", clause)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            present = labels.get(m.group(1).strip())
            if (m.group(2) == "in") != (present in values):
                return False
            continue
        m = re.fullmatch(r"(.+?)(==|!=)(.*)", clause)
        if m:
            key, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
            if (op == "==") != (labels.get(key) == value):
                return False
            continue
        if clause not in labels:
            return False
    return True


async def apps_root(request):
    sim = _sim(request)
    cluster = sim.cluster
    if request.method == "GET":
        params = request.query_params
        embed = set(params.getlist("embed"))
        id_filter = (params.get("id") or "").lower()
        cmd_filter = params.get("cmd")
        label = params.get("label")
        out = []
        for app in cluster.apps.values():
            d = app.definition
            if id_filter and id_filter not in app.id.lower():
                continue
            if cmd_filter and cmd_filter not in (d.get("cmd") or ""):
                continue
            if label and not _label_matches(d.get("labels", {}), label):
                continue
            out.append(cluster.app_json(
                app, tasks="apps.tasks" in embed,
                failures="apps.lastTaskFailure" in embed or "apps.failures" in embed,
                task_stats="apps.taskStats" in embed, readiness="apps.readiness" in embed))
        return JSONResponse({"apps": out})
    body = await _json_body(request)
    if request.method == "POST":
        app_json, plan = cluster.create_app(body, _client_ip(request), request.url.path)
        app_json["deployments"] = [{"id": plan.id}]
        return JSONResponse(app_json, status_code=201, headers={
            "Location": _location(request, app_json["id"]), "Marathon-Deployment-Id": plan.id})
    if not isinstance(body, list):
        raise Rejected(422, "Invalid JSON", [{"path": "/", "errors": ["error.expected.jsarray"]}])
    updates = []
    for i, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise Rejected(422, "Invalid JSON", [{"path": f"({i})/id", "errors": ["error.path.missing"]}])
        updates.append((canonical_id(item["id"]), item))
    partial = request.method == "PATCH" or _flag(request, "partialUpdate", True)
    plan, _ = cluster.update_apps(updates, partial=partial, force=_flag(request, "force"),
                                  client_ip=_client_ip(request), uri=request.url.path)
    return _deployment_result(plan)


async def apps_path(request):
    sim = _sim(request)
    cluster = sim.cluster
    path = "/" + request.path_params["rest"]
    method = request.method
    force = _flag(request, "force")
    if method == "GET":
        if path.endswith("/*"):
            group = canonical_id(path[:-2])
            apps = [cluster.app_json(a) for a in cluster.apps.values() if parent_of(a.id) == group]
            prefix = group.rstrip("/") + "/"
            if group != "/" and not any(a.startswith(prefix) for a in cluster.apps):
                raise Rejected(404, f"Group '{group}' does not exist")
            return JSONResponse({"*": apps})
        if path in cluster.apps:
            embed = set(request.query_params.getlist("embed"))
            app = cluster.apps[path]
            return JSONResponse({"app": cluster.app_json(app, tasks=True, task_stats="app.taskStats" in embed,
                                                         readiness="app.readiness" in embed)})
        if path.endswith("/tasks"):
            app = cluster.get_app(path[:-len("/tasks")])
            return _tasks_response(request, [app])
        m = VERSIONS_RE.match(path)
        if m:
            app = cluster.get_app(m.group(1))
            if m.group(2) is None:
                return JSONResponse({"versions": [v["version"] for v in reversed(app.versions)]})
            found = next((v for v in app.versions if v["version"] == m.group(2)), None)
            if found is None:
                raise Rejected(404, f"App '{app.id}' does not exist in version {m.group(2)}")
            return JSONResponse(found)
        raise Rejected(404, f"App '{canonical_id(path)}' does not exist")
    if method == "POST":
        if path.endswith("/restart"):
            plan = cluster.restart_app(path[:-len("/restart")], force)
            return _deployment_result(plan)
        return PlainTextResponse("Method Not Allowed", status_code=405)
    if method in ("PUT", "PATCH"):
        app_id = canonical_id(path)
        body = await _json_body(request)
        partial = method == "PATCH" or _flag(request, "partialUpdate", True)
        existed = app_id in cluster.apps
        plan, created = cluster.update_apps([(app_id, body)], partial=partial, force=force,
                                            client_ip=_client_ip(request), uri=request.url.path,
                                            allow_create=method == "PUT")
        if created:
            return _deployment_result(plan, 201, {"Location": _location(request, app_id)})
        return _deployment_result(plan, 200 if existed else 201)
    if method == "DELETE":
        if "/tasks/" in path:
            app_id, task_id = path.rsplit("/tasks/", 1)
            killed, plan = cluster.kill_tasks(app_id, task_ids={task_id}, scale=_flag(request, "scale"),
                                              force=force)
            if not killed and plan is None:
                raise Rejected(404, f"Task '{task_id}' does not exist")
            if plan is not None:
                return _deployment_result(plan)
            app = cluster.apps.get(app_id)
            return JSONResponse({"task": killed[0].to_json(bool(app and app.checked))})
        if path.endswith("/tasks"):
            app_id = path[:-len("/tasks")]
            killed, plan = cluster.kill_tasks(app_id, host=request.query_params.get("host"),
                                              scale=_flag(request, "scale"), force=force)
            if plan is not None:
                return _deployment_result(plan)
            return JSONResponse({"tasks": [t.to_json(False) for t in killed]})
        plan = cluster.delete_apps([canonical_id(path)], _flag(request, "force", True))
        return _deployment_result(plan)
    return PlainTextResponse("Method Not Allowed", status_code=405)


# ---- tasks, queue, deployments, groups -------------------------------------------------------------------

def _tasks_response(request, apps, status=None):
    wanted = f"TASK_{status.upper()}" if status else None
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        lines = []
        for app in apps:
            tasks = [t for t in app.tasks.values() if wanted is None or t.state == wanted]
            service_ports = [p for p in (tasks[0].service_ports if tasks else [])] or [0]
            for index, service_port in enumerate(service_ports):
                hosts = [f"{t.agent.host}:{t.ports[index]}" for t in tasks if len(t.ports) > index]
                lines.append("\t".join([app.id.strip("/").replace("/", "_"), str(service_port), *hosts]))
        return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))
    tasks = []
    for app in apps:
        checked = app.checked
        tasks += [t.to_json(checked) for t in app.tasks.values() if wanted is None or t.state == wanted]
    return JSONResponse({"tasks": tasks})


async def tasks(request):
    cluster = _sim(request).cluster
    return _tasks_response(request, cluster.all_app_records(), request.query_params.get("status"))


async def tasks_delete(request):
    cluster = _sim(request).cluster
    body = await _json_body(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Rejected(422, "Invalid JSON", [{"path": "/ids", "errors": ["error.expected.jsarray"]}])
    killed = cluster.kill_task_ids(set(ids), scale=_flag(request, "scale"), force=_flag(request, "force"))
    return JSONResponse({"tasks": [t.to_json(False) for t in killed]})


async def queue(request):
    return JSONResponse(_sim(request).cluster.queue_json())


async def queue_delay(request):
    path = "/" + request.path_params["rest"]
    if not path.endswith("/delay"):
        raise Rejected(404, "Not found")
    _sim(request).cluster.reset_delay(canonical_id(path[:-len("/delay")]))
    return Response(status_code=204)


async def deployments(request):
    return JSONResponse([p.to_json() for p in _sim(request).cluster.plans.values()])


async def deployment(request):
    cluster = _sim(request).cluster
    plan = cluster.cancel_deployment(request.path_params["plan_id"], _flag(request, "force"))
    if plan is None:
        return Response(status_code=202)
    return _deployment_result(plan)


async def groups(request):
    cluster = _sim(request).cluster
    group_id = canonical_id("/" + request.path_params.get("rest", ""))
    prefix = group_id.rstrip("/") + "/"
    members = [a for a in cluster.apps.values() if a.id.startswith(prefix)]
    if request.method == "DELETE":
        if not members:
            raise Rejected(404, f"Group '{group_id}' does not exist")
        plan = cluster.delete_apps([a.id for a in members], _flag(request, "force"))
        return _deployment_result(plan)
    if group_id != "/" and not members:
        raise Rejected(404, f"Group '{group_id}' does not exist")
    definitions = [cluster.app_json(a) for a in members]
    version = max((d["version"] for d in definitions), default=None) or "1970-01-01T00:00:00.000Z"
    return JSONResponse(group_tree(definitions, version, root=group_id))


# ---- events ------------------------------------------------------------------------------------------------

async def events(request):
    sim = _sim(request)
    if request.headers.get("accept", "").strip() != "text/event-stream":
        # Jetty's EventSourceServlet falls through to a plain GET unless Accept is exactly text/event-stream
        return PlainTextResponse("HTTP method GET is not supported by this URL", status_code=405)
    types = set(request.query_params.getlist("event_type")) or None
    light = request.query_params.get("plan-format") == "light"
    remote = _client_ip(request)
    sub = sim.bus.subscribe(remote, types, light)
    sim.bus.publish("event_stream_attached", {"remoteAddress": remote})
    return StreamingResponse(stream(sim.bus, sub, sim.heartbeat_seconds), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"})


ROUTES = [
    Route("/ping", ping, methods=["GET"]),
    Route("/v2/info", info, methods=["GET"]),
    Route("/v2/leader", leader, methods=["GET", "DELETE"]),
    Route("/v2/apps", apps_root, methods=["GET", "POST", "PUT", "PATCH"]),
    Route("/v2/apps/{rest:path}", apps_path, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    Route("/v2/deployments", deployments, methods=["GET"]),
    Route("/v2/deployments/{plan_id}", deployment, methods=["DELETE"]),
    Route("/v2/tasks", tasks, methods=["GET"]),
    Route("/v2/tasks/delete", tasks_delete, methods=["POST"]),
    Route("/v2/queue", queue, methods=["GET"]),
    Route("/v2/queue/{rest:path}", queue_delay, methods=["DELETE"]),
    Route("/v2/groups", groups, methods=["GET", "DELETE"]),
    Route("/v2/groups/{rest:path}", groups, methods=["GET", "DELETE"]),
    Route("/v2/events", events, methods=["GET"]),
]
