"""The simulator's own control API under /_sim/ (not Marathon's): faults, events, leader, time, state."""
import json

from starlette.responses import JSONResponse
from starlette.routing import Route

from .appdef import Rejected, canonical_id


def _sim(request):
    return request.app.state.sim


async def _body(request):
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Rejected(400, "Invalid JSON", str(exc)) from None
    if not isinstance(body, dict):
        raise Rejected(400, "expected a JSON object")
    return body


def _number(body, key, default, minimum=0):
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise Rejected(400, f"{key} must be a number >= {minimum}")
    return value


async def state(request):
    sim = _sim(request)
    return JSONResponse(sim.describe())


async def fail(request):
    body = await _body(request)
    rule = _sim(request).faults.add("fail", _number(body, "count", 1, 1), body.get("pathPrefix"),
                                    status=_number(body, "status", 503, 100), body=body.get("body"))
    return JSONResponse(rule)


async def hang(request):
    body = await _body(request)
    rule = _sim(request).faults.add("hang", _number(body, "count", 1, 1), body.get("pathPrefix"),
                                    seconds=_number(body, "seconds", 5))
    return JSONResponse(rule)


async def faults(request):
    sim = _sim(request)
    if request.method == "DELETE":
        sim.faults.clear()
    return JSONResponse(sim.faults.describe())


async def events(request):
    return JSONResponse(_sim(request).bus.stats())


async def events_drop(request):
    bus = _sim(request).bus
    count = len(bus.subscribers)
    bus.drop_all("dropped by /_sim/events/drop")
    return JSONResponse({"dropped": count})


async def events_pause(request):
    _sim(request).bus.pause()
    return JSONResponse(_sim(request).bus.stats())


async def events_resume(request):
    _sim(request).bus.resume()
    return JSONResponse(_sim(request).bus.stats())


async def leader(request):
    """Leader change: streams drop, the reported leader moves ({"leader": "host:port"}, default a new
    name), or no leader at all ({"leader": null}: every Marathon request gets 503, or "status")."""
    sim = _sim(request)
    body = await _body(request)
    if "leader" in body and body["leader"] is None:
        sim.bus.drop_all("leader lost")
        sim.faults.no_leader_status = int(body.get("status", 503))
    else:
        sim.change_leader(body.get("leader"))
    return JSONResponse({"leader": None if sim.faults.no_leader_status else sim.leader,
                         "noLeaderStatus": sim.faults.no_leader_status})


async def step(request):
    sim = _sim(request)
    body = await _body(request)
    sim.cluster.step_seconds = float(_number(body, "seconds", sim.default_step_seconds))
    return JSONResponse({"stepSeconds": sim.cluster.step_seconds})


async def reset(request):
    _sim(request).reset()
    return JSONResponse(_sim(request).describe())


async def requests_log(request):
    faults = _sim(request).faults
    if request.method == "DELETE":
        faults.clear_log()
    limit = int(request.query_params.get("limit", "1000"))
    log = list(faults.log)[-limit:] if limit > 0 else []
    return JSONResponse({"total": sum(faults.counts.values()), "counts": dict(faults.counts),
                         "methodCounts": dict(faults.method_counts), "log": log})


async def app_health(request):
    """{"failing": true} makes an app's health checks fail (tasks get killed after maxConsecutiveFailures)."""
    body = await _body(request)
    _sim(request).cluster.set_health(canonical_id("/" + request.path_params["rest"]), bool(body.get("failing")))
    return JSONResponse({"failing": bool(body.get("failing"))})


async def snapshot(request):
    path = await _sim(request).save_snapshot()
    return JSONResponse({"snapshot": path})


ROUTES = [
    Route("/_sim/state", state, methods=["GET"]),
    Route("/_sim/fail", fail, methods=["POST"]),
    Route("/_sim/hang", hang, methods=["POST"]),
    Route("/_sim/faults", faults, methods=["GET", "DELETE"]),
    Route("/_sim/events", events, methods=["GET"]),
    Route("/_sim/events/drop", events_drop, methods=["POST"]),
    Route("/_sim/events/pause", events_pause, methods=["POST"]),
    Route("/_sim/events/resume", events_resume, methods=["POST"]),
    Route("/_sim/leader", leader, methods=["POST"]),
    Route("/_sim/step", step, methods=["POST"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/requests", requests_log, methods=["GET", "DELETE"]),
    Route("/_sim/apps/{rest:path}/health", app_health, methods=["POST"]),
    Route("/_sim/snapshot", snapshot, methods=["POST"]),
]
