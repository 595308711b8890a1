// The Unicode operations the BERT tokenizer and the official caption
// preparation perform, without ICU: UTF-8 decoding, the tokenizer's
// character classes, Python's str.lower() and str.isspace(), and canonical
// decomposition (NFD). The facts come from generated tables
// (unicode_tables.cc) so they agree with the Python the official code runs.
// Torch-free; pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace ctrlfuse::model::grounding::unicode {

// How the `tokenizers` BertNormalizer/BertPreTokenizer see a code point.
enum class BertClass : unsigned char {
  kOther,
  kRemoved,         // control, format, unassigned, private use; U+0000, U+FFFD
  kWhitespace,      // \t \n \r and the space separators (Zs, Zl, Zp)
  kPunctuation,     // ASCII punctuation (incl. $ + < = > ^ ` | ~) or category P*
  kNonspacingMark,  // Mn: what accent stripping removes
};
BertClass Classify(char32_t c);

// The CJK ideograph blocks BERT surrounds with spaces.
bool IsCjkIdeograph(char32_t c);

// Python's str.isspace() (what str.strip() removes).
bool IsPythonSpace(char32_t c);

// Python's str.lower() on a whole string: full per-code-point lower case
// (U+0130 becomes "i\u0307") plus the Final_Sigma rule.
std::u32string PythonLower(std::u32string_view s);

// Context-free lower case of one code point, appended (what Rust's
// char::to_lowercase does in the tokenizer's normaliser).
void AppendLower(char32_t c, std::u32string& out);

// Canonical decomposition with canonical ordering (NFD).
std::u32string Nfd(std::u32string_view s);

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
// Returns false on malformed input; `out` is then unspecified.
bool DecodeUtf8(std::string_view bytes, std::u32string& out);
std::string EncodeUtf8(std::u32string_view s);

}  // namespace ctrlfuse::model::grounding::unicode
