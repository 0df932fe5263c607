"""The simulator: jobs, runs and their life cycle in memory, Metronome's routes and errors, faults under /_sim/."""
import asyncio
import collections
import ipaddress
import json
import random
import re
import string
import time
import uuid
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

# Metronome's job id: dot-separated names of lowercase letters, digits and inner dashes (jobspec.schema.json).
JOB_ID = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*)(\.([a-z0-9]+(-[a-z0-9]+)*))*$")
# Share of the run time spent in each state before the end: INITIAL, then STARTING, then ACTIVE.
INITIAL_SHARE, STARTING_SHARE = 0.1, 0.3


def now_iso(epoch=None):
    """Metronome's timestamp format: 2016-07-15T13:02:59.735+0000."""
    moment = datetime.fromtimestamp(epoch if epoch is not None else time.time(), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def new_run_id():
    """Like Metronome's: the UTC time to the second, then five random letters and digits."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "".join(random.choices(string.ascii_letters + string.digits,
                                                                                  k=5))


def error(status, message, details=None):
    body = {"message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def validate_job(spec, path_id=None):
    """Metronome's checks of a job specification: [{"path", "errors"}], empty when valid."""
    details = []

    def bad(path, message):
        details.append({"path": path, "errors": [message]})

    if not isinstance(spec, dict):
        return [{"path": "/", "errors": ["error.expected.jsobject"]}]
    job_id = spec.get("id")
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        bad("/id", "must fully match regular expression '^([a-z0-9]+(-[a-z0-9]+)*)(\\.([a-z0-9]+(-[a-z0-9]+)*))*$'")
    elif path_id is not None and job_id != path_id:
        bad("/id", "Job id in the URL and in the body must match")
    run = spec.get("run")
    if not isinstance(run, dict):
        bad("/run", "error.path.missing")
        return details
    for field, minimum in (("cpus", 0.01), ("mem", 32), ("disk", 0)):
        value = run.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            bad(f"/run/{field}", "error.path.missing" if value is None else "error.expected.jsnumber")
        elif value < minimum:
            bad(f"/run/{field}", f"is less than {minimum}")
    if "cmd" in run and "args" in run:
        bad("/run", "It is invalid to supply both cmd and args")
    if "cmd" in run and (not isinstance(run["cmd"], str) or not run["cmd"]):
        bad("/run/cmd", "must not be empty")
    docker = run.get("docker")
    if docker is not None and (not isinstance(docker, dict) or not isinstance(docker.get("image"), str)):
        bad("/run/docker/image", "error.path.missing")
    env = run.get("env", {})
    if not isinstance(env, dict) or any(not isinstance(v, (str, dict)) for v in env.values()):
        bad("/run/env", "error.expected.jsobject")
    return details


class Sim:
    """Jobs by id, their active runs, and the history of finished runs; runs advance with the clock."""

    def __init__(self, run_seconds=1.0):
        self.default_run_seconds = run_seconds
        self.reset()

    def reset(self):
        self.run_seconds = self.default_run_seconds
        self.jobs = {}
        self.active = collections.defaultdict(dict)  # job id -> run id -> run
        self.history = collections.defaultdict(lambda: {"successCount": 0, "failureCount": 0, "lastSuccessAt": None,
                                                        "lastFailureAt": None, "successfulFinishedRuns": [],
                                                        "failedFinishedRuns": []})
        self.faults = []
        self.counts = collections.Counter()

    # ---- runs
    def start_run(self, job_id):
        spec = self.jobs[job_id]
        run_id = new_run_id()
        run = {"id": run_id, "jobId": job_id, "status": "INITIAL", "createdAt": now_iso(), "completedAt": None,
               "tasks": [], "_t0": time.monotonic(), "_seconds": self.run_seconds,
               "_fails": "fail" in ((spec["run"].get("docker") or {}).get("image") or "")}
        self.active[job_id][run_id] = run
        self.advance()
        return run

    def advance(self):
        """Moves every active run to the state its age gives it; finished runs go to the job's history."""
        now = time.monotonic()
        for job_id, runs in list(self.active.items()):
            for run_id, run in list(runs.items()):
                age, seconds = now - run["_t0"], run["_seconds"]
                if age >= seconds:
                    self._finish(run, "FAILED" if run["_fails"] else "SUCCESS",
                                 "TASK_FAILED" if run["_fails"] else "TASK_FINISHED")
                elif age >= seconds * STARTING_SHARE:
                    self._task(run, "TASK_RUNNING")
                    run["status"] = "ACTIVE"
                elif age >= seconds * INITIAL_SHARE:
                    self._task(run, "TASK_STAGING")
                    run["status"] = "STARTING"

    def _task(self, run, state):
        if not run["tasks"]:
            run["tasks"].append({"id": f"{run['jobId']}_{run['id']}.{uuid.uuid4()}", "status": state,
                                 "startedAt": now_iso(), "completedAt": None})
        else:
            run["tasks"][-1]["status"] = state

    def _finish(self, run, status, task_state):
        self._task(run, task_state)
        run["tasks"][-1]["completedAt"] = now_iso()
        run["status"] = status
        run["completedAt"] = now_iso()
        self.active[run["jobId"]].pop(run["id"], None)
        history = self.history[run["jobId"]]
        entry = {"id": run["id"], "createdAt": run["createdAt"], "finishedAt": run["completedAt"],
                 "tasks": [task["id"] for task in run["tasks"]]}
        if status == "SUCCESS":
            history["successCount"] += 1
            history["lastSuccessAt"] = run["completedAt"]
            history["successfulFinishedRuns"].insert(0, entry)
        else:
            history["failureCount"] += 1
            history["lastFailureAt"] = run["completedAt"]
            history["failedFinishedRuns"].insert(0, entry)

    def stop_run(self, run):
        self._finish(run, "FAILED", "TASK_KILLED")

    # ---- views of a job
    @staticmethod
    def public_run(run):
        return {key: value for key, value in run.items() if not key.startswith("_")}

    def job_view(self, job_id, embed=()):
        body = dict(self.jobs[job_id])
        if "activeRuns" in embed:
            body["activeRuns"] = [self.public_run(run) for run in self.active[job_id].values()]
        if "history" in embed:
            body["history"] = json.loads(json.dumps(self.history[job_id]))
        if "historySummary" in embed:
            history = self.history[job_id]
            body["historySummary"] = {key: history[key] for key in
                                      ("successCount", "failureCount", "lastSuccessAt", "lastFailureAt")}
        if "schedules" in embed:
            body["schedules"] = []
        return body


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _json_body(request):
    raw = await request.body()
    try:
        return json.loads(raw or b"null"), None
    except ValueError:
        return None, error(400, "Invalid JSON")


def build_app(sim):
    """The ASGI app: Metronome's routes behind the fault layer, and the /_sim/ control API."""

    async def ping(request):
        return PlainTextResponse("pong")

    async def info(request):
        return JSONResponse({"version": "0.6.33-sim", "libVersion": "1.9.0-sim"})

    async def jobs(request):
        sim.advance()
        if request.method == "GET":
            embed = request.query_params.getlist("embed")
            return JSONResponse([sim.job_view(job_id, embed) for job_id in sorted(sim.jobs)])
        spec, bad = await _json_body(request)
        if bad:
            return bad
        details = validate_job(spec)
        if details:
            return error(422, "Object is not valid", details)
        if spec["id"] in sim.jobs:
            return error(409, f"Job with id '{spec['id']}' already exists")
        sim.jobs[spec["id"]] = spec
        return JSONResponse(spec, status_code=201)

    async def job(request):
        sim.advance()
        job_id = request.path_params["job_id"]
        if request.method == "PUT":
            spec, bad = await _json_body(request)
            if bad:
                return bad
            if job_id not in sim.jobs:
                return error(404, f"Job '{job_id}' does not exist")
            details = validate_job(spec, job_id)
            if details:
                return error(422, "Object is not valid", details)
            sim.jobs[job_id] = spec
            return JSONResponse(spec)
        if job_id not in sim.jobs:
            return error(404, f"Job '{job_id}' does not exist")
        if request.method == "DELETE":
            if sim.active[job_id] and request.query_params.get("stopCurrentJobRuns") != "true":
                return error(409, "There are active job runs. Override with stopCurrentJobRuns=true")
            for run in list(sim.active[job_id].values()):
                sim.stop_run(run)
            spec = sim.jobs.pop(job_id)
            sim.active.pop(job_id, None)
            sim.history.pop(job_id, None)
            return JSONResponse(spec)
        return JSONResponse(sim.job_view(job_id, request.query_params.getlist("embed")))

    async def runs(request):
        sim.advance()
        job_id = request.path_params["job_id"]
        if job_id not in sim.jobs:
            return error(404, f"Job '{job_id}' does not exist")
        if request.method == "POST":
            return JSONResponse(sim.public_run(sim.start_run(job_id)), status_code=201)
        return JSONResponse([sim.public_run(run) for run in sim.active[job_id].values()])

    async def run(request):
        sim.advance()
        job_id, run_id = request.path_params["job_id"], request.path_params["run_id"]
        found = sim.active.get(job_id, {}).get(run_id)
        if found is None:
            return error(404, f"JobRun '{run_id}' does not exist")
        return JSONResponse(sim.public_run(found))

    async def stop(request):
        sim.advance()
        job_id, run_id = request.path_params["job_id"], request.path_params["run_id"]
        found = sim.active.get(job_id, {}).get(run_id)
        if found is None:
            return error(404, f"JobRun '{run_id}' does not exist")
        sim.stop_run(found)
        return JSONResponse(sim.public_run(found))

    # ---- control API
    async def control_fail(request):
        body, bad = await _json_body(request)
        if bad:
            return bad
        sim.faults.append({"kind": "fail", "remaining": int(body.get("count", 1)), "status": int(body.get("status", 503)),
                           "pathPrefix": body.get("pathPrefix"), "seconds": 0.0})
        return JSONResponse({"faults": sim.faults})

    async def control_hang(request):
        body, bad = await _json_body(request)
        if bad:
            return bad
        sim.faults.append({"kind": "hang", "remaining": int(body.get("count", 1)), "status": 0,
                           "pathPrefix": body.get("pathPrefix"), "seconds": float(body.get("seconds", 1))})
        return JSONResponse({"faults": sim.faults})

    async def control_faults(request):
        if request.method == "DELETE":
            sim.faults.clear()
        return JSONResponse({"faults": sim.faults})

    async def control_reset(request):
        sim.reset()
        return JSONResponse({"reset": True})

    async def control_run_seconds(request):
        body, bad = await _json_body(request)
        if bad:
            return bad
        sim.run_seconds = max(0.0, float(body.get("seconds", sim.run_seconds)))
        return JSONResponse({"runSeconds": sim.run_seconds})

    async def control_requests(request):
        if request.method == "DELETE":
            sim.counts.clear()
        return JSONResponse({"counts": dict(sim.counts), "total": sum(sim.counts.values())})

    async def control_state(request):
        sim.advance()
        return JSONResponse({"jobs": sorted(sim.jobs), "runSeconds": sim.run_seconds,
                             "activeRuns": sum(len(runs) for runs in sim.active.values()),
                             "faults": sim.faults})

    routes = [
        Route("/ping", ping), Route("/v1/info", info),
        Route("/v1/jobs", jobs, methods=["GET", "POST"]),
        Route("/v1/jobs/{job_id}", job, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/jobs/{job_id}/runs", runs, methods=["GET", "POST"]),
        Route("/v1/jobs/{job_id}/runs/{run_id}", run, methods=["GET"]),
        Route("/v1/jobs/{job_id}/runs/{run_id}/actions/stop", stop, methods=["POST"]),
        Route("/v1/jobs/{job_id}/runs/{run_id}/action/stop", stop, methods=["POST"]),  # the RAML's spelling
        Route("/_sim/fail", control_fail, methods=["POST"]),
        Route("/_sim/hang", control_hang, methods=["POST"]),
        Route("/_sim/faults", control_faults, methods=["GET", "DELETE"]),
        Route("/_sim/reset", control_reset, methods=["POST"]),
        Route("/_sim/run-seconds", control_run_seconds, methods=["POST"]),
        Route("/_sim/requests", control_requests, methods=["GET", "DELETE"]),
        Route("/_sim/state", control_state, methods=["GET"]),
    ]
    return FaultLayer(Starlette(routes=routes), sim)


class FaultLayer:
    """Before the routes: /_sim/ for loopback clients only; other requests are counted and meet armed faults."""

    def __init__(self, app, sim):
        self.app = app
        self.sim = sim

    def _take(self, kind, path):
        for rule in self.sim.faults:
            if rule["kind"] == kind and rule["remaining"] > 0 and (not rule["pathPrefix"]
                                                                   or path.startswith(rule["pathPrefix"])):
                rule["remaining"] -= 1
                if rule["remaining"] <= 0:
                    self.sim.faults.remove(rule)
                return rule
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path.startswith("/_sim"):
            client = (scope.get("client") or ("", 0))[0]
            if not is_loopback(client):
                return await error(403, "the control API answers loopback clients only")(scope, receive, send)
            return await self.app(scope, receive, send)
        self.sim.counts[f"{scope['method']} {path}"] += 1
        hang = self._take("hang", path)
        if hang:
            await asyncio.sleep(hang["seconds"])
        fail = self._take("fail", path)
        if fail:
            response = Response("<html><body><h2>HTTP ERROR %d</h2></body></html>" % fail["status"],
                                status_code=fail["status"], media_type="text/html")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)
