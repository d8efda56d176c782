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
        "このアカウントは、あなたが使える補助金や助成のお知らせを、"
        "申し込みの時期に合わせてお届けします。"
    ),
    "privacy": (
        "【登録の前に】\n"
        "・使い方：あなたに合うお知らせを選ぶためだけに使います。\n"
        "・保存するもの：これから聞く答え（生まれた日、地区など）だけです。"
        "答えたくない質問は「答えない」でとばせます。\n"
        "・消し方：メニューの「登録情報の削除」で、いつでも全部消せます。\n"
        "よろしければ「同意して登録する」を押してください。1分ほどで終わります。"
    ),
    "label_consent": "同意して登録する",
    "label_later": "あとで",
    "later": (
        "わかりました。登録したくなったら、下のメニューの「登録内容の確認・変更」を押してください。"
    ),
    "welcome_back": "おかえりなさい。前に登録した内容は、そのまま残っています。",
    "start_again": (
        "登録情報は、もう削除されています。\nもう一度登録するときは、下のボタンを押してください。"
    ),
    # questions
    "progress": "（{n}/{total}）",
    "q_birth_date": "あなたの生まれた日を教えてください。",
    "q_district": "住んでいる地区を選んでください。",
    "q_household_size": "いっしょに住んでいる家族は、あなたを入れて何人ですか。",
    "q_children": (
        "いっしょに住んでいる18歳までのお子さんはいますか。\nいるときは「生まれた日を選ぶ」を押してください。"
    ),
    "q_children_more": "お子さんを{count}人登録しました。ほかにもお子さんはいますか。",
    "q_pregnant": "あなたかパートナーは、いま妊娠していますか。",
    "q_single_parent": "ひとり親の家庭ですか（ひとりでお子さんを育てている家庭）。",
    "q_interests": (
        "知りたい分野を選んでください。いくつでも選べます。\n"
        "もう一度押すと、選ぶのをやめられます。選んだら「完了」を押してください。"
    ),
    "topics_chosen": "いま選んでいるもの：{topics}",
    "topics_none_chosen": "まだ何も選んでいません。",
    "label_skip": "答えない",
    "label_done": "完了",
    "label_yes": "はい",
    "label_no": "いいえ",
    "label_pick_birth": "生まれた日を選ぶ",
    "label_pick_child": "生まれた日を選ぶ",
    "label_add_child": "もう1人いる",
    "label_no_children": "いない",
    "label_children_done": "これで全部",
    "label_next_page": "ほかの地区",
    "label_next_topics": "ほかの分野",
    "persons": "{n}人",
    "persons_or_more": "{n}人以上",
    # re-prompts: kind, and always followed by the question again
    "use_buttons": "ごめんなさい。下のボタンから選んでください。",
    "old_button": "前の質問のボタンでした。いまの質問にお答えください。",
    "date_in_future": "その日は、まだ来ていません。もう一度、生まれた日を選んでください。",
    "date_too_old": "120年より前の日は選べません。もう一度、生まれた日を選んでください。",
    "child_too_early": (
        "その日は、あなたが生まれた日に近すぎるようです。もう一度、お子さんの生まれた日を"
        "選んでください。"
    ),
    "choice_unknown": "その答えは選べません。もう一度、下のボタンから選んでください。",
    # finishing and reviewing
    "finished": (
        "登録ができました。ありがとうございます。\n"
        "あなたに合う制度のお知らせを、LINEでお届けします。\n"
        "登録した内容は、メニューの「登録内容の確認・変更」で、いつでも見たり直したりできます。"
    ),
    "label_see_programs": "使える制度を見る",
    "changed": "変更しました。",
    "review_title": "登録している内容",
    "review_alt": "登録している内容です。",
    "review_hint": "直したいところの「変更」を押してください。",
    "label_change": "変更",
    "not_answered": "答えていません",
    "field_birth_date": "生まれた日",
    "field_district": "地区",
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
    "not_registered": "いまは登録されていません。登録すると、あなたに合うお知らせが届きます。",
    "finish_first": "先に、いまの質問に答えて登録を終わらせてください。あとで直せます。",
    # programs
    "programs_alt": "いま申し込める制度が{count}件あります。",
    "programs_intro": "いま申し込める、あなたに合う制度です（{count}件）。",
    "programs_none": (
        "いま申し込める、あなたに合う制度はありません。\n"
        "新しい制度が始まったら、LINEでお知らせします。"
    ),
    "programs_more_answers": (
        "答えていない質問があります。答えると、合う制度が見つかるかもしれません。"
        "メニューの「登録内容の確認・変更」から答えられます。"
    ),
    "programs_more": "ほかに{count}件あります",
    "programs_more_body": "市のホームページで、ほかの制度も見られます。",
    "label_city_homepage": "市のホームページを見る",
    "period": "受付 {opens}〜{closes}",
    "deadline": "締切 {closes}（あと{days}日）",
    "deadline_today": "締切 {closes}（今日まで）",
    "contact": "問い合わせ：{contact}",
    "label_details": "くわしく見る",
    "label_apply": "オンラインで申し込む",
    # program notices (messages/notice.py)
    "notice_alt": "{program}のお知らせ（締切 {closes}）",
    "notice_alt_lead": "{lead}\n{program}（締切 {closes}）",
    "notice_test_lead": "【テスト配信】",
    "notice_counter": "窓口・電話でも申し込めます。{contact}",
    "notice_counter_city": "市役所の窓口や電話でも、申し込みや相談ができます。",
    "notice_feedback_hint": (
        "申請した方・必要のない方は、下のボタンで教えてください。この制度のお知らせを止めます。"
    ),
    "label_applied": "申請済み",
    "label_not_needed": "対象外・不要",
    "label_undo": "元に戻す",
    "feedback_applied": (
        "「{program}」を申請済みと承りました。ありがとうございます。\n"
        "この制度のお知らせは、これからは送りません。"
    ),
    "feedback_not_needed": (
        "「{program}」は必要ないと承りました。教えていただき、ありがとうございます。\n"
        "この制度のお知らせは、これからは送りません。"
    ),
    "feedback_undo_hint": "まちがえて押したときは「元に戻す」を押してください。",
    "feedback_undone": "元に戻しました。「{program}」のお知らせを、また受け取れます。",
    "feedback_unknown_program": "この制度",
    # notices on / off
    "paused": (
        "お知らせの配信を止めました。登録した内容は残っています。\n"
        "また受け取るときは、メニューの「配信の停止・再開」を押してください。"
    ),
    "resumed": "お知らせの配信を再開しました。あなたに合うお知らせをお届けします。",
    # deletion
    "delete_confirm": (
        "登録した内容（答えたこと全部）を削除します。元には戻せません。よろしいですか。"
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
    "help": (
        "ごめんなさい。このアカウントでは、お返事ができません。\n下のメニューから選んでください。"
    ),
}


def say(name: str, **values: object) -> str:
    """The text named `name`, with its placeholders filled in."""
    return TEXTS[name].format(**values) if values else TEXTS[name]
