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

from messages.languages import DEFAULT, LANGUAGES, NAMES
from messages.postback import encode
from messages.style import CityContact, tel_uri
from messages.texts import say

LANGUAGE_ACTION = "lang"  # postback `a`: without `v` shows the choice, with `v` sets it


def _buttons(*actions: PostbackAction) -> QuickReply:
    return QuickReply(items=[QuickReplyItem(action=a) for a in actions])


def language_button(lang: str = DEFAULT) -> PostbackAction:
    """「Language / 言語」: opens the choice of language (the same label in every language)."""
    label = say("label_language", lang)
    return PostbackAction(label=label, data=encode(LANGUAGE_ACTION), displayText=label)


def build_language_choice(lang: str = DEFAULT) -> TextMessage:
    """The four languages, each named in itself; the question is asked in several at once."""
    return TextMessage(
        text=say("q_language", lang),
        quickReply=_buttons(
            *(
                PostbackAction(
                    label=NAMES[code], data=encode(LANGUAGE_ACTION, v=code), displayText=NAMES[code]
                )
                for code in LANGUAGES
            )
        ),
    )


def _consent_buttons(lang: str) -> QuickReply:
    return _buttons(
        PostbackAction(
            label=say("label_consent", lang),
            data=encode("consent"),
            displayText=say("label_consent", lang),
        ),
        PostbackAction(
            label=say("label_later", lang),
            data=encode("later"),
            displayText=say("label_later", lang),
        ),
        language_button(lang),
    )


def build_welcome(municipality_name: str, lang: str = DEFAULT) -> list[Message]:
    """After a follow: what the account does, the privacy note and the consent buttons."""
    return [
        TextMessage(text=say("welcome", lang, city=municipality_name)),
        build_privacy(lang),
    ]


def build_privacy(lang: str = DEFAULT) -> TextMessage:
    """The privacy note with the consent buttons (and the choice of language)."""
    return TextMessage(text=say("privacy", lang), quickReply=_consent_buttons(lang))


def build_start_again(lang: str = DEFAULT) -> TextMessage:
    """To a resident whose data was deleted: the privacy note again, with consent buttons."""
    return TextMessage(
        text=say("start_again", lang) + "\n\n" + say("privacy", lang),
        quickReply=_consent_buttons(lang),
    )


def build_not_registered(lang: str = DEFAULT) -> TextMessage:
    """To a resident who has not consented yet: why to register, with consent buttons."""
    return TextMessage(
        text=say("not_registered", lang) + "\n\n" + say("privacy", lang),
        quickReply=_consent_buttons(lang),
    )


def build_later(lang: str = DEFAULT) -> TextMessage:
    """あとで: programs for everybody can be seen now; registering stays one tap away."""
    see = say("label_see_programs", lang)
    return TextMessage(
        text=say("later", lang),
        quickReply=_buttons(
            PostbackAction(label=see, data=encode("menu", v="programs"), displayText=see),
            PostbackAction(
                label=say("label_register", lang),
                data=encode("consent"),
                displayText=say("label_consent", lang),
            ),
            language_button(lang),
        ),
    )


def build_note(name: str, lang: str = DEFAULT) -> TextMessage:
    """A plain text from the catalogue (later, welcome_back, changed, deleted, ...)."""
    return TextMessage(text=say(name, lang))


def build_finished(lang: str = DEFAULT) -> TextMessage:
    """Registration is complete; offers the list of programs."""
    see = PostbackAction(
        label=say("label_see_programs", lang),
        data=encode("menu", v="programs"),
        displayText=say("label_see_programs", lang),
    )
    return TextMessage(text=say("finished", lang), quickReply=_buttons(see))


def build_paused(paused: bool, lang: str = DEFAULT) -> TextMessage:
    """Confirms that notices are now paused, or resumed."""
    return TextMessage(text=say("paused" if paused else "resumed", lang))


def build_delete_confirm(lang: str = DEFAULT) -> TextMessage:
    """Asks once more before deleting everything."""
    return TextMessage(
        text=say("delete_confirm", lang),
        quickReply=_buttons(
            PostbackAction(
                label=say("label_delete", lang),
                data=encode("delete", v="yes"),
                displayText=say("label_delete", lang),
            ),
            PostbackAction(
                label=say("label_keep", lang),
                data=encode("delete", v="no"),
                displayText=say("label_keep", lang),
            ),
        ),
    )


def build_help(lang: str = DEFAULT) -> TextMessage:
    """A short apology for text the bot cannot answer (build_contact adds the phone)."""
    return TextMessage(text=say("help", lang))


# Words that ask for a person: answered with the phone number and counter even mid-question.
CONTACT_WORDS = (
    "電話",
    "でんわ",
    "窓口",
    "まどぐち",
    "申し込",
    "申込",
    "もうしこ",
    "問い合",
    "問合",
    "どこ",
    "相談",
    "聞きたい",
    "ききたい",
    "わから",
    "分から",
    "教えて",
    # English and Vietnamese residents (compared in lower case)
    "phone",
    "call",
    "help",
    "apply",
    "contact",
    "điện thoại",
    "liên hệ",
    "giúp",
    "nộp đơn",
)


def wants_contact(text: str | None) -> bool:
    """True when a typed text asks how to reach the city (電話で聞きたい, どこに申し込めば…)."""
    plain = unicodedata.normalize("NFKC", text or "").lower()
    return any(word in plain for word in CONTACT_WORDS)


def build_contact(
    city: CityContact, *, registered: bool, understood: bool = True, lang: str = DEFAULT
) -> TextMessage:
    """The city's phone and counter, a tap-to-call button and the menu (never a dead end).

    It also offers the choice of language: a resident who types in another language lands
    here first."""
    lines = [] if understood else [say("help", lang)]
    if city.phone or city.counter:
        lines.append(
            say("help_contact", lang, phone=city.phone or "—", counter=city.counter or "—")
        )
    else:
        lines.append(say("help_no_contact", lang, city=city.name))
    lines.append(say("help_menu", lang))
    items: list[QuickReplyItem] = []
    if city.phone:
        call = say("label_call", lang, phone=city.phone)
        items.append(QuickReplyItem(action=URIAction(label=call[:20], uri=tel_uri(city.phone))))
    see = say("label_see_programs", lang)
    items.append(
        QuickReplyItem(
            action=PostbackAction(label=see, data=encode("menu", v="programs"), displayText=see)
        )
    )
    if registered:
        review = say("menu_review", lang)
        items.append(
            QuickReplyItem(
                action=PostbackAction(
                    label=review, data=encode("menu", v="review"), displayText=review
                )
            )
        )
    else:
        register = say("label_register", lang)
        items.append(
            QuickReplyItem(
                action=PostbackAction(
                    label=register, data=encode("consent"), displayText=say("label_consent", lang)
                )
            )
        )
    items.append(QuickReplyItem(action=language_button(lang)))
    return TextMessage(text="\n".join(lines), quickReply=QuickReply(items=items))
