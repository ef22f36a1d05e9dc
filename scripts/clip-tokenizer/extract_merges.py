# Writes models/clip-tokenizer/merges.txt, OpenAI CLIP's byte-level BPE merges (MIT), from
# stable-diffusion.cpp's embedded copy (src/tokenizers/vocab/clip_merges.hpp, fetched with the
# `fetch` tool; never committed). CLIP uses the first 48,894 merges; vocab.json follows from them
# (Pictor derives it at load). Build-time only.
#
#   /usr/bin/python3 scripts/clip-tokenizer/extract_merges.py /path/to/clip_merges.hpp
import os, re, sys

hpp = open(sys.argv[1]).read()
body = hpp[hpp.index('{') + 1: hpp.rindex('}')]
raw = bytes(int(x, 16) for x in re.findall(r'0x([0-9a-fA-F]{2})', body)).decode('utf-8')
lines = raw.split('\n')
assert lines[0].startswith('#version'), lines[0]
merges = lines[1:49152 - 256 - 2 + 1]
assert len(merges) == 48894 and all(' ' in m for m in merges), len(merges)
out = os.path.join(os.path.dirname(__file__), '..', '..', 'models', 'clip-tokenizer', 'merges.txt')
with open(out, 'w', encoding='utf-8') as f:
    f.write('#version: 0.2\n' + '\n'.join(merges) + '\n')
print(out, len(merges), 'merges')
