"""Render the rich menu images, one per language (Pillow is not a project dependency).

    python3 -m venv /tmp/pil && /tmp/pil/bin/pip install pillow
    /tmp/pil/bin/python scripts/render_richmenu.py            # en, vi, ja-easy
    /tmp/pil/bin/python scripts/render_richmenu.py ja         # bot/static/richmenu.png

Each area's title is the menu label from the catalogue (messages/catalogue/<lang>.po,
menu_review …), so the picture says what a screen reader reads out; the smaller line under
it is written here. Fonts: Debian's fonts-noto-cjk (Japanese) and fonts-dejavu (Latin and
Vietnamese). bot/line/richmenu.py names each menu after a hash of its PNG, so a re-rendered
image makes the next start create a new menu (LINE cannot replace one).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from messages.menu import MENU_ITEMS  # noqa: E402
from messages.texts import say  # noqa: E402

W, H = 2500, 843
COLORS = ("#2e7d32", "#1565c0", "#ef6c00", "#6d4c41")
SUBTITLES = {
    "ja": (
        "答えを見る・直す",
        "いま申し込める補助・助成",
        "お知らせを止める・戻す",
        "すべての答えを消す",
    ),
    "ja-easy": (
        "こたえた ことを たしかめる",
        "いま もうしこめる おかねの たすけ",
        "しばらく とめる ことも できます",
        "こたえを ぜんぶ けす",
    ),
    "en": (
        "See or correct your answers",
        "Support you can apply for now",
        "Stop or restart notices",
        "Erase all your answers",
    ),
    "vi": (
        "Xem hoặc sửa câu trả lời",
        "Hỗ trợ có thể nộp đơn ngay",
        "Dừng hoặc nhận lại thông báo",
        "Xóa mọi câu trả lời",
    ),
}
CJK_BOLD = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 0)
CJK = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0)
LATIN_BOLD = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0)
LATIN = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0)


def font(spec, size: int, text: str, width: int) -> ImageFont.FreeTypeFont:
    """The font at `size`, smaller if `text` would not fit in `width` pixels."""
    while True:
        face = ImageFont.truetype(spec[0], size, index=spec[1])
        if face.getlength(text) <= width or size <= 30:
            return face
        size -= 4


def render(lang: str) -> Path:
    japanese = lang.startswith("ja")
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    cw, ch = W // 2, H // 2
    for i, ((_, key), sub, color) in enumerate(
        zip(MENU_ITEMS, SUBTITLES[lang], COLORS, strict=True)
    ):
        label = say(key, lang)
        x, y = (i % 2) * cw, (i // 2) * ch
        d.rectangle([x + 8, y + 8, x + cw - 8, y + (H - ch if i >= 2 else ch) - 8], fill=color)
        cx = x + cw // 2
        bold = font(CJK_BOLD if japanese else LATIN_BOLD, 104, label, cw - 120)
        small = font(CJK if japanese else LATIN, 60, sub, cw - 120)
        d.text((cx, y + ch // 2 - 45), label, font=bold, fill="white", anchor="mm")
        d.text((cx, y + ch // 2 + 85), sub, font=small, fill="#ffffffdd", anchor="mm")
    img = img.quantize(colors=64)
    name = "richmenu.png" if lang == "ja" else f"richmenu-{lang}.png"
    out = REPO / "bot" / "static" / name
    img.save(str(out), optimize=True)
    return out


if __name__ == "__main__":
    for lang in sys.argv[1:] or ("ja-easy", "en", "vi"):
        print(render(lang))
