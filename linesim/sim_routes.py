"""linesim's own API (`/_sim/...`) for tests and the chat page, and the page itself."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, render_template, request

from linesim.api_gate import sim
from linesim.faults import FaultSpecError
from linesim.sim import UnknownUser

bp = Blueprint(
    "sim",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/_sim/static",
)


def _body() -> dict:
    body = request.get_json(silent=True, force=True)
    return body if isinstance(body, dict) else {}


def _bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


@bp.errorhandler(UnknownUser)
def unknown_user(exc: UnknownUser):
    """A resident id the simulator never created."""
    return _bad(f"unknown user: {exc}", 404)


@bp.get("/")
def chat_page():
    """The chat page for staff: residents, their timeline, the rich menu."""
    return render_template("chat.html")


@bp.post("/_sim/users")
def create_user():
    """Create a resident (not yet a friend)."""
    body = _body()
    name = str(body.get("display_name") or "").strip()
    if not name:
        return _bad("display_name is required")
    # "" or null: a LINE app that does not share its language (the profile then has none).
    raw = body.get("language", "ja")
    language = str(raw).strip() or None if raw is not None else None
    if language is not None and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        return _bad('language must be a BCP 47 tag such as ja, en or vi (or "" for none)')
    user = sim().state.create_user(name, language)
    return jsonify(user.summary()), 201


@bp.get("/_sim/users")
def list_users():
    """Every resident, in creation order."""
    return jsonify({"users": [u.summary() for u in sim().state.users.values()]})


@bp.post("/_sim/users/<user_id>/<action>")
def resident_action(user_id: str, action: str):
    """follow / unfollow / text / postback / sticker / redeliver-last; returns the bot's answer."""
    body = _body()
    s = sim()
    if action == "follow":
        result = s.follow(user_id)
    elif action == "unfollow":
        result = s.unfollow(user_id)
    elif action == "text":
        if not isinstance(body.get("text"), str) or not body["text"]:
            return _bad("text is required")
        result = s.text(user_id, body["text"])
    elif action == "postback":
        if not isinstance(body.get("data"), str):
            return _bad("data is required")
        result = s.postback(user_id, body["data"], body.get("params"), body.get("display_text"))
    elif action == "sticker":
        result = s.sticker(
            user_id, str(body.get("package_id", "446")), str(body.get("sticker_id", "1988"))
        )
    elif action == "redeliver-last":
        result = s.redeliver_last(user_id)
    else:
        return _bad(f"unknown action: {action}", 404)
    return jsonify(result)


@bp.get("/_sim/users/<user_id>/messages")
def messages(user_id: str):
    """Everything the bot delivered to this resident, oldest first."""
    user = sim().user(user_id)
    with sim().state.lock:
        delivered = [e for e in user.timeline if e["from"] == "bot"]
    return jsonify({"messages": delivered})


@bp.get("/_sim/users/<user_id>/view")
def view(user_id: str):
    """What the chat page shows: the resident, both sides of the timeline, the rich menu."""
    s = sim()
    user = s.user(user_id)
    with s.state.lock:
        menu_id = user.rich_menu_id or s.state.default_rich_menu
        menu = s.state.rich_menus.get(menu_id) if menu_id else None
        timeline = list(user.timeline)
    rich_menu = None
    if menu is not None:
        rich_menu = {k: v for k, v in menu.items() if not k.startswith("_")}
        rich_menu["imageUrl"] = f"/_sim/richmenus/{menu_id}/image" if menu["_image"] else None
    return jsonify({"user": user.summary(), "timeline": timeline, "richMenu": rich_menu})


@bp.get("/_sim/richmenus/<menu_id>/image")
def rich_menu_image(menu_id: str):
    """A rich menu's uploaded image, without a bearer token (for the page)."""
    menu = sim().state.rich_menus.get(menu_id)
    if menu is None or menu["_image"] is None:
        return _bad("no image", 404)
    return Response(menu["_image"], mimetype=menu["_image_type"])


@bp.get("/_sim/requests")
def api_requests():
    """Every Messaging API request received, oldest first (`?bodies=0`: without bodies)."""
    with sim().state.lock:
        records = list(sim().state.requests)
    if request.args.get("bodies") == "0":
        # Benchmarks read thousands of 500-id multicasts: statuses and timings only.
        records = [{k: v for k, v in r.items() if k != "body"} for r in records]
    return jsonify({"requests": records})


@bp.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """Read, set (POST a spec; `{}` resets) or clear (DELETE) the injected faults."""
    spec = {} if request.method == "DELETE" else _body()
    if request.method != "GET":
        try:
            sim().faults.configure(spec)
        except (FaultSpecError, TypeError) as exc:
            return _bad(str(exc))
    return jsonify(sim().faults.config.as_dict())


@bp.route("/_sim/webhook", methods=["GET", "POST"])
def webhook_url():
    """Read or change the bot's webhook URL (e.g. once the bot's port is known)."""
    if request.method == "POST":
        url = _body().get("url")
        sim().sender.url = url or None
    return jsonify({"url": sim().sender.url})


@bp.post("/_sim/reset")
def reset():
    """Forget residents, messages, requests, rich menus and faults."""
    sim().reset()
    return jsonify({})
