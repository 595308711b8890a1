// The generated Unicode tables (unicode_tables.cc, written by
// tools/gen_unicode_tables.py from Python's unicodedata). Read only through
// unicode.h; immutable, so safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ctrlfuse::model::grounding::unicode::tables {

// A run starts at `first` and holds `value` up to the next run's first.
struct CodeRun {
  char32_t first;
  uint8_t value;
};
struct LowerEntry {
  char32_t code, lower1, lower2;  // lower2 == 0: one code point
};
struct DecompositionEntry {
  char32_t code;
  uint16_t offset, length;  // into kDecompositionChars
};

extern const CodeRun kClassRuns[];
extern const size_t kClassRunsSize;
extern const CodeRun kSigmaRuns[];  // 0 neither, 1 cased, 2 case-ignorable
extern const size_t kSigmaRunsSize;
extern const LowerEntry kLower[];
extern const size_t kLowerSize;
extern const DecompositionEntry kDecomposition[];
extern const size_t kDecompositionSize;
extern const char32_t kDecompositionChars[];
extern const size_t kDecompositionCharsSize;
extern const CodeRun kCombiningClass[];  // exact code points, not runs
extern const size_t kCombiningClassSize;
extern const char32_t kPythonSpace[];
extern const size_t kPythonSpaceSize;

}  // namespace ctrlfuse::model::grounding::unicode::tables
