#include "model/grounding/grounding_checkpoint.h"

#include <map>
#include <stdexcept>

namespace ctrlfuse::model::grounding {

NamedTensors NormalizeGroundingStateDict(const NamedTensors& entries, int decoder_layers, const std::string& what) {
  NamedTensors out;
  std::map<std::string, torch::Tensor> box;  // suffix -> bbox_embed.0's tensor
  std::vector<std::pair<std::string, torch::Tensor>> aliases;
  for (const auto& [raw, tensor] : entries) {
    const std::string key = raw.rfind("module.", 0) == 0 ? raw.substr(7) : raw;
    if (key == "label_enc.weight" || key == "bert.embeddings.position_ids") continue;
    bool aliased = false;
    for (const std::string prefix : {"bbox_embed.", "transformer.decoder.bbox_embed."}) {
      if (key.rfind(prefix, 0) != 0) continue;
      const size_t dot = key.find('.', prefix.size());
      const std::string layer = key.substr(prefix.size(), dot - prefix.size());
      const std::string suffix = key.substr(dot + 1);
      if (prefix == "bbox_embed." && layer == "0") {
        box[suffix] = tensor;
        out.emplace_back(key, tensor);
      } else {
        aliases.emplace_back(key, tensor);
      }
      aliased = true;
      break;
    }
    if (!aliased) out.emplace_back(key, tensor);
  }
  for (const auto& [key, tensor] : aliases) {
    const std::string suffix = key.substr(key.find('.', key.find("bbox_embed.") + 11) + 1);
    const auto it = box.find(suffix);
    if (it == box.end() || !it->second.sizes().equals(tensor.sizes()) || !torch::equal(it->second, tensor)) {
      throw std::runtime_error(what + ": " + key + " differs from bbox_embed.0." + suffix +
                               " (the release shares one box MLP across the decoder's " +
                               std::to_string(decoder_layers) + " layers)");
    }
  }
  return out;
}

void LoadGroundingDino(GroundingDinoImpl& model, const NamedTensors& entries, const std::string& what) {
  LoadStateDict(model, NormalizeGroundingStateDict(entries, model.config().decoder_layers, what), what);
}

void LoadOfficialGroundingDino(GroundingDinoImpl& model, const std::string& path) {
  const ckpt::PyPtr file = ckpt::ReadTorchFile(path);
  const ckpt::PyValue* dict = file.get();
  if (file->kind == ckpt::PyValue::Kind::kDict) {
    if (auto m = file->Get("model")) dict = m.get();
  }
  LoadGroundingDino(model, TensorDict(*dict, path), path);
}

}  // namespace ctrlfuse::model::grounding
