#include "model/grounding/grounding_config.h"

namespace ctrlfuse::model::grounding {

GroundingDinoConfig SwinTOgcConfig() {
  GroundingDinoConfig c;
  c.name = "swint_ogc";
  return c;
}

GroundingDinoConfig GroundingTinyConfig() {
  GroundingDinoConfig c;
  c.name = "tiny";
  c.bert.hidden = 64;
  c.bert.layers = 2;
  c.bert.heads = 4;
  c.bert.intermediate = 128;
  c.swin.embed_dim = 16;
  c.swin.depths = {2, 2, 2, 2};
  c.swin.heads = {1, 2, 4, 4};
  // The transformer keeps the release's width: the release embeds the text
  // positions with 256 features whatever the width.
  c.ffn = 512;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.points = 2;
  c.queries = 50;
  return c;
}

bool GroundingConfigByName(const std::string& name, GroundingDinoConfig* out) {
  if (name == "swint_ogc") {
    *out = SwinTOgcConfig();
  } else if (name == "tiny") {
    *out = GroundingTinyConfig();
  } else {
    return false;
  }
  return true;
}

}  // namespace ctrlfuse::model::grounding
