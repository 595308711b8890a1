// GroundingDINO's sine embeddings (official position_encoding.py and
// utils.py): of image positions (per level, from the padding mask), of the
// text's restarting position ids, and of decoder reference boxes.
// Pure functions; thread-safe.
#pragma once

#include <torch/torch.h>

namespace ctrlfuse::model::grounding {

// PositionEmbeddingSineHW, normalised: padding [B,h,w] bool (true = padded)
// -> [B, 2*feats, h, w], (y, x) concatenated, sin/cos interleaved.
torch::Tensor ImageSinePositions(const torch::Tensor& padding, int feats, double temperature);

// get_sine_pos_embed(ids[..., None], feats, exchange_xy=False): position
// ids [B,n] (int64, used as float, no normalisation, temperature 10000)
// -> [B, n, feats].
torch::Tensor TextSinePositions(const torch::Tensor& position_ids, int feats);

// gen_sineembed_for_position: boxes [..., 4] (cx, cy, w, h in [0,1]) ->
// [..., 4 * feats] ordered (y, x, w, h), temperature 10000, scale 2*pi.
torch::Tensor BoxSineEmbedding(const torch::Tensor& boxes, int feats);

}  // namespace ctrlfuse::model::grounding
