"""Builds the simulator's Starlette application and runs it under uvicorn."""
import asyncio
import contextlib
import json
import os
import tempfile

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse

from . import control, routes
from .appdef import Rejected
from .cluster import Cluster
from .events import EventBus
from .faults import Faults, SimLayer


class Sim:
    """One simulated Marathon: cluster state, event bus, faults, leader and settings."""

    def __init__(self, *, host="127.0.0.1", port=8080, step_seconds=1.0, snapshot=None, credentials=None,
                 realm="Mesosphere", heartbeat_seconds=10.0, max_outstanding=1024, max_running_deployments=100,
                 agents=("agent-1", "agent-2", "agent-3")):
        self.default_step_seconds = step_seconds
        self.snapshot_path = snapshot
        self.credentials = credentials
        self.realm = realm
        self.heartbeat_seconds = heartbeat_seconds
        self.own_leader = f"{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
        self.leader = self.own_leader
        self.leader_changes = 0
        self.bus = EventBus(max_outstanding)
        self.faults = Faults()
        self.cluster = Cluster(self.bus, step_seconds, agents, max_running_deployments, on_change=self._changed)
        self._dirty = False
        self._saver = None

    # ---- leader ----
    def change_leader(self, new_leader=None):
        self.leader_changes += 1
        self.bus.drop_all("leader changed")
        self.faults.no_leader_status = None
        port = self.own_leader.rpartition(":")[2]
        self.leader = new_leader or f"marathon-{self.leader_changes + 1}.sim:{port}"

    def abdicate(self):
        """DELETE /v2/leader: this node steps down and (being the only one) is elected again; streams drop."""
        self.leader_changes += 1
        self.bus.drop_all("leader abdicated")

    def reset(self):
        self.bus.drop_all("reset")
        self.bus.buffer.clear()
        self.bus.paused = False
        self.faults.clear()
        self.faults.clear_log()
        self.cluster.reset()
        self.cluster.step_seconds = self.default_step_seconds
        self.leader = self.own_leader

    def describe(self):
        c = self.cluster
        return {"stepSeconds": c.step_seconds, "leader": self.leader, "leaderChanges": self.leader_changes,
                "apps": len(c.apps), "tasks": sum(len(a.tasks) for a in c.all_app_records()),
                "deployments": len(c.plans), "faults": self.faults.describe(), "events": self.bus.stats(),
                "snapshot": self.snapshot_path}

    # ---- snapshot ----
    def _changed(self):
        self._dirty = True

    def load_snapshot(self):
        if self.snapshot_path and os.path.exists(self.snapshot_path):
            with open(self.snapshot_path, encoding="utf-8") as fh:
                self.cluster.restore(json.load(fh))

    async def save_snapshot(self):
        if not self.snapshot_path:
            return None
        self._dirty = False
        text = json.dumps(self.cluster.snapshot(), separators=(",", ":"))
        await asyncio.to_thread(_write_atomically, self.snapshot_path, text)
        return self.snapshot_path

    async def _save_loop(self):
        while True:
            await asyncio.sleep(0.2)
            if self._dirty:
                await self.save_snapshot()

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self.load_snapshot()
        if self.snapshot_path:
            self._saver = asyncio.get_running_loop().create_task(self._save_loop())
        try:
            yield
        finally:
            self.bus.drop_all("shutdown")
            if self._saver:
                self._saver.cancel()
                await self.save_snapshot()


def _write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".marathon-sim-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


async def _rejected(request, exc):
    return JSONResponse(exc.body(), status_code=exc.status)


async def _crashed(request, exc):
    return JSONResponse({"message": f"{type(exc).__name__}: {exc}"}, status_code=500)


def build_app(sim):
    """The ASGI application: Marathon's routes and /_sim/, behind the fault/auth/leader layer."""
    app = Starlette(routes=routes.ROUTES + control.ROUTES, lifespan=sim.lifespan,
                    exception_handlers={Rejected: _rejected, Exception: _crashed})
    app.state.sim = sim
    return SimLayer(app, sim)


def run(sim, host, port):
    config = uvicorn.Config(build_app(sim), host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2, lifespan="on")
    uvicorn.Server(config).run()
