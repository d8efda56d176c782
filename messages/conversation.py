"""Short messages around the questions: welcome, consent, finishing, pausing, deleting, help."""

from __future__ import annotations

from linebot.v3.messaging import Message, PostbackAction, QuickReply, QuickReplyItem, TextMessage

from messages.postback import encode
from messages.texts import say


def _buttons(*actions: PostbackAction) -> QuickReply:
    return QuickReply(items=[QuickReplyItem(action=a) for a in actions])


def _consent_buttons() -> QuickReply:
    return _buttons(
        PostbackAction(label=say("label_consent"), data=encode("consent"),
                       displayText=say("label_consent")),
        PostbackAction(label=say("label_later"), data=encode("later"),
                       displayText=say("label_later")),
    )  # fmt: skip


def build_welcome(municipality_name: str) -> list[Message]:
    """After a follow: what the account does, the privacy note and the consent buttons."""
    return [
        TextMessage(text=say("welcome", city=municipality_name)),
        TextMessage(text=say("privacy"), quickReply=_consent_buttons()),
    ]


def build_start_again() -> TextMessage:
    """To a resident whose data was deleted: the privacy note again, with consent buttons."""
    return TextMessage(
        text=say("start_again") + "\n\n" + say("privacy"), quickReply=_consent_buttons()
    )


def build_not_registered() -> TextMessage:
    """To a resident who has not consented yet: why to register, with consent buttons."""
    return TextMessage(
        text=say("not_registered") + "\n\n" + say("privacy"), quickReply=_consent_buttons()
    )


def build_note(name: str) -> TextMessage:
    """A plain text from the table (later, welcome_back, changed, deleted, ...)."""
    return TextMessage(text=say(name))


def build_finished() -> TextMessage:
    """Registration is complete; offers the list of programs."""
    see = PostbackAction(
        label=say("label_see_programs"),
        data=encode("menu", v="programs"),
        displayText=say("label_see_programs"),
    )
    return TextMessage(text=say("finished"), quickReply=_buttons(see))


def build_paused(paused: bool) -> TextMessage:
    """Confirms that notices are now paused, or resumed."""
    return TextMessage(text=say("paused" if paused else "resumed"))


def build_delete_confirm() -> TextMessage:
    """Asks once more before deleting everything."""
    return TextMessage(text=say("delete_confirm"), quickReply=_buttons(
        PostbackAction(label=say("label_delete"), data=encode("delete", v="yes"),
                       displayText=say("label_delete")),
        PostbackAction(label=say("label_keep"), data=encode("delete", v="no"),
                       displayText=say("label_keep")),
    ))  # fmt: skip


def build_help() -> TextMessage:
    """To free text or a sticker outside a question: points at the menu."""
    return TextMessage(text=say("help"))
