"""Render bot/static/richmenu.png once (Pillow is not a project dependency).

    python3 -m venv /tmp/pil && /tmp/pil/bin/pip install pillow
    /tmp/pil/bin/python scripts/render_richmenu.py

Font: Debian's fonts-noto-cjk. bot/line/richmenu.py names the menu after a hash of the PNG,
so a re-rendered image makes the next start create a new menu (LINE cannot replace one).
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H = 2500, 843
CELLS = [
    ("登録内容の確認・変更", "答えを見る・直す", "#2e7d32"),
    ("使える制度を見る", "いま申し込める補助・助成", "#1565c0"),
    ("配信の停止・再開", "お知らせを止める・戻す", "#ef6c00"),
    ("登録情報の削除", "すべての答えを消す", "#6d4c41"),
]
img = Image.new("RGB", (W, H), "white")
d = ImageDraw.Draw(img)
bold = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 104, index=0)
small = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 60, index=0)
cw, ch = W // 2, H // 2
for i, (label, sub, color) in enumerate(CELLS):
    x, y = (i % 2) * cw, (i // 2) * ch
    d.rectangle([x + 8, y + 8, x + cw - 8, y + (H - ch if i >= 2 else ch) - 8], fill=color)
    cx = x + cw // 2
    d.text((cx, y + ch // 2 - 45), label, font=bold, fill="white", anchor="mm")
    d.text((cx, y + ch // 2 + 85), sub, font=small, fill="#ffffffdd", anchor="mm")
img = img.quantize(colors=64)
out = Path(__file__).resolve().parent.parent / "bot" / "static" / "richmenu.png"
img.save(str(out), optimize=True)
