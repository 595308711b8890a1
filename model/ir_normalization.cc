#include "model/ir_normalization.h"

#include <cstdio>

namespace ctrlfuse::model {

bool ParseIrNormalization(const std::string& text, IrNormalization* out) {
  IrNormalization n;
  if (text == "linear") {
    n.mode = IrNormalization::Mode::kLinear;
  } else if (text == "minmax") {
    n.mode = IrNormalization::Mode::kMinMax;
  } else if (text != "percentile") {
    double lo = 0, hi = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "percentile:%lf,%lf%c", &lo, &hi, &tail) != 2) return false;
    if (!(lo >= 0 && lo < hi && hi <= 100)) return false;
    n.low_percentile = lo;
    n.high_percentile = hi;
  }
  *out = n;
  return true;
}

}  // namespace ctrlfuse::model
