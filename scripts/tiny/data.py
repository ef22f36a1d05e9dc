"""Synthetic world of the `tiny` model: flat-colour shapes on plain backgrounds, 64x64 RGB.

Everything is generated on the fly from a numpy Generator, so a fixed seed reproduces the data.
Also holds the caption grammar, the word list the tokenizer is built from, a Python tokenizer
that reproduces what Pictor's CLIP tokenizer feeds the text encoder, and the colour / shape
classifier used by the evaluation.
"""

import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
from clip_vocab import _apply_bpe, bytes_to_unicode, write_tokenizer  # noqa: E402

SIZE = 64
MAX_LEN = 77

# Fixed, clearly distinct colours (RGB 0-255).
PALETTE = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 230),
    "yellow": (245, 215, 30),
    "purple": (140, 50, 190),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLORS = list(PALETTE)
PALETTE_ARR = np.array([PALETTE[c] for c in COLORS], dtype=np.float32)
SHAPES = ["circle", "square", "triangle"]
R_MIN, R_MAX = 10, 24  # half-extent of the shape's bounding box, pixels
SMALL_MAX, LARGE_MIN = 15, 19  # r <= 15 is "small", r >= 19 is "large"
MARGIN = 4

# Words that never change the image; captions made only of them count as "no prompt", so they
# behave like the empty prompt when used as a negative prompt.
FILLER = ["blurry", "sharp", "simple", "flat", "clean", "high", "low", "quality", "ugly", "bad",
          "detailed", "noisy", "distorted", "deformed", "lowres", "best", "worst", "jpeg",
          "artifacts", "text", "watermark", "image", "picture", "photo", "drawing", "shape", "plain"]
GRAMMAR = ["a", "an", "the", "on", "with", "of", "in", "and", "background", "small", "large", "big",
           "tiny", "colored", "coloured"]
WORDS = COLORS + SHAPES + GRAMMAR + FILLER


# ---------------------------------------------------------------------------------- rendering

def sample_attrs(rng, n):
    """Random scene attributes: fg, bg (colour indices, fg != bg), shape, r, cx, cy."""
    fg = rng.integers(0, len(COLORS), n)
    bg = (fg + rng.integers(1, len(COLORS), n)) % len(COLORS)
    shape = rng.integers(0, len(SHAPES), n)
    r = rng.integers(R_MIN, R_MAX + 1, n)
    lo = r + MARGIN
    hi = SIZE - r - MARGIN
    cx = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    cy = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return {"fg": fg, "bg": bg, "shape": shape, "r": r, "cx": cx, "cy": cy}


def render(attrs):
    """uint8 images [n, 64, 64, 3]. Shapes are centred at (cx, cy) with half-extent r."""
    n = len(attrs["fg"])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    cx = attrs["cx"].astype(np.float32)[:, None, None]
    cy = attrs["cy"].astype(np.float32)[:, None, None]
    r = attrs["r"].astype(np.float32)[:, None, None]
    dx, dy = xx[None] - cx, yy[None] - cy
    circle = dx * dx + dy * dy <= r * r
    square = (np.abs(dx) <= r) & (np.abs(dy) <= r)
    # upright isosceles triangle: apex (cx, cy-r), base from (cx-r, cy+r) to (cx+r, cy+r)
    t = (dy + r) / (2 * r)  # 0 at apex, 1 at base
    triangle = (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r)
    s = attrs["shape"][:, None, None]
    mask = np.where(s == 0, circle, np.where(s == 1, square, triangle))
    fg = PALETTE_ARR[attrs["fg"]][:, None, None, :]
    bg = PALETTE_ARR[attrs["bg"]][:, None, None, :]
    img = np.where(mask[..., None], fg, bg)
    return img.astype(np.uint8)


def to_tensor_range(img_u8):
    """uint8 [n,H,W,3] -> float32 [n,3,H,W] in [-1, 1]."""
    return (img_u8.astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2).copy()


# ----------------------------------------------------------------------------------- captions

def _size_word(rng, r):
    if r <= SMALL_MAX and rng.random() < 0.5:
        return rng.choice(["small ", "small ", "tiny "])
    if r >= LARGE_MIN and rng.random() < 0.5:
        return rng.choice(["large ", "large ", "big "])
    return ""


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def caption(rng, fg, bg, shape, r):
    """One random caption for the scene. Returns (text, kind, (fg, bg, shape)) where the last holds
    what the caption states (-1 where it says nothing)."""
    f, b, s = COLORS[fg], COLORS[bg], SHAPES[shape]
    u = rng.random()
    if u < 0.70:  # fully specified
        sz = _size_word(rng, r)
        obj = f"{sz}{f} {s}"
        k = rng.integers(0, 7)
        text = [
            f"{_article(obj)} {obj} on {_article(b)} {b} background",
            f"{b} background with {_article(obj)} {obj}",
            f"{obj} on {b} background",
            f"{_article(obj)} {obj} on {b}",
            f"{obj} on {_article(b)} {b} background",
            f"{_article(b)} {b} background with {_article(obj)} {obj}",
            f"{_article(obj)} {obj} with {_article(b)} {b} background",
        ][k]
        return text, "full", (fg, bg, shape)
    if u < 0.86:  # background unspecified
        sz = _size_word(rng, r)
        obj = f"{sz}{f} {s}"
        text = [f"{_article(obj)} {obj}", obj, f"{_article(obj)} {obj}"][rng.integers(0, 3)]
        return text, "nobg", (fg, -1, shape)
    if u < 0.90:  # shape only
        k = rng.integers(0, 3)
        return [f"a {s}", s, f"a {s} on {_article(b)} {b} background"][k], "partial", (-1, bg if k == 2 else -1, shape)
    if u < 0.94:  # colour only
        k = rng.integers(0, 3)
        return ([f"{_article(f)} {f} shape", f, f"{_article(f)} {f} shape on {_article(b)} {b} background"][k],
                "partial", (fg, bg if k == 2 else -1, -1))
    if u < 0.97:  # background only
        return [f"{b} background", f"{_article(b)} {b} background"][rng.integers(0, 2)], "partial", (-1, bg, -1)
    # fully specified plus ignorable quality words
    extra = " ".join(rng.choice(FILLER, rng.integers(1, 3)))
    return f"{_article(f)} {f} {s} on {_article(b)} {b} background, {extra}", "full", (fg, bg, shape)


def filler_caption(rng):
    return ", ".join(rng.choice(FILLER, rng.integers(1, 4)))


# ---------------------------------------------------------------------------------- tokenizer

_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.UNICODE)


class Tokenizer:
    """CLIP tokenization with our vocab: lowercase, split, byte-level BPE, BOS + ids + EOS, pad EOS."""

    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.json")) as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt")) as f:
            lines = f.read().split("\n")[1:]
        self.ranks = {tuple(l.split(" ")): i for i, l in enumerate(lines) if l}
        self.byte_encoder = bytes_to_unicode()
        self.bos = self.vocab["<|startoftext|>"]
        self.eos = self.vocab["<|endoftext|>"]
        self.cache = {}

    def word_ids(self, word):
        if word not in self.cache:
            chars = [self.byte_encoder[b] for b in word.encode("utf-8")]
            symbols = chars[:-1] + [chars[-1] + "</w>"]
            self.cache[word] = [self.vocab[t] for t in _apply_bpe(symbols, self.ranks)]
        return self.cache[word]

    def encode(self, text):
        text = re.sub(r"\s+", " ", text).strip().lower()
        body = []
        for w in _SPLIT.findall(text):
            body += self.word_ids(w)
        ids = [self.bos] + body[: MAX_LEN - 2] + [self.eos]
        return ids + [self.eos] * (MAX_LEN - len(ids))

    def batch(self, texts):
        return np.array([self.encode(t) for t in texts], dtype=np.int64)


def build_tokenizer(folder):
    write_tokenizer(folder, WORDS)
    return Tokenizer(folder)


# ---------------------------------------------------------------------------------- classifier

def classify(img_u8):
    """Classifies one uint8 [64,64,3] image -> (fg colour, bg colour, shape, fill ratio)."""
    img = img_u8.astype(np.float32)
    h, w, _ = img.shape
    k = 4
    corners = np.concatenate([img[:k, :k].reshape(-1, 3), img[:k, -k:].reshape(-1, 3),
                              img[-k:, :k].reshape(-1, 3), img[-k:, -k:].reshape(-1, 3)])
    bg_rgb = np.median(corners, axis=0)
    bg = int(np.argmin(((PALETTE_ARR - bg_rgb) ** 2).sum(-1)))
    d = ((img[:, :, None, :] - PALETTE_ARR[None, None]) ** 2).sum(-1)  # [h,w,8]
    label = d.argmin(-1)
    far = np.sqrt(((img - PALETTE_ARR[bg]) ** 2).sum(-1)) > 60
    cand = label[far & (label != bg)]
    if cand.size < 20:
        return None, COLORS[bg], None, 0.0
    fg = int(np.bincount(cand, minlength=len(COLORS)).argmax())
    mask = far & (label == fg)
    rows = np.where(mask.sum(1) >= 2)[0]
    cols = np.where(mask.sum(0) >= 2)[0]
    if rows.size == 0 or cols.size == 0:
        return COLORS[fg], COLORS[bg], None, 0.0
    y0, y1, x0, x1 = rows[0], rows[-1], cols[0], cols[-1]
    area = (y1 - y0 + 1) * (x1 - x0 + 1)
    fill = float(mask[y0 : y1 + 1, x0 : x1 + 1].sum()) / area
    shape = "square" if fill > 0.9 else ("circle" if fill > 0.64 else "triangle")
    return COLORS[fg], COLORS[bg], shape, fill
