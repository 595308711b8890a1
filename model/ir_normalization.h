// How a 16-bit infrared frame becomes [0,1] (torch-free, so the server can
// validate requests without LibTorch's headers). Thermal cameras deliver
// 16-bit counts whose useful range is a narrow band of the 65536 levels, so
// the default stretches each frame between two percentiles (robust to a few
// hot or dead pixels). 8-bit input is always divided by 255.
#pragma once

#include <string>

namespace ctrlfuse::model {

struct IrNormalization {
  enum class Mode { kPercentile, kMinMax, kLinear };
  Mode mode = Mode::kPercentile;
  double low_percentile = 0.5;    // percent
  double high_percentile = 99.5;  // percent
};

// "percentile" (0.5/99.5), "percentile:LO,HI", "minmax", "linear".
bool ParseIrNormalization(const std::string& text, IrNormalization* out);

}  // namespace ctrlfuse::model
