"""Fault injection, request log, basic auth and the leader header: an ASGI layer in front of every route."""
import asyncio
import base64
import binascii
import collections
import ipaddress
import json
import secrets

from .clock import now_iso

JETTY_PAGE = ("<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n"
              "<title>Error {status} {reason}</title>\n</head>\n<body><h2>HTTP ERROR {status}</h2>\n"
              "<p>Problem accessing {path}. Reason:\n<pre>    {reason}</pre></p>\n</body>\n</html>\n")
REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
NO_LEADER = "Could not determine the current leader"


class Faults:
    """Armed faults (fail or hang the next N matching requests, no leader) and what was received."""

    def __init__(self, log_size=10000):
        self.rules = []
        self.no_leader_status = None
        self.log = collections.deque(maxlen=log_size)
        self.counts = collections.Counter()
        self.method_counts = collections.Counter()

    def add(self, kind, count, path_prefix=None, status=503, seconds=0.0, body=None):
        rule = {"kind": kind, "remaining": int(count), "pathPrefix": path_prefix or None, "status": int(status),
                "seconds": float(seconds), "body": body}
        self.rules.append(rule)
        return rule

    def clear(self):
        self.rules.clear()
        self.no_leader_status = None

    def clear_log(self):
        self.log.clear()
        self.counts.clear()
        self.method_counts.clear()

    def take(self, kind, path):
        """Consumes one use of the first armed rule of this kind matching the path, if any."""
        for rule in self.rules:
            if rule["kind"] == kind and rule["remaining"] > 0 and (
                    rule["pathPrefix"] is None or path.startswith(rule["pathPrefix"])):
                rule["remaining"] -= 1
                if rule["remaining"] <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def describe(self):
        return {"rules": [dict(r) for r in self.rules], "noLeaderStatus": self.no_leader_status}


def is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _respond(send, status, body, content_type, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class SimLayer:
    """Runs before Marathon's routes: /_sim/ only for loopback clients; everything else is logged, checked
    against basic auth (as Jetty does), subjected to armed faults, and answered with X-Marathon-Leader."""

    def __init__(self, app, sim):
        self.app = app
        self.sim = sim

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        client = (scope.get("client") or ("", 0))[0]
        if path == "/_sim" or path.startswith("/_sim/"):
            if not is_loopback(client):
                body = json.dumps({"message": "the simulator's control API answers loopback clients only"})
                return await _respond(send, 403, body.encode(), b"application/json")
            return await self.app(scope, receive, send)

        sim = self.sim
        faults = sim.faults
        entry = {"method": scope["method"], "path": path, "query": scope.get("query_string", b"").decode("latin-1"),
                 "client": client, "at": now_iso(), "status": None}
        faults.log.append(entry)
        faults.counts[path] += 1
        faults.method_counts[f"{scope['method']} {path}"] += 1
        leader_header = (b"x-marathon-leader", f"http://{sim.leader}".encode())

        if sim.credentials and not self._authorized(scope):
            entry["status"] = 401
            page = JETTY_PAGE.format(status=401, reason="Unauthorized", path=path).encode()
            return await _respond(send, 401, page, b"text/html;charset=iso-8859-1",
                                  [(b"www-authenticate", f'basic realm="{sim.realm}"'.encode())])

        hang = faults.take("hang", path)
        if hang:
            await asyncio.sleep(hang["seconds"])
        fail = faults.take("fail", path)
        if fail:
            entry["status"] = fail["status"]
            if fail["body"] is not None:
                body = json.dumps(fail["body"]).encode()
                return await _respond(send, fail["status"], body, b"application/json", [leader_header])
            reason = NO_LEADER if fail["status"] in (502, 503) else REASONS.get(fail["status"], "Error")
            page = JETTY_PAGE.format(status=fail["status"], reason=reason, path=path).encode()
            return await _respond(send, fail["status"], page, b"text/html;charset=iso-8859-1")
        if faults.no_leader_status:
            entry["status"] = faults.no_leader_status
            page = JETTY_PAGE.format(status=faults.no_leader_status, reason=NO_LEADER, path=path).encode()
            return await _respond(send, faults.no_leader_status, page, b"text/html;charset=iso-8859-1")

        async def send_with_leader(message):
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [leader_header]
            await send(message)

        await self.app(scope, receive, send_with_leader)

    def _authorized(self, scope):
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "basic":
                    return False
                try:
                    given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    return False
                return secrets.compare_digest(given, self.sim.credentials)
        return False
