"""Builds a small CLIP-format BPE tokenizer (vocab.json + merges.txt + configs).

The real CLIP vocabulary cannot be downloaded here, so our fixtures and the bundled `tiny` model
carry their own: the 256 byte symbols of GPT-2's byte-to-unicode table, the same with the `</w>`
end-of-word suffix, merges that make every listed word a single token, and the two special tokens
last, exactly the layout of openai/clip-vit-large-patch14's files. Any text still tokenizes (it
falls back to bytes); listed words are one token each.
"""

import json
import os


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode table (as in CLIP's simple_tokenizer)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _apply_bpe(symbols, ranks):
    symbols = list(symbols)
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        pairs = [p for p in pairs if p[0] is not None]
        if not pairs:
            break
        _, i = min(pairs)
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def build_vocab(words):
    byte_encoder = bytes_to_unicode()
    base = list(byte_encoder.values())
    vocab = base + [s + "</w>" for s in base]
    merges = []
    ranks = {}
    for word in sorted(set(w.lower() for w in words)):
        chars = [byte_encoder[b] for b in word.encode("utf-8")]
        symbols = chars[:-1] + [chars[-1] + "</w>"]
        # Add merges until the word is one token under rank-ordered BPE.
        while True:
            merged = _apply_bpe(symbols, ranks)
            if len(merged) == 1:
                break
            pair = (merged[0], merged[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            vocab.append(pair[0] + pair[1])
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}, merges


def write_tokenizer(folder, words, pad_token="<|endoftext|>", max_length=77):
    """Writes tokenizer/ files. pad_token is "<|endoftext|>" (SD 1.x) or "!" (SD 2.x, SDXL's second)."""
    os.makedirs(folder, exist_ok=True)
    vocab, merges = build_vocab(words)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": pad_token,
    }
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": max_length,
                "do_lower_case": True,
                **special,
            },
            f,
            indent=2,
        )
    return vocab
