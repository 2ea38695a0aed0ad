"""Crops of real photographs, as a camera classifier sees them, for bench:models' 'photos'
inputs.

    python photo-crops.py JOB.json RESULT.json

JOB.json: {"dir": directory, "files": [name, ...], "count": N, "seed": S, "height": H,
"width": W, "channels": 1 | 3}. The photographs are scikit-image's sample images (setup-models
copies them from its wheel: people, a cat, a horse, a rocket, motorcycles, coffee, coins,
the moon, textures, a page of text...). Each input is a square-ish crop of one photograph
(10-100% of its shorter side, aspect 3:4 to 4:3, anywhere in it, mirrored half the time),
resized to W x H with Pillow's bilinear filter, in the model's channels (grey photographs
repeated over RGB; RGB to grey by Pillow's "L" conversion). RESULT.json: {"images": [[H*W*C
bytes, H,W,C order], ...], "sources": ["chelsea.png", ...]}.
"""
import json
import sys

import numpy as np
from PIL import Image


def crop(img, rng):
    side = min(img.width, img.height) * rng.uniform(0.1, 1.0)
    aspect = rng.uniform(0.75, 4 / 3)
    w = max(1, min(img.width, int(side * np.sqrt(aspect))))
    h = max(1, min(img.height, int(side / np.sqrt(aspect))))
    x = int(rng.integers(0, img.width - w + 1))
    y = int(rng.integers(0, img.height - h + 1))
    out = img.crop((x, y, x + w, y + h))
    return out.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else out


def main():
    job = json.load(open(sys.argv[1]))
    rng = np.random.default_rng(job["seed"])
    mode = "L" if job["channels"] == 1 else "RGB"
    photos = [(name, Image.open(f"{job['dir']}/{name}").convert(mode)) for name in job["files"]]
    images, sources = [], []
    for k in range(job["count"]):
        name, img = photos[k % len(photos)] if k < len(photos) else photos[int(rng.integers(len(photos)))]
        pixels = np.asarray(crop(img, rng).resize((job["width"], job["height"]), Image.BILINEAR), dtype=np.uint8)
        images.append(pixels.reshape(job["height"], job["width"], job["channels"]).flatten().tolist())
        sources.append(name)
    json.dump({"images": images, "sources": sources}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
