"""Printed text lines as an OCR pipeline's text-direction classifier sees them, for
bench:models' 'text' inputs.

    python text-lines.py JOB.json RESULT.json

JOB.json: {"count": N, "seed": S, "height": H, "width": W}. Each line is 3 to 8 consecutive
words of the GPL-3 text that every Debian system has (/usr/share/common-licenses, package
base-files), printed with Pillow in one of the six DejaVu faces of Debian's
fonts-dejavu-core at 18-36 px, dark ink of a random colour on a light ground, a few pixels of
margin; every second line turned 180 degrees. Then as the rapidocr classifier's own
preprocessing does it: resized to height H keeping the aspect ratio (at most W wide), on a
W-wide line whose rest is the value its normalisation maps to 0 (mid-grey, 128).
RESULT.json: {"images": [[H*W*3 bytes, H,W,C order], ...], "labels": [0 upright | 1 turned],
"texts": [...]}.
"""
import json
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TEXT = "/usr/share/common-licenses/GPL-3"
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"]
PAD_VALUE = 128


def colour(rng, lo, hi):
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def printed(text, rng):
    font = ImageFont.truetype(f"{FONT_DIR}/{FONTS[int(rng.integers(len(FONTS)))]}", int(rng.integers(18, 37)))
    left, top, right, bottom = font.getbbox(text)
    margin = int(rng.integers(2, 8))
    img = Image.new("RGB", (right - left + 2 * margin, bottom - top + 2 * margin), colour(rng, 200, 256))
    ImageDraw.Draw(img).text((margin - left, margin - top), text, font=font, fill=colour(rng, 0, 70))
    return img


def on_line(img, height, width):
    w = min(width, int(np.ceil(height * img.width / img.height)))
    out = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    out[:, :w] = np.asarray(img.resize((w, height), Image.BILINEAR))
    return out


def main():
    job = json.load(open(sys.argv[1]))
    rng = np.random.default_rng(job["seed"])
    words = open(TEXT).read().split()
    images, labels, texts = [], [], []
    for k in range(job["count"]):
        n = int(rng.integers(3, 9))
        start = int(rng.integers(0, len(words) - n))
        text = " ".join(words[start:start + n])
        img = printed(text, rng)
        turned = k % 2
        if turned:
            img = img.rotate(180)
        images.append(on_line(img, job["height"], job["width"]).flatten().tolist())
        labels.append(turned)
        texts.append(text)
    json.dump({"images": images, "labels": labels, "texts": texts}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
