"""The `make run` runner's pieces: secrets kept in var/, the Procfile, commands that do not exist, demo mode."""
import os
import signal
import subprocess
import sys
import time

from config import embedded
from config.procfile import procfile_commands


def test_generated_secrets_are_kept_and_private(tmp_path):
    first, created = embedded.kept_secret(tmp_path / "secret_key", lambda: "generated-once")
    again, created_again = embedded.kept_secret(tmp_path / "secret_key", lambda: "generated-twice")
    assert (first, created) == ("generated-once", True)
    assert (again, created_again) == ("generated-once", False)
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_the_procfile_has_every_process():
    assert {"release", "web", "worker", "beat", "watcher", "flower", "marathon"} <= set(procfile_commands())
    assert "--task-events" in procfile_commands()["worker"]
    assert "migrate" in procfile_commands()["release"]


def test_a_missing_management_command_is_named():
    assert embedded.missing_command("python manage.py no_such_command") == "no_such_command"
    assert embedded.missing_command("python manage.py migrate --noinput") in (None, "migrate")
    assert embedded.missing_command("celery -A worker.celery beat") is None


def test_environment_for_demo_mode(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "DEBUG", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    env = embedded.prepare_environment(tmp_path)
    assert env["DEBUG"] == "true" and env["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert env["FLOWER_DB"] == str(tmp_path / "flower.db")
    assert env["PATH"].split(os.pathsep)[0].endswith("bin")
    assert embedded.prepare_environment(tmp_path)["SECRET_KEY"] == env["SECRET_KEY"]  # a second run reuses it


def test_sigterm_goes_to_the_leader_only_and_sigkill_to_the_group():
    # The leader ignores SIGTERM; its child (like a Celery pool process) would die of it if it were signalled.
    script = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "child = subprocess.Popen(['sleep', '30'], preexec_fn=lambda: signal.signal(signal.SIGTERM, "
              "signal.SIG_DFL)); print(child.pid, flush=True); time.sleep(30)")
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE)
    try:
        child = int(process.stdout.readline())
        manager = embedded.LeaderFirst()
        manager.terminate(process.pid)
        time.sleep(0.5)
        assert process.poll() is None
        os.kill(child, 0)  # still alive: SIGTERM did not reach the group
        manager.kill(process.pid)
        assert process.wait(timeout=5) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the child survived SIGKILL to the group")
    finally:
        embedded.kill_leftovers([process.pid])


def test_the_banner_names_every_url_and_the_credentials(tmp_path):
    env = {"PORT": "8000", "FLOWER_PORT": "5555", "MARATHON_URL": "http://127.0.0.1:8080"}
    text = embedded.banner(env, demo=True, flower_user="admin", flower_password="pw", flower_generated=True,
                           embedded_pg=True, embedded_redis=True, var_dir=tmp_path,
                           sign_in=["user demo-admin, password secret", "API token abc"])
    for expected in ("http://127.0.0.1:8000/catalog/", "http://127.0.0.1:8000/api/docs/", "http://127.0.0.1:5555/",
                     "user admin, password pw", "http://127.0.0.1:8080/v2/apps", "Sign in      user demo-admin",
                     "API token abc"):
        assert expected in text
    real = embedded.banner({**env, "MARATHON_URL": "https://marathon.example"}, demo=False, flower_user="admin",
                           flower_password="pw", flower_generated=True, embedded_pg=False, embedded_redis=False,
                           var_dir=tmp_path)
    assert "password pw" not in real and "flower_basic_auth" in real and "simulator" not in real


def test_embedded_redis_keeps_its_data_and_stops_a_leftover_server(tmp_path):
    import redis

    first = embedded.EmbeddedRedis(tmp_path / "redis", embedded.any_free_port())
    url = first.start()
    redis.Redis.from_url(url).set("kept", "yes")
    leftover = first.process
    first.process = None  # as if the run that started it had been killed: nobody stops it
    second = embedded.EmbeddedRedis(tmp_path / "redis", embedded.any_free_port())
    try:
        url = second.start()
        assert leftover.wait(timeout=20) == 0  # asked to stop, it saved and exited
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        second.stop()
        if leftover.poll() is None:
            leftover.kill()
    assert second.process is None


def test_only_gunicorn_gets_web_concurrency():
    env = {"WEB_CONCURRENCY": "4", "PORT": "8000"}
    assert embedded.process_env("web", env)["WEB_CONCURRENCY"] == "4"
    for name in ("marathon", "metronome", "worker"):
        assert "WEB_CONCURRENCY" not in embedded.process_env(name, env)
