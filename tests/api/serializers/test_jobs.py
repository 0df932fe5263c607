"""Job request bodies: the direct reading of plain bodies agrees with the serializers, which handle the rest."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from api.serializers.jobs import (
    MAX_INSTANCES,
    DeployRequestSerializer,
    RestartRequestSerializer,
    ScaleRequestSerializer,
    StopRequestSerializer,
    _read_plain,
    job_body_validated,
)

SERIALIZERS = [DeployRequestSerializer, StopRequestSerializer, RestartRequestSerializer, ScaleRequestSerializer]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=MAX_INSTANCES + 5), st.integers(),
    st.floats(allow_nan=False), st.sampled_from(["", "3", "true", "yes", "0", "1.0", "https://example.org/cb"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(["instances", "force", "callback_url", "other"]), VALUES, max_size=4),
    st.lists(st.integers(), max_size=2), st.none(), st.text(max_size=5),
)


def through_serializer(serializer_class, body):
    serializer = serializer_class(data=body)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@pytest.mark.parametrize("serializer_class", SERIALIZERS)
@settings(max_examples=300, deadline=None)
@given(body=BODIES)
def test_the_direct_reading_agrees_with_the_serializer_whenever_it_answers(serializer_class, body):
    direct = _read_plain(serializer_class, body)
    if direct is not None:
        assert direct == through_serializer(serializer_class, body)


@pytest.mark.parametrize("serializer_class, body, expected", [
    (DeployRequestSerializer, {}, {"force": False}),
    (DeployRequestSerializer, {"instances": 2, "force": True, "other": "ignored"}, {"instances": 2, "force": True}),
    (DeployRequestSerializer, {"instances": None}, {"instances": None, "force": False}),
    (ScaleRequestSerializer, {"instances": 0}, {"instances": 0, "force": False}),
    (StopRequestSerializer, {"force": False}, {"force": False}),
])
def test_plain_bodies_are_read_directly(serializer_class, body, expected):
    assert _read_plain(serializer_class, body) == expected == job_body_validated(serializer_class, body)


@pytest.mark.parametrize("serializer_class, body, field", [
    (ScaleRequestSerializer, {}, "instances"),
    (ScaleRequestSerializer, {"instances": None}, "instances"),
    (DeployRequestSerializer, {"instances": MAX_INSTANCES + 1}, "instances"),
    (DeployRequestSerializer, {"instances": -1}, "instances"),
    (DeployRequestSerializer, {"instances": 1.5}, "instances"),
    (DeployRequestSerializer, {"force": "maybe"}, "force"),
    (StopRequestSerializer, {"callback_url": "ftp://example.org/"}, "callback_url"),
])
def test_other_bodies_get_the_serializers_errors(serializer_class, body, field):
    assert _read_plain(serializer_class, body) is None
    with pytest.raises(ValidationError) as caught:
        job_body_validated(serializer_class, body)
    assert field in caught.value.detail


def test_coercions_stay_the_serializers():
    assert _read_plain(DeployRequestSerializer, {"instances": "3", "force": "yes"}) is None
    assert job_body_validated(DeployRequestSerializer, {"instances": "3", "force": "yes"}) == {
        "instances": 3, "force": True}
