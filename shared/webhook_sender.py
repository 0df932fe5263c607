"""Send one signed webhook request to an address the guard checked: Standard Webhooks headers, no redirects.

The only module that talks HTTP to webhook receivers. It connects to the address `shared.url_guard` resolved
and checked, not to whatever the name resolves to a moment later: a receiver's DNS could otherwise answer
with a public address to the check and with 127.0.0.1 to the connection (DNS rebinding). urllib3 (already
under `requests`) does this with public options: the connection pool is opened for the checked IP, the
`Host` header carries the URL's host, and for https the TLS server name (SNI) and the certificate check use
the URL's host name too (`server_hostname`, `assert_hostname`), so certificates are verified as usual.
"""
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import certifi
import urllib3
from standardwebhooks.webhooks import Webhook

USER_AGENT = "Maracker-Webhooks/1.0"
RESPONSE_KEEP_BYTES = 1024

_manager = None


@dataclass(frozen=True)
class SendResult:
    """What one request came to: the receiver's status code (or None), time taken, its answer or the error."""

    status_code: int | None
    duration_ms: int
    body: str = ""
    error: str = ""

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300


def encode_body(payload):
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=False).encode()


def sign(secret, message_id, timestamp, body):
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` (standardwebhooks)."""
    return Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body.decode())


def signed_headers(secret, message_id, body, *, now=None):
    now = now or datetime.now(timezone.utc)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret, message_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _pools():
    """One pool manager per process (created after a worker forks), keeping connections to receivers alive."""
    global _manager
    if _manager is None:
        _manager = urllib3.PoolManager(num_pools=200, maxsize=2, block=False)
    return _manager


def send(checked, body, headers, *, timeout):
    """POST `body` to the checked URL at one of its checked addresses; never raises for network trouble."""
    started = time.monotonic()
    pool_kwargs = {}
    if checked.scheme == "https":
        pool_kwargs = {"server_hostname": checked.host, "assert_hostname": checked.host,
                       "cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where()}
    headers = {**headers, "host": checked.host_header}
    error = ""
    for address in checked.addresses:
        pool = _pools().connection_from_host(str(address), port=checked.port, scheme=checked.scheme,
                                             pool_kwargs=pool_kwargs)
        try:
            response = pool.urlopen(
                "POST", checked.path, body=body, headers=headers, retries=False, redirect=False,
                assert_same_host=False, preload_content=False, release_conn=False,
                timeout=urllib3.Timeout(connect=timeout, read=timeout, total=timeout),
            )
        except urllib3.exceptions.NewConnectionError as exc:
            error = f"could not connect to {address}: {_reason(exc)}"
            continue  # try the next checked address
        except urllib3.exceptions.HTTPError as exc:
            return SendResult(None, _ms(started), error=_describe(exc, timeout))
        except OSError as exc:
            return SendResult(None, _ms(started), error=f"{exc.__class__.__name__}: {exc}")
        return _finish(response, started, timeout)
    return SendResult(None, _ms(started), error=error or "no address to connect to")


def _finish(response, started, timeout):
    try:
        data = response.read(RESPONSE_KEEP_BYTES)
        more = response.read(1) if len(data) == RESPONSE_KEEP_BYTES else b""
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        return SendResult(response.status, _ms(started), error=_describe(exc, timeout))
    if more:
        response.close()  # a long answer: drop the connection rather than read the rest
    else:
        response.release_conn()
    return SendResult(response.status, _ms(started), body=data.decode("utf-8", errors="replace"))


def _ms(started):
    return int((time.monotonic() - started) * 1000)


def _reason(exc):
    text = str(exc)
    return text.split(": ", 1)[-1] if ": " in text else text


def _describe(exc, timeout):
    if isinstance(exc, (urllib3.exceptions.TimeoutError,)):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS error: {_reason(exc)}"
    return f"{exc.__class__.__name__}: {_reason(exc)}"
