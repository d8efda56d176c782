"""Messaging API: profiles, follower ids, follower insight and rich menus."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import Blueprint, Response, jsonify, request

from linesim.api_gate import json_body, line_error, refuse, sim
from linesim.state import JST, today_jst
from linesim.validation import validate_rich_menu

bp = Blueprint("users", __name__, url_prefix="/v2/bot")

IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
IMAGE_MAX = 1024 * 1024  # rich menu images: JPEG or PNG, at most 1 MB


@bp.get("/profile/<user_id>")
def get_profile(user_id: str):
    """A friend's profile; 404 for anyone who is not following."""
    user = sim().state.users.get(user_id)
    if user is None or not user.following:
        return line_error(404, "Not found")
    profile = {"userId": user.user_id, "displayName": user.display_name, "statusMessage": ""}
    if user.language is not None:  # LINE leaves it out when the app does not share it
        profile["language"] = user.language
    return jsonify(profile)


@bp.get("/followers/ids")
def get_followers():
    """Current followers' ids, up to `limit` (≤1,000) a page, paged by `start`."""
    try:
        limit = int(request.args.get("limit", 1000))
        start = int(request.args.get("start", 0))
    except ValueError:
        return line_error(400, "The request parameters are invalid")
    if not 1 <= limit <= 1000:
        return line_error(400, "limit must be between 1 and 1000")
    ids = [u.user_id for u in sim().state.users.values() if u.following]
    answer: dict = {"userIds": ids[start : start + limit]}
    if start + limit < len(ids):
        answer["next"] = str(start + limit)
    return jsonify(answer)


@bp.get("/insight/followers")
def insight_followers():
    """Friend counts as of a past JST day; today and later are 'unready', like LINE."""
    raw = request.args.get("date", "")
    try:
        day = datetime.strptime(raw, "%Y%m%d").replace(tzinfo=JST)
    except ValueError:
        return line_error(400, "The value for the 'date' parameter is invalid")
    if day >= today_jst(sim().clock):
        return jsonify({"status": "unready"})
    stats = sim().state.follower_stats((day + timedelta(days=1)).timestamp())
    return jsonify({"status": "ready", **stats})


# rich menus ---------------------------------------------------------------------------
@bp.post("/richmenu")
def create_rich_menu():
    """Create a rich menu; returns its id."""
    body = json_body()
    problems = validate_rich_menu(body)
    if problems:
        return refuse(problems)
    menu_id = "richmenu-" + secrets.token_hex(16)
    with sim().state.lock:
        sim().state.rich_menus[menu_id] = {"richMenuId": menu_id, **body, "_image": None}
    return jsonify({"richMenuId": menu_id})


@bp.post("/richmenu/validate")
def validate_rich_menu_object():
    """Check a rich menu object without creating it."""
    problems = validate_rich_menu(json_body())
    return refuse(problems) if problems else jsonify({})


def _public(menu: dict) -> dict:
    return {k: v for k, v in menu.items() if not k.startswith("_")}


@bp.get("/richmenu/list")
def list_rich_menus():
    """Every rich menu created through the API."""
    return jsonify({"richmenus": [_public(m) for m in sim().state.rich_menus.values()]})


@bp.get("/richmenu/<menu_id>")
def get_rich_menu(menu_id: str):
    """One rich menu."""
    menu = sim().state.rich_menus.get(menu_id)
    return jsonify(_public(menu)) if menu else line_error(404, "Not found")


@bp.delete("/richmenu/<menu_id>")
def delete_rich_menu(menu_id: str):
    """Delete a rich menu (and unset it wherever it was used)."""
    state = sim().state
    with state.lock:
        if state.rich_menus.pop(menu_id, None) is None:
            return line_error(404, "Not found")
        if state.default_rich_menu == menu_id:
            state.default_rich_menu = None
        for user in state.users.values():
            if user.rich_menu_id == menu_id:
                user.rich_menu_id = None
    return jsonify({})


@bp.post("/richmenu/<menu_id>/content")
def upload_rich_menu_image(menu_id: str):
    """Attach the image (once; LINE cannot replace it)."""
    menu = sim().state.rich_menus.get(menu_id)
    if menu is None:
        return line_error(404, "Not found")
    magic = IMAGE_TYPES.get(request.mimetype)
    if magic is None:
        return line_error(415, "Unsupported Media Type")
    data = request.get_data()
    if menu["_image"] is not None:
        return line_error(400, "An image has already been uploaded to the richmenu")
    if not data.startswith(magic):
        return line_error(400, "The image is not a valid " + request.mimetype)
    if len(data) > IMAGE_MAX:
        return line_error(400, "The image must be at most 1 MB")
    if request.mimetype == "image/png" and _png_size(data) != (
        menu["size"]["width"],
        menu["size"]["height"],
    ):
        return line_error(400, "Image size must match with the rich menu size")
    with sim().state.lock:
        menu["_image"], menu["_image_type"] = data, request.mimetype
    return jsonify({})


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG IHDR chunk (JPEG sizes are not checked)."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@bp.get("/richmenu/<menu_id>/content")
def download_rich_menu_image(menu_id: str):
    """The uploaded image."""
    menu = sim().state.rich_menus.get(menu_id)
    if menu is None or menu["_image"] is None:
        return line_error(404, "Not found")
    return Response(menu["_image"], mimetype=menu["_image_type"])


@bp.post("/user/all/richmenu/<menu_id>")
def set_default_rich_menu(menu_id: str):
    """Make a rich menu every resident sees unless one is linked to them."""
    menu = sim().state.rich_menus.get(menu_id)
    if menu is None:
        return line_error(404, "Not found")
    if menu["_image"] is None:
        return line_error(400, "must upload richmenu image before applying it to user")
    sim().state.default_rich_menu = menu_id
    return jsonify({})


@bp.get("/user/all/richmenu")
def get_default_rich_menu():
    """The default rich menu's id; 404 when none is set."""
    menu_id = sim().state.default_rich_menu
    return jsonify({"richMenuId": menu_id}) if menu_id else line_error(404, "Not found")


@bp.delete("/user/all/richmenu")
def cancel_default_rich_menu():
    """Unset the default rich menu."""
    sim().state.default_rich_menu = None
    return jsonify({})


@bp.post("/user/<user_id>/richmenu/<menu_id>")
def link_rich_menu(user_id: str, menu_id: str):
    """Show a rich menu to one resident (it wins over the default)."""
    state = sim().state
    menu = state.rich_menus.get(menu_id)
    if user_id not in state.users or menu is None:
        return line_error(404, "Not found")
    if menu["_image"] is None:
        return line_error(400, "must upload richmenu image before applying it to user")
    state.users[user_id].rich_menu_id = menu_id
    return jsonify({})


@bp.get("/user/<user_id>/richmenu")
def get_linked_rich_menu(user_id: str):
    """The rich menu linked to one resident; 404 when none."""
    user = sim().state.users.get(user_id)
    if user is None or user.rich_menu_id is None:
        return line_error(404, "the user has no richmenu")
    return jsonify({"richMenuId": user.rich_menu_id})


@bp.delete("/user/<user_id>/richmenu")
def unlink_rich_menu(user_id: str):
    """Remove a resident's linked rich menu."""
    user = sim().state.users.get(user_id)
    if user is None:
        return line_error(404, "Not found")
    user.rich_menu_id = None
    return jsonify({})
