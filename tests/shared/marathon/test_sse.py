"""The server-sent events parser of the Marathon client, fed the way a socket delivers bytes."""
from shared.marathon.client import _event, _SSEParser

ATTACHED = (
    b'event: event_stream_attached\r\n'
    b'data: {"remoteAddress":"::1","eventType":"event_stream_attached","timestamp":"2015-09-30T12:44:30.061Z"}\r\n\r\n'
)


def feed_all(parser, chunks):
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_crlf_event_split_at_every_byte():
    events = feed_all(_SSEParser(), [ATTACHED[i : i + 1] for i in range(len(ATTACHED))])
    assert len(events) == 1
    name, data = events[0]
    assert name == "event_stream_attached"
    event = _event(name, data)
    assert event.event_type == "event_stream_attached"
    assert event.data["remoteAddress"] == "::1"
    assert event.timestamp.year == 2015


def test_lf_cr_and_multiline_data_and_comments():
    stream = b": hello\n\nevent: a\ndata: {\"x\":\ndata: 1}\n\n\r\r\nevent: b\rdata: {}\r\r"
    events = feed_all(_SSEParser(), [stream])
    assert events == [("a", '{"x":\n1}'), ("b", "{}")]
    assert _event(*events[0]).data == {"x": 1}


def test_heartbeat_line_breaks_dispatch_nothing():
    assert feed_all(_SSEParser(), [b"\r\n", b"\r\n", b"\n"]) == []


def test_field_without_space_and_unknown_fields():
    assert feed_all(_SSEParser(), [b"id: 7\nretry: 10\nevent:x\ndata:{}\n\n"]) == [("x", "{}")]


def test_utf8_split_across_chunks():
    payload = 'data: {"message":"caf\u00e9"}\n\n'.encode()
    cut = payload.index(b"\xa9")
    events = feed_all(_SSEParser(), [payload[:cut], payload[cut:]])
    assert _event(*events[0]).data == {"message": "caf\u00e9"}


def test_malformed_data_is_an_event_with_an_error_not_an_exception():
    event = _event("status_update_event", "{not json")
    assert event.event_type == "status_update_event"
    assert event.data == {} and event.error and event.raw == "{not json"


def test_name_falls_back_to_event_type_in_payload():
    event = _event("", '{"eventType":"deployment_success","id":"d1","timestamp":"2026-01-01T00:00:00.000Z"}')
    assert event.event_type == "deployment_success"
    assert event.deployment_id == "d1"
