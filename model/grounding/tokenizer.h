// GroundingDINO's text side before the network: BERT's uncased WordPiece
// tokenizer (as the `tokenizers` BertNormalizer + BertPreTokenizer +
// WordPiece that the official code loads for bert-base-uncased), the
// official caption preparation, the sub-sentence block mask and restarting
// position ids (bertwarper.py), truncation at 256 tokens, and phrase
// decoding (get_phrases_from_posmap). Torch-free, so the server can validate
// a caption before it queues.
//
// Thread-safety: a WordPieceVocabulary and a BertTokenizer are immutable
// after construction; share them (const) across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ctrlfuse::model::grounding {

// A `vocab.txt`: one token per line, the id is the line's index.
class WordPieceVocabulary {
 public:
  // nullopt (and *error) when the file cannot be read or lacks one of
  // [PAD] [UNK] [CLS] [SEP] "." "?".
  static std::optional<WordPieceVocabulary> Load(const std::string& path, std::string* error);
  static std::optional<WordPieceVocabulary> FromTokens(std::vector<std::string> tokens, std::string* error);

  int Id(std::string_view token) const;  // -1 when absent
  const std::string& Token(int id) const { return tokens_.at(static_cast<size_t>(id)); }
  int size() const { return static_cast<int>(tokens_.size()); }

  int pad_id = -1, unk_id = -1, cls_id = -1, sep_id = -1, period_id = -1, question_id = -1;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> ids_;
};

class BertTokenizer {
 public:
  static constexpr int kMaxCharsPerWord = 100;  // longer words become [UNK]

  explicit BertTokenizer(std::shared_ptr<const WordPieceVocabulary> vocab);

  // [CLS] wordpieces [SEP], no truncation (as tokenizer(text) in Python).
  // The text is UTF-8; nullopt (and *error) when it is not.
  std::optional<std::vector<int>> Encode(std::string_view text, std::string* error) const;

  // tokenizer.decode(ids): pieces joined by the WordPiece decoder ("##"
  // merged), then clean_up_tokenization_spaces (" ." -> "." and the like).
  std::string Decode(const std::vector<int>& ids) const;

  const WordPieceVocabulary& vocabulary() const { return *vocab_; }

 private:
  void AppendWordPieces(const std::u32string& word, std::vector<int>& ids) const;

  std::shared_ptr<const WordPieceVocabulary> vocab_;
};

// The official preprocess_caption: lower-cased (Python's str.lower()),
// stripped, "." appended unless it ends with one. nullopt (and *error) for
// invalid UTF-8, an empty caption, or one over kMaxCaptionBytes.
inline constexpr size_t kMaxCaptionBytes = 16384;
std::optional<std::string> PrepareCaption(std::string_view raw, std::string* error);

// One caption as GroundingDINO's text encoder takes it (batch of one: the
// official predict path; a batch pads with PadTokenizedCaptions).
struct TokenizedCaption {
  std::string caption;                // as prepared
  std::vector<int64_t> input_ids;     // n <= max_text_len
  std::vector<int64_t> position_ids;  // restart at 0 in every phrase
  std::vector<uint8_t> block_mask;    // n x n, row-major; 1 = may attend
  bool truncated = false;             // the caption had more than max_text_len tokens
  int64_t length() const { return static_cast<int64_t>(input_ids.size()); }
};

inline constexpr int kMaxTextLen = 256;
// Prepares, tokenizes, builds the block mask and position ids on the whole
// sequence (as the official code does) and then truncates. nullopt (and
// *error) as PrepareCaption, or when the caption holds no word (only "." ...).
std::optional<TokenizedCaption> TokenizeCaption(const BertTokenizer& tokenizer, std::string_view raw_caption,
                                                std::string* error, int max_text_len = kMaxTextLen);

// The phrase of one detection: the caption's tokens at `positions` (those
// whose probability passed text_threshold), [CLS]/[SEP]/[PAD] excluded,
// decoded, every "." removed (official predict path).
std::string PhraseFromPositions(const BertTokenizer& tokenizer, const TokenizedCaption& caption,
                                const std::vector<int>& positions);

}  // namespace ctrlfuse::model::grounding
