"""Messaging API: reply, push, multicast, broadcast, validate, quota."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from linesim.api_gate import json_body, line_error, refuse, sim
from linesim.validation import validate_send

bp = Blueprint("messages", __name__, url_prefix="/v2/bot/message")

MONTHLY_LIMIT = "You have reached your monthly limit."


@bp.post("/reply")
def reply():
    """Answer an event with its single-use reply token (free of quota)."""
    body = json_body()
    problems = validate_send("reply", body)
    if problems:
        return refuse(problems)
    state = sim().state
    with state.lock:
        user_id = state.consume_reply_token(body["replyToken"], sim().config.reply_token_ttl)
        if user_id is None:
            return line_error(400, "Invalid reply token")
        sent, _ = state.deliver([user_id], body["messages"], "reply", g.request_id)
    return jsonify({"sentMessages": sent})


@bp.post("/push")
def push():
    """Send to one resident; 400 for an id the platform does not know."""
    body = json_body()
    problems = validate_send("push", body)
    if problems:
        return refuse(problems)
    if body["to"] not in sim().state.users:
        return line_error(400, "Failed to send messages")
    return _send("push", [body["to"]], body["messages"], with_sent=True)


@bp.post("/multicast")
def multicast():
    """Send to up to 500 residents at once."""
    body = json_body()
    problems = validate_send("multicast", body)
    if problems:
        return refuse(problems)
    return _send("multicast", list(dict.fromkeys(body["to"])), body["messages"])


@bp.post("/broadcast")
def broadcast():
    """Send to every resident who follows the account."""
    body = json_body()
    problems = validate_send("broadcast", body)
    if problems:
        return refuse(problems)
    state = sim().state
    with state.lock:
        everyone = [u.user_id for u in state.users.values() if u.following]
    return _send("broadcast", everyone, body["messages"])


def _send(via: str, user_ids: list[str], messages: list[dict], with_sent: bool = False):
    """Retry-key check, quota check and delivery as one atomic step."""
    state = sim().state
    with state.lock:
        if g.retry_key:
            accepted = state.accepted_retry_key(g.retry_key)
            if accepted is not None:
                request_id, earlier = accepted
                response, status = line_error(409, "The retry key is already accepted", **earlier)
                response.headers["x-line-accepted-request-id"] = request_id
                return response, status
        # Blocked and unknown recipients are neither delivered to nor counted.
        reachable = sum(1 for uid in user_ids if uid in state.users and state.users[uid].following)
        limit = sim().faults.config.monthly_quota
        if limit is not None and state.usage_this_month() + reachable > limit:
            return line_error(429, MONTHLY_LIMIT)
        sent, delivered = state.deliver(user_ids, messages, via, g.request_id)
        state.count_usage(delivered)  # LINE counts recipients, not message objects
        answer = {"sentMessages": sent} if with_sent else {}
        if g.retry_key:
            state.accept_retry_key(g.retry_key, g.request_id, answer)
    return jsonify(answer)


@bp.post("/validate/<kind>")
def validate(kind: str):
    """Check message objects without sending."""
    if kind not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        return line_error(404, "Not found")
    problems = validate_send("validate", json_body())
    if problems:
        return refuse(problems)
    return jsonify({})


@bp.get("/quota")
def quota():
    """This month's target limit: {"type": "none"} or {"type": "limited", "value": N}."""
    limit = sim().faults.config.monthly_quota
    if limit is None:
        return jsonify({"type": "none"})
    return jsonify({"type": "limited", "value": limit})


@bp.get("/quota/consumption")
def quota_consumption():
    """Messages counted against the quota this month."""
    return jsonify({"totalUsage": sim().state.usage_this_month()})
