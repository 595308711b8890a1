// Loading GroundingDINO weights: the official groundingdino_swint_ogc.pth
// (a dict whose `model` entry is the state_dict, possibly under `module.`)
// or a bare state_dict. Throws std::runtime_error naming the missing,
// unexpected and mis-shaped keys (LoadStateDict), as for CtrlFuse.
#pragma once

#include <string>

#include "model/checkpoint/checkpoint.h"
#include "model/grounding/grounding_dino.h"

namespace ctrlfuse::model::grounding {

// The official state_dict made ours: a leading `module.` stripped;
// `label_enc.weight` (training-only denoising embeddings) and
// `bert.embeddings.position_ids` (a buffer newer transformers no longer
// save) dropped; the shared box MLP's 12 names (`bbox_embed.{0..5}.*`,
// `transformer.decoder.bbox_embed.{0..5}.*`) folded into `bbox_embed.0.*`
// after checking they hold the same values (one module in the release).
NamedTensors NormalizeGroundingStateDict(const NamedTensors& entries, int decoder_layers, const std::string& what);

// Normalise, then load strictly.
void LoadGroundingDino(GroundingDinoImpl& model, const NamedTensors& entries, const std::string& what);
void LoadOfficialGroundingDino(GroundingDinoImpl& model, const std::string& path);

}  // namespace ctrlfuse::model::grounding
