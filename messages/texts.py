"""Every resident-facing text in one table, for review and translation in one place.

Polite, plain Japanese (やさしい日本語): short sentences, common kanji, no jargon.
Button labels are marked `label_`: LINE allows at most 20 characters in a quick reply
label (messages/tests pin it). `{name}` placeholders are filled by `say()`.
"""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # welcome and consent
    "welcome": (
        "{city}のLINE公式アカウントです。友だち追加ありがとうございます。\n"
        "使える補助金や助成のお知らせを、申し込みの時期に合わせてお届けします。"
    ),
    "privacy": (
        "【登録の前に】\n"
        "・使い方：お知らせを選ぶためだけに使います。\n"
        "・保存するもの：これからお聞きする答え（生年月日、お住まいの地区など）だけです。"
        "答えたくない質問は「答えない」でとばせます。\n"
        "・消し方：メニューの「登録情報の削除」で、いつでも全部消せます。\n"
        "よろしければ「同意して登録する」を押してください。1分ほどで終わります。"
    ),
    "label_consent": "同意して登録する",
    "label_later": "あとで",
    "later": (
        "承知しました。登録しなくても「使える制度を見る」で、どなたでも使える制度をご覧いただけます。\n"
        "登録すると、年齢やお住まいの地区に合うお知らせが届きます。"
        "登録するときは、下の「登録する」を押してください。"
    ),
    "label_register": "登録する",
    "welcome_back": "おかえりなさい。前に登録された内容は、そのまま残っています。",
    "start_again": (
        "登録情報は、もう削除されています。\nもう一度登録するときは、下のボタンを押してください。"
    ),
    # questions
    "progress": "（{n}/{total}）",
    "progress_at_most": "（{n}問目・のこり{left}問まで）",
    "q_birth_date": (
        "生年月日を教えてください。\n"
        "「昭和21年5月3日」や「1946/5/3」のように送っていただくか、"
        "下のボタンで元号から選んでください。"
    ),
    "q_date_decade": "{era}何年のお生まれですか。近いものを選んでください。",
    "q_date_year": "{era}何年のお生まれですか。",
    "q_date_month": "{year}（{western}年）の何月ですか。",
    "q_date_day": (
        "{month}の何日ですか。\n「3」のように数字を送るか、「日にちを選ぶ」を押してください。"
    ),
    "date_registered": "{date}で登録しました。",
    "child_added": "{date}生まれのお子さんを登録しました。",
    "q_district": "お住まいの地区を選んでください。",
    "q_household_size": "いっしょに住んでいるご家族は、ご本人を入れて何人ですか。",
    "q_children": (
        "いっしょに住んでいる18歳までのお子さんはいますか。\n"
        "いるときは、お子さんの生年月日を「令和元年5月10日」のように送るか、"
        "下のボタンで元号から選んでください。"
    ),
    "q_children_more": (
        "お子さんは{count}人です。ほかにもいるときは、その生年月日を送るか、"
        "下のボタンで選んでください。"
    ),
    "q_pregnant": "ご本人かパートナーの方は、いま妊娠していますか。",
    "q_single_parent": "ひとり親の家庭ですか（ひとりでお子さんを育てている家庭）。",
    "q_interests": (
        "知りたい分野を選んでください。いくつでも選べます（もう一度押すと取り消せます）。\n"
        "選び終わったら「完了」を押してください。"
    ),
    "topics_chosen": "いま選んでいる分野：{topics}",
    "topics_none_chosen": "まだ何も選んでいません。",
    "topics_again": "ほかにもあれば選んでください。選び終わったら「完了」を押してください。",
    "label_skip": "答えない",
    "label_done": "完了",
    "label_yes": "はい",
    "label_no": "いいえ",
    "label_era": "{era}生まれ",
    "label_years": "{era}{a}〜{b}年（{wa}〜{wb}）",
    "label_pick_calendar": "カレンダーで選ぶ",
    "label_pick_day": "日にちを選ぶ",
    "label_date_restart": "選び直す",
    "label_no_children": "いない",
    "label_children_done": "これで全部",
    "label_next_page": "ほかの地区",
    "label_next_topics": "ほかの分野",
    "persons": "{n}人",
    "persons_or_more": "{n}人以上",
    # re-prompts: kind, and always followed by the question again
    "use_buttons": "申し訳ありません。下のボタンから選んでください。",
    "date_not_read": (
        "申し訳ありません。日付として読み取れませんでした。"
        "「昭和21年5月3日」や「1946/5/3」のように送るか、下のボタンから選んでください。"
    ),
    "old_button": "前の質問のボタンでした。いまの質問にお答えください。",
    "date_in_future": "その日は、まだ来ていません。もう一度、生年月日を教えてください。",
    "date_too_old": "120年より前の日は登録できません。もう一度、生年月日を教えてください。",
    "child_too_early": (
        "その日は、ご本人の生年月日に近すぎるようです。もう一度、お子さんの生年月日を"
        "教えてください。"
    ),
    "choice_unknown": "その答えは選べません。もう一度、下のボタンから選んでください。",
    # finishing and reviewing
    "finished": (
        "登録ができました。ありがとうございます。\n"
        "合う制度のお知らせを、LINEでお届けします。\n"
        "登録した内容は、メニューの「登録内容の確認・変更」で、いつでも見たり直したりできます。"
    ),
    "label_see_programs": "使える制度を見る",
    "changed": "変更しました。",
    "review_title": "登録している内容",
    "review_alt": "登録している内容です。",
    "review_hint": "直したいところの「変更」を押してください。",
    "label_change": "変更",
    "not_answered": "答えていません",
    "field_birth_date": "生年月日",
    "field_district": "お住まいの地区",
    "field_household_size": "家族の人数",
    "field_children": "お子さん",
    "field_pregnant": "妊娠",
    "field_single_parent": "ひとり親",
    "field_interests": "知りたい分野",
    "children_none": "いない",
    "children_count": "{count}人",
    "yes": "はい",
    "no": "いいえ",
    "none_chosen": "選んでいません",
    "paused_note": "いまは、お知らせの配信を止めています。",
    "not_registered": "まだ登録されていません。登録すると、合うお知らせが届きます。",
    "finish_first": "先に、いまの質問に答えて登録を終わらせてください。あとで直せます。",
    # programs
    "programs_alt": "いま申し込める制度が{count}件あります。",
    "programs_intro": "いま申し込める、合う制度です（{count}件）。",
    "programs_intro_topics": (
        "いま申し込める、合う制度です（{count}件）。選んだ分野（{topics}）の制度が先です。"
    ),
    "programs_guest_intro": (
        "どなたでも使える、いま申し込める制度です（{count}件）。\n"
        "登録すると、年齢やお住まいの地区に合う制度もご案内できます。"
    ),
    "programs_none": (
        "いま申し込める制度で、合うものはありません。\n"
        "新しい制度が始まったら、LINEでお知らせします。"
    ),
    "programs_guest_none": (
        "いま、どなたでも申し込める制度はありません。\n"
        "登録すると、年齢やお住まいの地区に合う制度をご案内できます。"
    ),
    "programs_more_answers": (
        "答えていない質問があります。答えると、合う制度が見つかるかもしれません。"
        "メニューの「登録内容の確認・変更」から答えられます。"
    ),
    "programs_more": "ほかに{count}件あります",
    "programs_more_body": "市のホームページで、ほかの制度も見られます。",
    "label_city_homepage": "市のホームページを見る",
    "period": "受付 {opens}〜{closes}",
    "deadline": "{closes}まで・あと{days}日",
    "deadline_today": "{closes}まで・今日が締切です",
    "contact_heading": "電話・窓口（申し込み・相談）",
    "label_details": "くわしく見る",
    "label_apply": "オンラインで申し込む",
    "label_call": "電話する {phone}",
    # program notices (messages/notice.py)
    "notice_alt": "{program}のお知らせ（{closes}まで）",
    "notice_alt_lead": "{lead}\n{program}（{closes}まで）",
    "notice_test_lead": "【テスト配信】",
    "notice_counter_city": "市役所の窓口や電話でも、申し込みや相談ができます。",
    "notice_feedback_hint": "申請が済んだ方・必要のない方は、下のボタンで教えてください。",
    "label_applied": "申請しました",
    "label_not_needed": "対象外・不要",
    "label_undo": "元に戻す",
    "label_confirm_applied": "はい、申請しました",
    "label_cancel": "まだです",
    "feedback_confirm_applied": (
        "「{program}」は、もう申請されましたか。\n"
        "「はい、申請しました」を押すと、この制度のお知らせは止まります。"
    ),
    "feedback_not_yet": "承知しました。締切の前に、またお知らせします。",
    "feedback_applied": (
        "「{program}」の申請をされたと承りました。ありがとうございます。\n"
        "この制度のお知らせは、これからはお送りしません。"
    ),
    "feedback_not_needed": (
        "「{program}」は必要ないと承りました。教えていただき、ありがとうございます。\n"
        "この制度のお知らせは、これからはお送りしません。"
    ),
    "feedback_undo_hint": "まちがえて押したときは「元に戻す」を押してください。",
    "feedback_undone": "元に戻しました。「{program}」のお知らせを、またお送りします。",
    "feedback_unknown_program": "この制度",
    # notices on / off
    "paused": (
        "お知らせの配信を止めました。登録した内容は残っています。\n"
        "また受け取るときは、メニューの「配信の停止・再開」を押してください。"
    ),
    "resumed": "お知らせの配信を再開しました。合うお知らせをお届けします。",
    # deletion
    "delete_confirm": (
        "登録した内容（お答えいただいたこと全部）を削除します。元には戻せません。よろしいですか。"
    ),
    "label_delete": "削除する",
    "label_keep": "やめる",
    "deleted": (
        "登録した内容をすべて削除しました。ご利用ありがとうございました。\n"
        "また登録するときは、メニューの「登録内容の確認・変更」を押してください。"
    ),
    "delete_cancelled": "削除をやめました。登録した内容は、そのままです。",
    # the rich menu (labels are read aloud by screen readers; at most 20 characters)
    "menu_review": "登録内容の確認・変更",
    "menu_programs": "使える制度を見る",
    "menu_pause": "配信の停止・再開",
    "menu_delete": "登録情報の削除",
    "menu_bar": "メニュー",
    # free text: the analog route and the menu, never a dead end
    "help": (
        "申し訳ありません。このアカウントは、文字でのご質問にはお答えできません。\n"
        "制度のことは、お電話や窓口でご案内しています。"
    ),
    "help_contact": ("お電話や窓口でご案内しています。\n・電話：{phone}\n・窓口：{counter}"),
    "help_menu": "下のボタンやメニューからも選べます。",
    "help_no_contact": "制度のことは、{city}の窓口でご案内しています。",
}


def say(name: str, **values: object) -> str:
    """The text named `name`, with its placeholders filled in."""
    return TEXTS[name].format(**values) if values else TEXTS[name]
