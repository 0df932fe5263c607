"""OpenAPI post-processing: problems documented under the media type they are sent with, and missing pages."""
from api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_REF = "#/components/schemas/Problem"
REQUEST_LINE_LIMIT = 8190  # gunicorn's limit_request_line in config/gunicorn.py


def problem_media_types(result, generator, request, public):
    """Every problem answer is sent as application/problem+json: document it so (beside application/json).

    A paginated list answers 404 for a page past the end (DRF's pagination) and 400 for a bad filter; an
    operation on `/{id}` answers 404 when there is no such object: document those where a view left them out.
    """
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
            missing = {}
            if method == "get" and "page" in names:
                missing = {"400": "Invalid query parameters.", "404": "No such page."}
            elif any(p.get("in") == "path" for p in operation.get("parameters", []) if isinstance(p, dict)):
                missing = {"404": "No such object."}
            for code, description in missing.items():
                responses.setdefault(code, {"description": description,
                                            "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}}})
            # The HTTP server refuses a request line longer than its limit before the application sees it.
            responses.setdefault("414", {"description": "URI Too Long: the request line exceeds the server's limit "
                                                        f"({REQUEST_LINE_LIMIT} bytes); the web server answers.",
                                         "content": {"text/html": {"schema": {"type": "string"}}}})
            for response in responses.values():
                content = response.get("content") or {}
                body = content.get("application/json")
                if body and body.get("schema", {}).get("$ref", "").endswith("/Problem"):
                    content.setdefault(PROBLEM_CONTENT_TYPE, body)
    return result
