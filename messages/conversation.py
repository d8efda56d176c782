"""Short messages around the questions: welcome, consent, finishing, pausing, deleting, help."""

from __future__ import annotations

import unicodedata

from linebot.v3.messaging import (
    Message,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from messages.postback import encode
from messages.style import CityContact, tel_uri
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


def build_later() -> TextMessage:
    """あとで: programs for everybody can be seen now; registering stays one tap away."""
    see = say("label_see_programs")
    return TextMessage(text=say("later"), quickReply=_buttons(
        PostbackAction(label=see, data=encode("menu", v="programs"), displayText=see),
        PostbackAction(label=say("label_register"), data=encode("consent"),
                       displayText=say("label_consent")),
    ))  # fmt: skip


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
    """A short apology for text the bot cannot answer (build_contact adds the phone)."""
    return TextMessage(text=say("help"))


# Words that ask for a person: answered with the phone number and counter even mid-question.
CONTACT_WORDS = (
    "電話", "でんわ", "窓口", "まどぐち", "申し込", "申込", "もうしこ", "問い合", "問合",
    "どこ", "相談", "聞きたい", "ききたい", "わから", "分から", "教えて",
)  # fmt: skip


def wants_contact(text: str | None) -> bool:
    """True when a typed text asks how to reach the city (電話で聞きたい, どこに申し込めば…)."""
    plain = unicodedata.normalize("NFKC", text or "")
    return any(word in plain for word in CONTACT_WORDS)


def build_contact(city: CityContact, *, registered: bool, understood: bool = True) -> TextMessage:
    """The city's phone and counter, a tap-to-call button and the menu (never a dead end)."""
    lines = [] if understood else [say("help")]
    if city.phone or city.counter:
        lines.append(say("help_contact", phone=city.phone or "—", counter=city.counter or "—"))
    else:
        lines.append(say("help_no_contact", city=city.name))
    lines.append(say("help_menu"))
    items: list[QuickReplyItem] = []
    if city.phone:
        call = say("label_call", phone=city.phone)
        items.append(QuickReplyItem(action=URIAction(label=call[:20], uri=tel_uri(city.phone))))
    see = say("label_see_programs")
    items.append(QuickReplyItem(action=PostbackAction(
        label=see, data=encode("menu", v="programs"), displayText=see)))  # fmt: skip
    if registered:
        review = say("menu_review")
        items.append(QuickReplyItem(action=PostbackAction(
            label=review, data=encode("menu", v="review"), displayText=review)))  # fmt: skip
    else:
        register = say("label_register")
        items.append(QuickReplyItem(action=PostbackAction(
            label=register, data=encode("consent"), displayText=say("label_consent"))))  # fmt: skip
    return TextMessage(text="\n".join(lines), quickReply=QuickReply(items=items))
