"""The simulated cluster: apps, tasks on agents, deployment plans and the events every change emits."""
import asyncio
import math
import random
import uuid

from . import appdef
from .appdef import Rejected, config_part, is_failing_image, is_unhealthy_image, parent_of
from .clock import new_version, now_iso

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"}
CONDITION = {"TASK_STAGING": "Staging", "TASK_STARTING": "Starting", "TASK_RUNNING": "Running",
             "TASK_KILLING": "Killing", "TASK_KILLED": "Killed", "TASK_FAILED": "Failed"}
HOST_PORT_MIN, HOST_PORT_MAX = 31000, 32000
LOCKED_MESSAGE = ("App is locked by one or more deployments. Override with the option '?force=true'. "
                  "View details at '/v2/deployments/<DEPLOYMENT_ID>'.")
TOO_MANY_MESSAGE = ("Max number ({n}) of running deployments is achieved. Wait for existing deployments to complete "
                    "or cancel oneusing force=true parameter. You can increase max deployment number by using "
                    "--max_running_deployments parameter but be advised that this can have negative effects on the "
                    "performance.")
CANCELED = "Deployment was canceled"


class Agent:
    """A simulated Mesos agent: host name, agent id, address and free host ports 31000-32000."""

    def __init__(self, host, slave_id, ip):
        self.host = host
        self.slave_id = slave_id
        self.ip = ip
        self.free = list(range(HOST_PORT_MIN, HOST_PORT_MAX + 1))
        random.shuffle(self.free)
        self.free_set = set(self.free)

    def take(self, wanted):
        """Host ports for one task: 0 means any free port, a number means that port (or None if taken)."""
        fixed = [p for p in wanted if p]
        if any(p not in self.free_set and HOST_PORT_MIN <= p <= HOST_PORT_MAX for p in fixed):
            return None
        if len(self.free_set) < len(wanted):
            return None
        out = []
        for p in wanted:
            if p:
                if p in self.free_set:
                    self.free_set.discard(p)
                out.append(p)
            else:
                while True:
                    candidate = self.free.pop()
                    if candidate in self.free_set:
                        break
                self.free_set.discard(candidate)
                out.append(candidate)
        return out

    def give_back(self, ports):
        for p in ports:
            if HOST_PORT_MIN <= p <= HOST_PORT_MAX and p not in self.free_set:
                self.free_set.add(p)
                self.free.insert(random.randrange(len(self.free) + 1), p)


class Task:
    """One Mesos task (one instance) of an app."""

    __slots__ = ("id", "instance_id", "app_id", "agent", "ports", "service_ports", "state", "staged_at",
                 "started_at", "version", "config_version", "healthy", "failures", "first_success", "last_success",
                 "last_failure", "last_failure_cause", "killing", "seq")

    def __init__(self, app, agent, ports, seq):
        prefix = app.id.strip("/").replace("/", "_")
        self.instance_id = f"{prefix}.instance-{uuid.uuid4()}"
        self.id = f"{self.instance_id}._app.1"
        self.app_id = app.id
        self.agent = agent
        self.ports = ports
        self.service_ports = appdef.service_ports_of(app.definition)
        self.state = "TASK_STAGING"
        self.staged_at = now_iso()
        self.started_at = None
        self.version = app.definition["version"]
        self.config_version = app.config_version
        self.healthy = None
        self.failures = 0
        self.first_success = self.last_success = self.last_failure = self.last_failure_cause = None
        self.killing = False
        self.seq = seq

    def to_json(self, checked):
        out = {"id": self.id, "appId": self.app_id, "host": self.agent.host, "ports": list(self.ports),
               "servicePorts": list(self.service_ports), "slaveId": self.agent.slave_id, "state": self.state,
               "stagedAt": self.staged_at, "version": self.version,
               "ipAddresses": [{"ipAddress": self.agent.ip, "protocol": "IPv4"}], "localVolumes": []}
        if self.started_at:
            out["startedAt"] = self.started_at
        if checked:
            out["healthCheckResults"] = [] if self.healthy is None else [{
                "alive": self.healthy, "consecutiveFailures": self.failures, "firstSuccess": self.first_success,
                "lastFailure": self.last_failure, "lastSuccess": self.last_success,
                "lastFailureCause": self.last_failure_cause, "instanceId": self.instance_id}]
        return out


class AppRecord:
    """An app: its stored definition and versions, the instance count its keeper drives to, its tasks."""

    def __init__(self, definition):
        self.id = definition["id"]
        self.definition = definition
        self.config_version = definition["versionInfo"]["lastConfigChangeAt"]
        self.versions = [definition]
        self.target_instances = 0
        self.tasks = {}
        self.deleted = False
        self.terminated = False
        self.failures = 0
        self.backoff_until = 0.0
        self.backoff_handle = None
        self.last_task_failure = None
        self.health_failing = False
        self.queue_since = None
        self.offers = 0
        self.keeper = None
        self.evt = asyncio.Event()

    def notify(self):
        """Wakes the keeper and everything waiting for this app to change."""
        self.evt.set()
        self.evt = asyncio.Event()

    async def wait_until(self, predicate):
        while True:
            evt = self.evt
            if predicate():
                return
            await evt.wait()

    @property
    def checked(self):
        return bool(self.definition.get("healthChecks"))

    def live_new(self):
        return [t for t in self.tasks.values() if not t.killing and t.config_version == self.config_version]

    def ready(self, task):
        return task.state == "TASK_RUNNING" and not task.killing and (task.healthy is True or not self.checked)

    def converged(self):
        """All wanted tasks of the current configuration run (and are healthy), nothing else is left."""
        if self.deleted:
            return False
        new = 0
        for t in self.tasks.values():
            if t.killing or t.config_version != self.config_version or not self.ready(t):
                return False
            new += 1
        return new == self.target_instances

    def missing(self):
        return max(0, self.target_instances - len(self.live_new())) if not self.deleted else 0


class Plan:
    """A deployment plan: ordered steps of parallel actions, the apps before and after, its runner."""

    def __init__(self, steps, original, target, version):
        self.id = str(uuid.uuid4())
        self.version = version
        self.steps = steps  # [[(action, app_id), ...], ...]
        self.original = original  # app_id -> definition or None
        self.target = target
        self.affected = list(dict.fromkeys(app_id for step in steps for _, app_id in step)) or list(target)
        self.current = 0
        self.runner = None
        self._event_plan = None

    @staticmethod
    def step_json(step):
        return {"actions": [{"action": action, "app": app_id} for action, app_id in step]}

    def event_plan(self):
        if self._event_plan is None:
            self._event_plan = {
                "id": self.id, "version": self.version,
                "original": group_tree([d for d in self.original.values() if d], self.version),
                "target": group_tree([d for d in self.target.values() if d], self.version),
                "steps": [self.step_json(s) for s in self.steps]}
        return self._event_plan

    def to_json(self):
        current = self.steps[self.current] if self.steps else []
        return {"id": self.id, "version": self.version, "affectedApps": list(self.affected), "affectedPods": [],
                "steps": [self.step_json(s) for s in self.steps],
                "currentActions": [{"action": a, "app": app_id, "readinessCheckResults": []} for a, app_id in current],
                "currentStep": self.current + 1 if self.steps else 0, "totalSteps": len(self.steps)}


def group_tree(apps, version, root="/"):
    """Nests app definitions into Marathon's group form {"id", "apps", "groups", "pods", "dependencies"}."""
    def new_group(gid):
        return {"id": gid, "apps": [], "groups": [], "pods": [], "dependencies": [], "version": version}

    top = new_group(root)
    index = {root: top}
    for app in sorted(apps, key=lambda a: a["id"]):
        gid = parent_of(app["id"])
        chain = []
        while gid not in index:
            chain.append(gid)
            gid = parent_of(gid)
        for missing in reversed(chain):
            group = new_group(missing)
            index[parent_of(missing)]["groups"].append(group)
            index[missing] = group
        index[parent_of(app["id"])]["apps"].append(app)
    return top


class Cluster:
    """All state of the simulated Marathon and Mesos, driven by the event loop it runs in."""

    def __init__(self, bus, step_seconds=1.0, agents=("agent-1", "agent-2", "agent-3"),
                 max_running_deployments=100, on_change=None):
        self.bus = bus
        self.step_seconds = step_seconds
        self.agent_names = tuple(agents)
        self.max_running_deployments = max_running_deployments
        self.on_change = on_change or (lambda: None)
        self.framework_id = f"{uuid.uuid4()}-0000"
        self._background = set()
        self._reset_state()

    def _reset_state(self):
        self.apps = {}
        self.terminating = {}
        self.plans = {}
        self.ports = appdef.ServicePorts()
        cluster = str(uuid.uuid4())
        self.agents = [Agent(name, f"{cluster}-S{i}", _agent_ip(name, i))
                       for i, name in enumerate(self.agent_names)]
        self._seq = 0

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def reset(self):
        """Forgets everything: apps, tasks, deployments (no events are emitted for what is thrown away)."""
        for task in list(self._background):
            task.cancel()
        self._background.clear()
        for app in list(self.apps.values()) + list(self.terminating.values()):
            if app.backoff_handle:
                app.backoff_handle.cancel()
        self._reset_state()
        self.on_change()

    # ---- reads ------------------------------------------------------------------------------------------

    def all_app_records(self):
        return list(self.apps.values()) + [a for a in self.terminating.values() if a.tasks]

    def plans_of(self, app_id):
        return [p for p in self.plans.values() if app_id in p.affected]

    def app_json(self, app, tasks=False, failures=True, task_stats=False, readiness=False):
        out = dict(app.definition)
        staged = running = healthy = unhealthy = 0
        for t in app.tasks.values():
            if t.state in ("TASK_STAGING", "TASK_STARTING"):
                staged += 1
            elif t.state == "TASK_RUNNING":
                running += 1
            if t.healthy is True:
                healthy += 1
            elif t.healthy is False:
                unhealthy += 1
        out["tasksStaged"] = staged
        out["tasksRunning"] = running
        out["tasksHealthy"] = healthy
        out["tasksUnhealthy"] = unhealthy
        out["deployments"] = [{"id": p.id} for p in self.plans_of(app.id)]
        if tasks:
            checked = app.checked
            out["tasks"] = [t.to_json(checked) for t in app.tasks.values()]
        if failures and app.last_task_failure:
            out["lastTaskFailure"] = app.last_task_failure
        if readiness:
            out["readinessCheckResults"] = []
        if task_stats:
            counts = {"staged": staged, "running": running, "healthy": healthy, "unhealthy": unhealthy}
            stats = {"stats": {"counts": counts, "lifeTime": {"averageSeconds": 0.0, "medianSeconds": 0.0}}}
            out["taskStats"] = {"totalSummary": stats, "withLatestConfig": stats}
        return out

    def queue_json(self):
        now = asyncio.get_running_loop().time()
        entries = []
        for app in self.apps.values():
            missing = app.missing()
            if not missing:
                app.queue_since = None
                continue
            if app.queue_since is None:
                app.queue_since = now_iso()
            left = max(0.0, app.backoff_until - now)
            entries.append({
                "app": dict(app.definition), "count": missing, "role": "*",
                "delay": {"timeLeftSeconds": math.ceil(left), "overdue": left <= 0},
                "since": app.queue_since,
                "processedOffersSummary": {"processedOffersCount": app.offers, "unusedOffersCount": 0,
                                           "rejectSummaryLastOffers": []},
                "lastUnusedOffers": []})
        return {"queue": entries}

    def reset_delay(self, app_id):
        app = self.get_app(app_id)
        app.failures = 0
        app.backoff_until = 0.0
        app.notify()

    def get_app(self, app_id):
        app = self.apps.get(app_id)
        if app is None:
            raise Rejected(404, f"App '{app_id}' does not exist")
        return app

    # ---- writes ------------------------------------------------------------------------------------------

    def _check_locks(self, app_ids, force):
        locking = [p for p in self.plans.values() if any(a in p.affected for a in app_ids)]
        if locking and not force:
            raise Rejected(409, LOCKED_MESSAGE, deployments=[{"id": p.id} for p in locking])
        if len(self.plans) - len(locking) >= self.max_running_deployments:
            raise Rejected(403, TOO_MANY_MESSAGE.format(n=self.max_running_deployments))
        for plan in locking:
            self._cancel_plan(plan, CANCELED)

    def _stamp(self, definition, previous, version):
        definition["version"] = version
        if previous is None or config_part(previous) != config_part(definition):
            definition["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
        else:
            definition["versionInfo"] = {"lastScalingAt": version,
                                         "lastConfigChangeAt": previous["versionInfo"]["lastConfigChangeAt"]}
        return definition

    def _normalize(self, body, app_id, previous=None):
        """Reader checks, normalisation, validation; service ports of `previous` are reused."""
        if previous is not None:
            self.ports.release(appdef.service_ports_of(previous))
        try:
            return appdef.normalize(body, self.ports, app_id)
        except Rejected:
            if previous is not None:
                for p in appdef.service_ports_of(previous):
                    self.ports.assign(p)
            raise

    def create_app(self, body, client_ip, uri):
        """POST /v2/apps: returns (app json, plan)."""
        if not isinstance(body, dict):
            raise Rejected(422, "Invalid JSON", [{"path": "/", "errors": ["error.expected.jsobject"]}])
        appdef.read_checks(body)
        app_id = appdef.canonical_id(body["id"])
        if app_id in self.apps:
            raise Rejected(409, f"An app with id [{app_id}] already exists.")
        definition = self._normalize(body, app_id)
        try:
            self._check_locks([app_id], force=False)
        except Rejected:
            self.ports.release(appdef.service_ports_of(definition))
            raise
        version = new_version()
        self._stamp(definition, None, version)
        plan = self._apply([("create", app_id, None, definition)], version, client_ip, uri)
        return self.app_json(self.apps[app_id]), plan

    def update_apps(self, updates, *, partial, force, client_ip, uri, allow_create=True):
        """PUT/PATCH of one or several apps: updates is [(app_id, body)]; returns (plan, created ids)."""
        changes = []
        created = []
        for app_id, body in updates:
            if not isinstance(body, dict):
                raise Rejected(422, "Invalid JSON", [{"path": "/", "errors": ["error.expected.jsobject"]}])
            appdef.read_checks(body, require_id=False)
            current = self.apps.get(app_id)
            if "version" in body and current is not None:
                if set(body) - {"id", "version"}:
                    raise Rejected(422, "Object is not valid", [
                        {"path": "/version", "errors": ["The 'version' field may only be combined with 'id'."]}])
                old = next((v for v in current.versions if v["version"] == body["version"]), None)
                if old is None:
                    raise Rejected(404, f"App '{app_id}' does not exist in version {body['version']}")
                raw = {k: v for k, v in old.items() if k not in ("version", "versionInfo")}
                changes.append(("rollback", app_id, current.definition,
                                self._normalize(raw, app_id, previous=current.definition)))
                continue
            if current is None:
                if not allow_create:
                    raise Rejected(404, f"App '{app_id}' does not exist")
                definition = self._normalize({**body, "id": app_id}, app_id)
                changes.append(("create", app_id, None, definition))
                created.append(app_id)
                continue
            raw = appdef.merge_update(current.definition, body) if partial else dict(body)
            raw = {k: v for k, v in raw.items() if k not in appdef.READ_ONLY_FIELDS}
            definition = self._normalize(raw, app_id, previous=current.definition)
            if config_part(definition) != config_part(current.definition):
                changes.append(("restart", app_id, current.definition, definition))
            elif definition["instances"] != current.definition["instances"]:
                changes.append(("scale", app_id, current.definition, definition))
            else:
                changes.append(("none", app_id, current.definition, definition))
        try:
            self._check_locks([c[1] for c in changes], force)
        except Rejected:
            for kind, _, previous, definition in changes:
                self.ports.release(appdef.service_ports_of(definition))
                if previous is not None:
                    for p in appdef.service_ports_of(previous):
                        self.ports.assign(p)
            raise
        version = new_version()
        stamped = []
        for kind, app_id, previous, definition in changes:
            if kind == "none":
                definition.update(version=previous["version"], versionInfo=previous["versionInfo"])
            elif kind == "rollback":
                kind = "restart"
                self._stamp(definition, None, version)
            else:
                self._stamp(definition, previous, version)
            stamped.append((kind, app_id, previous, definition))
        changes = stamped
        return self._apply(changes, version, client_ip, uri), created

    def restart_app(self, app_id, force):
        app = self.get_app(app_id)
        self._check_locks([app_id], force)
        version = new_version()
        definition = dict(app.definition)
        definition["version"] = version
        definition["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
        return self._apply([("restart", app_id, app.definition, definition)], version, None, None)

    def delete_apps(self, app_ids, force):
        for app_id in app_ids:
            self.get_app(app_id)
        self._check_locks(app_ids, force)
        version = new_version()
        return self._apply([("stop", a, self.apps[a].definition, None) for a in app_ids], version, None, None)

    def kill_tasks(self, app_id, task_ids=None, host=None, scale=False, force=False, wipe=False):
        """Kills tasks of one app; with scale the app's instances drop by as many (a deployment)."""
        app = self.get_app(app_id)
        victims = [t for t in app.tasks.values() if not t.killing and
                   (task_ids is None or t.id in task_ids or t.instance_id in task_ids) and
                   (host is None or t.agent.host == host)]
        plan = None
        if scale:
            body = {"instances": max(0, app.definition["instances"] - len(victims))}
            plan, _ = self.update_apps([(app_id, body)], partial=True, force=force, client_ip=None, uri=None)
            app.target_instances = min(app.target_instances, body["instances"])
        for task in victims:
            self._kill(app, task)
        return victims, plan

    def kill_task_ids(self, task_ids, scale=False, force=False):
        """POST /v2/tasks/delete: tasks of several apps."""
        by_app = {}
        for app in self.apps.values():
            for t in app.tasks.values():
                if t.id in task_ids:
                    by_app.setdefault(app.id, []).append(t.id)
        killed = []
        for app_id, ids in by_app.items():
            victims, _ = self.kill_tasks(app_id, task_ids=set(ids), scale=scale, force=force)
            killed += victims
        return killed

    def cancel_deployment(self, plan_id, force):
        """DELETE /v2/deployments/{id}: rollback plan (or None with force)."""
        plan = self.plans.get(plan_id)
        if plan is None:
            raise Rejected(404, f"DeploymentPlan {plan_id} does not exist")
        self._cancel_plan(plan, CANCELED)
        if force:
            return None
        version = new_version()
        changes = []
        for app_id in plan.affected:
            before = plan.original.get(app_id)
            current = self.apps.get(app_id)
            if before is None and current is not None:
                changes.append(("stop", app_id, current.definition, None))
            elif before is not None and current is None:
                definition = self._normalize(dict(before), app_id)
                changes.append(("create", app_id, None, self._stamp(definition, None, version)))
            elif before is not None:
                definition = self._normalize(before, app_id, previous=current.definition)
                self._stamp(definition, current.definition, version)
                kind = "restart" if config_part(definition) != config_part(current.definition) else "scale"
                if kind == "restart":
                    definition["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
                changes.append((kind, app_id, current.definition, definition))
        return self._apply(changes, version, None, None)

    def set_health(self, app_id, failing):
        app = self.get_app(app_id)
        app.health_failing = failing
        app.notify()

    def _apply(self, changes, version, client_ip, uri):
        """Stores the changes, emits api_post_event and group_change_success, and starts their plan."""
        stops, starts, level = [], [], []
        original, target = {}, {}
        for kind, app_id, previous, definition in changes:
            original[app_id] = previous
            target[app_id] = definition
            if kind == "create":
                app = AppRecord(definition)
                self.apps[app_id] = app
                app.keeper = self.spawn(self._keeper(app))
                starts.append(("StartApplication", app_id))
                level.append(("ScaleApplication", app_id))
            elif kind == "stop":
                app = self.apps.pop(app_id)
                app.deleted = True
                self.ports.release(appdef.service_ports_of(app.definition))
                self.terminating[app_id] = app
                stops.append(("StopApplication", app_id))
                app.notify()
            elif kind in ("scale", "restart"):
                app = self.apps[app_id]
                app.definition = definition
                app.versions.append(definition)
                del app.versions[:-50]
                if kind == "restart":
                    app.config_version = definition["versionInfo"]["lastConfigChangeAt"]
                    app.failures = 0
                    app.backoff_until = 0.0
                    level.append(("RestartApplication", app_id))
                else:
                    level.append(("ScaleApplication", app_id))
                app.notify()
            else:
                self.apps[app_id].definition = definition
            if client_ip is not None and kind in ("create", "scale", "restart", "none"):
                self.bus.publish("api_post_event", {"clientIp": client_ip, "uri": uri, "appDefinition": definition})
        for kind, app_id, _, _ in changes:
            self.bus.publish("group_change_success", {"groupId": parent_of(app_id), "version": version})
        plan = Plan([s for s in (stops, starts, level) if s], original, target, version)
        self.plans[plan.id] = plan
        plan.runner = self.spawn(self._run_plan(plan))
        self.on_change()
        return plan

    def _cancel_plan(self, plan, reason):
        if self.plans.pop(plan.id, None) is None:
            return
        if plan.runner:
            plan.runner.cancel()
        event_plan = plan.event_plan()
        if plan.steps:
            self.bus.publish("deployment_step_failure",
                             {"plan": event_plan, "currentStep": Plan.step_json(plan.steps[plan.current])})
        self.bus.publish("deployment_failed", {"id": plan.id, "plan": event_plan, "reason": reason})

    # ---- deployment runner -------------------------------------------------------------------------------

    async def _run_plan(self, plan):
        loop = asyncio.get_running_loop()
        try:
            for index, step in enumerate(plan.steps):
                plan.current = index
                step_json = Plan.step_json(step)
                self.bus.publish("deployment_info", {"plan": plan.event_plan(), "currentStep": step_json})
                started = loop.time()
                await asyncio.gather(*(self._perform(plan, action, app_id) for action, app_id in step))
                left = self.step_seconds - (loop.time() - started)
                if left > 0:
                    await asyncio.sleep(left)
                else:
                    await asyncio.sleep(0)
                if self.plans.get(plan.id) is not plan:
                    return
                self.bus.publish("deployment_step_success", {"plan": plan.event_plan(), "currentStep": step_json})
            if self.plans.pop(plan.id, None) is plan:
                self.bus.publish("deployment_success", {"id": plan.id, "plan": plan.event_plan()})
        finally:
            if self.plans.get(plan.id) is plan:
                self.plans.pop(plan.id, None)

    async def _perform(self, plan, action, app_id):
        if action == "StopApplication":
            app = self.terminating.get(app_id)
            if app is not None:
                await app.wait_until(lambda: app.terminated)
            return
        app = self.apps.get(app_id)
        if app is None or action == "StartApplication":
            return
        app.target_instances = plan.target[app_id]["instances"]
        app.notify()
        await app.wait_until(app.converged)

    # ---- tasks ------------------------------------------------------------------------------------------

    async def _keeper(self, app):
        """Drives an app's tasks toward its wanted count and configuration: launches (with back-off after
        failures), kills extras, replaces old-configuration tasks, and reports termination after a delete."""
        loop = asyncio.get_running_loop()
        while True:
            evt = app.evt
            if app.deleted:
                for task in list(app.tasks.values()):
                    if not task.killing:
                        self._kill(app, task)
                if not app.tasks:
                    if app.backoff_handle:
                        app.backoff_handle.cancel()
                    self.bus.publish("app_terminated_event", {"appId": app.id})
                    app.terminated = True
                    if self.terminating.get(app.id) is app:
                        del self.terminating[app.id]
                    app.notify()
                    self.on_change()
                    return
            else:
                new = app.live_new()
                old = [t for t in app.tasks.values() if not t.killing and t.config_version != app.config_version]
                target = app.target_instances
                if len(new) > target:
                    youngest_first = app.definition.get("killSelection", "YOUNGEST_FIRST") == "YOUNGEST_FIRST"
                    extras = sorted(new, key=lambda t: t.seq, reverse=youngest_first)[:len(new) - target]
                    for task in extras:
                        self._kill(app, task)
                elif len(new) < target:
                    now = loop.time()
                    if now < app.backoff_until:
                        if app.backoff_handle is None or app.backoff_handle.when() != app.backoff_until:
                            if app.backoff_handle:
                                app.backoff_handle.cancel()
                            app.backoff_handle = loop.call_at(app.backoff_until, app.notify)
                    else:
                        for _ in range(target - len(new)):
                            if not self._launch(app):
                                loop.call_later(1.0, app.notify)
                                break
                if old:
                    strategy = app.definition.get("upgradeStrategy", {})
                    ready = sum(1 for t in new if app.ready(t))
                    if strategy.get("maximumOverCapacity", 1) == 0 or ready >= target:
                        for task in old:
                            self._kill(app, task)
            await evt.wait()

    def _launch(self, app):
        wanted = _host_ports_wanted(app.definition)
        random.shuffle(self.agents)
        for agent in sorted(self.agents, key=lambda a: -len(a.free_set)):
            ports = agent.take(wanted)
            if ports is not None:
                break
        else:
            return False
        self._seq += 1
        app.offers += 1
        task = Task(app, agent, ports, self._seq)
        app.tasks[task.id] = task
        self._status(app, task, "")
        self.spawn(self._run_task(app, task))
        return True

    def _status(self, app, task, message):
        self.bus.publish("status_update_event", {
            "slaveId": task.agent.slave_id, "taskId": task.id, "taskStatus": task.state, "message": message,
            "appId": app.id, "host": task.agent.host,
            "ipAddresses": [{"ipAddress": task.agent.ip, "protocol": "IPv4"}],
            "ports": list(task.ports), "version": task.version})
        self.bus.publish("instance_changed_event", {
            "instanceId": task.instance_id, "condition": CONDITION.get(task.state, "Unknown"),
            "runSpecId": app.id, "agentId": task.agent.slave_id, "host": task.agent.host,
            "runSpecVersion": task.version})

    def _remove(self, app, task):
        if app.tasks.pop(task.id, None) is not None:
            task.agent.give_back(task.ports)
        app.notify()

    async def _run_task(self, app, task):
        await asyncio.sleep(self.step_seconds * 0.4)
        if task.killing or task.id not in app.tasks:
            return
        if is_failing_image(app.definition):
            task.state = "TASK_FAILED"
            image = app.definition["container"]["docker"]["image"]
            message = (f"Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock pull "
                       f"{image}': exited with status 1; stderr='Error response from daemon: pull access denied "
                       f"for {image}, repository does not exist'")
            self._status(app, task, message)
            app.last_task_failure = {"appId": app.id, "host": task.agent.host, "message": message,
                                     "state": "TASK_FAILED", "taskId": task.id, "timestamp": now_iso(),
                                     "version": task.version, "slaveId": task.agent.slave_id}
            app.failures += 1
            d = app.definition
            delay = min(d["backoffSeconds"] * d["backoffFactor"] ** (app.failures - 1), d["maxLaunchDelaySeconds"])
            app.backoff_until = asyncio.get_running_loop().time() + max(delay, 0.05)
            self._remove(app, task)
            return
        task.state = "TASK_STARTING"
        self._status(app, task, "")
        await asyncio.sleep(self.step_seconds * 0.4)
        if task.killing or task.id not in app.tasks:
            return
        task.state = "TASK_RUNNING"
        task.started_at = now_iso()
        self._status(app, task, "")
        app.failures = 0
        app.notify()
        if app.checked:
            await asyncio.sleep(self.step_seconds * 0.2)
            await self._health(app, task)

    async def _health(self, app, task):
        """Simulated health checks: healthy unless the image names 'unhealthy' or the app was told to fail
        (/_sim/apps/{id}/health); a check runs every step-seconds (time is compressed, not intervalSeconds)."""
        while not task.killing and task.id in app.tasks and not app.deleted:
            check = app.definition["healthChecks"][0] if app.definition.get("healthChecks") else None
            if check is None:
                return
            if not (app.health_failing or is_unhealthy_image(app.definition)):
                task.failures = 0
                task.last_success = now_iso()
                task.first_success = task.first_success or task.last_success
                if task.healthy is not True:
                    task.healthy = True
                    self._health_changed(app, task)
                await app.evt.wait()
                continue
            task.failures += 1
            task.last_failure = now_iso()
            task.last_failure_cause = "HTTP request returned status code 503"
            self.bus.publish("failed_health_check_event",
                             {"appId": app.id, "instanceId": task.instance_id, "healthCheck": check})
            if task.healthy is not False:
                task.healthy = False
                self._health_changed(app, task)
            limit = check.get("maxConsecutiveFailures", 3)
            if limit and task.failures >= limit:
                self.bus.publish("unhealthy_instance_kill_event", {
                    "appId": app.id, "taskId": task.id, "instanceId": task.instance_id, "version": task.version,
                    "reason": task.last_failure_cause, "host": task.agent.host, "slaveId": task.agent.slave_id})
                self._kill(app, task)
                return
            await asyncio.sleep(max(self.step_seconds, 0.05))

    def _health_changed(self, app, task):
        self.bus.publish("health_status_changed_event", {
            "appId": app.id, "instanceId": task.instance_id, "version": task.version, "alive": task.healthy})
        app.notify()

    def _kill(self, app, task):
        if task.killing:
            return
        task.killing = True
        task.state = "TASK_KILLING"
        self._status(app, task, "")
        app.notify()
        self.spawn(self._finish_kill(app, task))

    async def _finish_kill(self, app, task):
        await asyncio.sleep(self.step_seconds * 0.4)
        task.state = "TASK_KILLED"
        self._status(app, task, "")
        self._remove(app, task)

    # ---- snapshot --------------------------------------------------------------------------------------

    def snapshot(self):
        return {"apps": [{"definition": a.definition, "versions": a.versions} for a in self.apps.values()]}

    def restore(self, data):
        """Brings back apps saved by snapshot(); their tasks start again without a deployment."""
        for item in data.get("apps", []):
            definition = item["definition"]
            app = AppRecord(definition)
            app.versions = item.get("versions") or [definition]
            app.target_instances = definition.get("instances", 0)
            for p in appdef.service_ports_of(definition):
                self.ports.assign(p)
            self.apps[app.id] = app
            app.keeper = self.spawn(self._keeper(app))


def _agent_ip(name, index):
    if name in ("localhost", "127.0.0.1"):
        return "127.0.0.1"
    if name.replace(".", "").isdigit():
        return name
    return f"10.0.0.{index + 1}"


def _host_ports_wanted(definition):
    """One entry per host port a task needs: 0 = any, n = that port (requirePorts or a fixed hostPort)."""
    mappings = (definition.get("container") or {}).get("portMappings")
    if mappings is not None and definition["networks"][0]["mode"] != "host":
        return [pm["hostPort"] for pm in mappings if "hostPort" in pm]
    fixed = definition.get("requirePorts")
    return [pd["port"] if fixed else 0 for pd in definition.get("portDefinitions", [])]
