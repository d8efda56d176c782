"""Injected faults: rate limits, errors, timeouts, lost responses, monthly quota, seeds."""

from __future__ import annotations

import json
import uuid

import pytest
import urllib3
from linebot.v3.messaging import ApiException, MulticastRequest, PushMessageRequest, TextMessage
from linebot.v3.messaging.exceptions import ServiceException


def push_request(user_id: str) -> PushMessageRequest:
    """A one-message push."""
    return PushMessageRequest(to=user_id, messages=[TextMessage(text="お知らせ")])


def test_rate_limit_answers_429_too_many_requests(api, sim, friend):
    """Beyond the configured requests/second the endpoint answers 429 "Too many requests"."""
    sim.faults(rate_limit={"multicast": 2})
    request = MulticastRequest(to=[friend], messages=[TextMessage(text="x")])
    api.multicast(request)
    api.multicast(request)
    with pytest.raises(ApiException) as raised:
        api.multicast(request)
    assert raised.value.status == 429
    assert json.loads(raised.value.body) == {"message": "Too many requests"}
    assert len(sim.messages(friend)) == 2


def test_error_rate_one_always_answers_500_and_delivers_nothing(api, sim, friend):
    """error_rate 1.0 → every call is a 500 and nothing reaches the resident."""
    sim.faults(error_rate=1.0)
    with pytest.raises(ServiceException) as raised:
        api.push_message(push_request(friend))
    assert raised.value.status == 500
    assert raised.value.headers["x-line-request-id"]
    assert sim.messages(friend) == []


def test_timeout_drops_the_connection_without_delivering(api, sim, friend):
    """timeout_rate 1.0 → the client's read timeout fires and nothing is delivered."""
    sim.faults(timeout_rate=1.0, timeout_seconds=0.6)
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.push_message(push_request(friend), _request_timeout=(1, 0.2))
    assert sim.messages(friend) == []


@pytest.mark.parametrize("lost_as", ["error", "drop"])
def test_lost_response_delivers_once_even_when_retried_with_the_same_key(api, sim, friend, lost_as):
    """The answer is lost (500 or dropped) but the message went out; the retry gets 409."""
    sim.faults(lost_response_rate=1.0, lost_response_as=lost_as)
    key = str(uuid.uuid4())
    with pytest.raises((ServiceException, urllib3.exceptions.HTTPError)):
        api.push_message(push_request(friend), x_line_retry_key=key)
    with pytest.raises(ApiException) as raised:
        api.push_message(push_request(friend), x_line_retry_key=key)
    assert raised.value.status == 409
    [delivered] = sim.messages(friend)
    assert raised.value.headers["x-line-accepted-request-id"] == delivered["request_id"]


def test_monthly_quota_answers_429_monthly_limit(api, sim, friend):
    """Beyond the monthly quota, push answers 429 "You have reached your monthly limit."."""
    sim.faults(monthly_quota=1)
    api.push_message(push_request(friend))
    with pytest.raises(ApiException) as raised:
        api.push_message(push_request(friend))
    assert raised.value.status == 429
    assert json.loads(raised.value.body) == {"message": "You have reached your monthly limit."}


def statuses(api, user_id: str, n: int) -> list[int]:
    """Status of n pushes under the current faults."""
    result = []
    for _ in range(n):
        try:
            result.append(api.push_message_with_http_info(push_request(user_id)).status_code)
        except ApiException as exc:
            result.append(exc.status)
    return result


def test_seeded_faults_fail_the_same_requests_again(api, sim, friend):
    """With a seed, the same sequence of requests meets the same faults."""
    sim.faults(seed=7, error_rate=0.5)
    first = statuses(api, friend, 12)
    sim.faults(seed=7, error_rate=0.5)
    assert statuses(api, friend, 12) == first
    assert set(first) == {200, 500}


def test_empty_spec_resets_faults(api, sim, friend):
    """Posting {} clears injected faults."""
    sim.faults(error_rate=1.0)
    sim.faults()
    assert statuses(api, friend, 2) == [200, 200]


def test_bad_fault_spec_is_refused(sim):
    """Unknown keys or rates above 1 are a 400 from /_sim/faults."""
    from linesim.client import SimError

    with pytest.raises(SimError):
        sim.faults(eror_rate=0.5)
    with pytest.raises(SimError):
        sim.faults(error_rate=0.8, timeout_rate=0.5)
