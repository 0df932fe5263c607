"""RFC 9457 problem details: the one error format of every HTTP answer."""
import json

from django.http import HttpResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem_body(status, *, code, detail="", errors=None, instance=None, **extra):
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail or TITLES.get(status, "Error"),
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status, *, code, detail="", errors=None, instance=None, headers=None, **extra):
    """A plain Django response carrying a problem, for code outside DRF (middleware, handlers)."""
    body = problem_body(status, code=code, detail=detail, errors=errors, instance=instance, **extra)
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def flatten_errors(detail, prefix=""):
    """Turn DRF's nested error detail into {"marathon_configs[0].memory": ["..."]}."""
    out = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                path = prefix or "body"
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub_path, messages in flatten_errors(value, path).items():
                out.setdefault(sub_path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "body"] = [str(item) for item in detail]
        else:
            for index, value in enumerate(detail):
                if value in ({}, [], None, ""):
                    continue
                if isinstance(value, (dict, list)):
                    for sub_path, messages in flatten_errors(value, f"{prefix}[{index}]").items():
                        out.setdefault(sub_path, []).extend(messages)
                else:
                    out.setdefault(prefix or "body", []).append(str(value))
    else:
        out[prefix or "body"] = [str(detail)]
    return out
