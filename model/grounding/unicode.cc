#include "model/grounding/unicode.h"

#include <algorithm>
#include <iterator>

#include "model/grounding/unicode_tables.h"

namespace ctrlfuse::model::grounding::unicode {
namespace {

namespace t = tables;

uint8_t RunValue(const t::CodeRun* runs, size_t n, char32_t c) {
  // The last run whose first <= c (runs[0].first is 0).
  const t::CodeRun* it =
      std::upper_bound(runs, runs + n, c, [](char32_t v, const t::CodeRun& r) { return v < r.first; });
  return std::prev(it)->value;
}

int CombiningClass(char32_t c) {
  const t::CodeRun* end = t::kCombiningClass + t::kCombiningClassSize;
  const t::CodeRun* it =
      std::lower_bound(t::kCombiningClass, end, c, [](const t::CodeRun& r, char32_t v) { return r.first < v; });
  return it != end && it->first == c ? it->value : 0;
}

// Hangul syllables decompose algorithmically (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kVCount = 21, kTCount = 28, kSCount = 11172;

void AppendDecomposition(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const int s = static_cast<int>(c - kSBase);
    out.push_back(kLBase + s / (kVCount * kTCount));
    out.push_back(kVBase + (s % (kVCount * kTCount)) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const t::DecompositionEntry* end = t::kDecomposition + t::kDecompositionSize;
  const t::DecompositionEntry* it = std::lower_bound(
      t::kDecomposition, end, c, [](const t::DecompositionEntry& e, char32_t v) { return e.code < v; });
  if (it != end && it->code == c) {
    out.append(t::kDecompositionChars + it->offset, it->length);
  } else {
    out.push_back(c);
  }
}

bool Cased(char32_t c) { return RunValue(t::kSigmaRuns, t::kSigmaRunsSize, c) == 1; }
bool CaseIgnorable(char32_t c) { return RunValue(t::kSigmaRuns, t::kSigmaRunsSize, c) == 2; }

}  // namespace

BertClass Classify(char32_t c) {
  if (c > 0x10FFFF) return BertClass::kRemoved;
  return static_cast<BertClass>(RunValue(t::kClassRuns, t::kClassRunsSize, c));
}

bool IsCjkIdeograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool IsPythonSpace(char32_t c) { return std::binary_search(t::kPythonSpace, t::kPythonSpace + t::kPythonSpaceSize, c); }

void AppendLower(char32_t c, std::u32string& out) {
  const t::LowerEntry* end = t::kLower + t::kLowerSize;
  const t::LowerEntry* it =
      std::lower_bound(t::kLower, end, c, [](const t::LowerEntry& e, char32_t v) { return e.code < v; });
  if (it == end || it->code != c) {
    out.push_back(c);
    return;
  }
  out.push_back(it->lower1);
  if (it->lower2) out.push_back(it->lower2);
}

std::u32string PythonLower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != U'\u03A3') {
      AppendLower(s[i], out);
      continue;
    }
    // Final_Sigma (as CPython's handle_capital_sigma): a cased letter before
    // it and none after it, case-ignorable code points skipped both ways.
    size_t j = i;
    while (j > 0 && CaseIgnorable(s[j - 1])) --j;
    bool final_sigma = j > 0 && Cased(s[j - 1]);
    size_t k = i + 1;
    while (k < s.size() && CaseIgnorable(s[k])) ++k;
    final_sigma = final_sigma && (k == s.size() || !Cased(s[k]));
    out.push_back(final_sigma ? U'\u03C2' : U'\u03C3');
  }
  return out;
}

std::u32string Nfd(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) AppendDecomposition(c, out);
  // Canonical ordering: each run of non-starters sorted by class, stably.
  for (size_t i = 0; i < out.size();) {
    if (CombiningClass(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && CombiningClass(out[j]) != 0) ++j;
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return CombiningClass(a) < CombiningClass(b); });
    i = j;
  }
  return out;
}

bool DecodeUtf8(std::string_view bytes, std::u32string& out) {
  out.clear();
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    int n = 0;
    char32_t c = 0, min = 0;
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      n = 1, c = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      n = 2, c = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      n = 3, c = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n >= bytes.size()) return false;  // truncated sequence
    for (int k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    out.push_back(c);
    i += n + 1;
  }
  return true;
}

std::string EncodeUtf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace ctrlfuse::model::grounding::unicode
