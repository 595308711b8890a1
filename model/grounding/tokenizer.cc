#include "model/grounding/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <utility>

#include "model/grounding/unicode.h"

namespace ctrlfuse::model::grounding {
namespace {

using unicode::BertClass;

// BertNormalizer (clean_text, handle_chinese_chars, strip_accents and
// lowercase all on, as for an uncased vocabulary), in its order.
std::u32string Normalize(const std::u32string& text) {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (char32_t c : text) {
    const BertClass k = unicode::Classify(c);
    if (k == BertClass::kRemoved) continue;
    if (k == BertClass::kWhitespace) {
      cleaned.push_back(U' ');
    } else if (unicode::IsCjkIdeograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::u32string out;
  out.reserve(cleaned.size());
  for (char32_t c : unicode::Nfd(cleaned)) {
    if (unicode::Classify(c) != BertClass::kNonspacingMark) unicode::AppendLower(c, out);
  }
  return out;
}

// BertPreTokenizer: split on whitespace, every punctuation mark on its own.
std::vector<std::u32string> PreTokenize(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : text) {
    const BertClass k = unicode::Classify(c);
    if (k == BertClass::kWhitespace) {
      flush();
    } else if (k == BertClass::kPunctuation) {
      flush();
      words.emplace_back(1, c);
    } else {
      word.push_back(c);
    }
  }
  flush();
  return words;
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

}  // namespace

std::optional<WordPieceVocabulary> WordPieceVocabulary::FromTokens(std::vector<std::string> tokens,
                                                                   std::string* error) {
  WordPieceVocabulary v;
  v.tokens_ = std::move(tokens);
  for (size_t i = 0; i < v.tokens_.size(); ++i) v.ids_[v.tokens_[i]] = static_cast<int>(i);  // last one wins
  const std::pair<const char*, int*> specials[] = {{"[PAD]", &v.pad_id}, {"[UNK]", &v.unk_id}, {"[CLS]", &v.cls_id},
                                                   {"[SEP]", &v.sep_id}, {".", &v.period_id},  {"?", &v.question_id}};
  for (const auto& [token, id] : specials) {
    *id = v.Id(token);
    if (*id < 0) {
      *error = std::string("the vocabulary has no \"") + token + "\" token (a BERT uncased vocab.txt has)";
      return std::nullopt;
    }
  }
  return v;
}

std::optional<WordPieceVocabulary> WordPieceVocabulary::Load(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read the vocabulary file " + path;
    return std::nullopt;
  }
  std::vector<std::string> tokens;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    tokens.push_back(std::move(line));
  }
  auto v = FromTokens(std::move(tokens), error);
  if (!v) *error = path + ": " + *error;
  return v;
}

int WordPieceVocabulary::Id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

BertTokenizer::BertTokenizer(std::shared_ptr<const WordPieceVocabulary> vocab) : vocab_(std::move(vocab)) {}

void BertTokenizer::AppendWordPieces(const std::u32string& word, std::vector<int>& ids) const {
  if (word.size() > static_cast<size_t>(kMaxCharsPerWord)) {
    ids.push_back(vocab_->unk_id);
    return;
  }
  // Greedy longest match from the left; one unmatched rest makes the whole
  // word [UNK].
  std::vector<int> pieces;
  for (size_t start = 0; start < word.size();) {
    int found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      const std::string piece =
          (start > 0 ? "##" : "") + unicode::EncodeUtf8(std::u32string_view(word).substr(start, end - start));
      found = vocab_->Id(piece);
      if (found >= 0) break;
    }
    if (found < 0) {
      ids.push_back(vocab_->unk_id);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

std::optional<std::vector<int>> BertTokenizer::Encode(std::string_view text, std::string* error) const {
  std::u32string chars;
  if (!unicode::DecodeUtf8(text, chars)) {
    *error = "is not valid UTF-8";
    return std::nullopt;
  }
  std::vector<int> ids{vocab_->cls_id};
  for (const std::u32string& word : PreTokenize(Normalize(chars))) AppendWordPieces(word, ids);
  ids.push_back(vocab_->sep_id);
  return ids;
}

std::string BertTokenizer::Decode(const std::vector<int>& ids) const {
  // The WordPiece decoder: "##" pieces glued on, others after a space, each
  // piece cleaned (" ." -> "."), as `tokenizers` does...
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = vocab_->Token(ids[i]);
    if (i > 0) piece = piece.rfind("##", 0) == 0 ? piece.substr(2) : " " + piece;
    for (const char* p : {" .", " ?", " !", " ,"}) ReplaceAll(piece, p, std::string_view(p + 1));
    text += piece;
  }
  // ...then transformers' clean_up_tokenization on the whole string.
  static constexpr std::pair<std::string_view, std::string_view> kCleanup[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kCleanup) ReplaceAll(text, from, to);
  return text;
}

std::optional<std::string> PrepareCaption(std::string_view raw, std::string* error) {
  if (raw.size() > kMaxCaptionBytes) {
    *error = "is " + std::to_string(raw.size()) + " bytes; the limit is " + std::to_string(kMaxCaptionBytes);
    return std::nullopt;
  }
  std::u32string chars;
  if (!unicode::DecodeUtf8(raw, chars)) {
    *error = "is not valid UTF-8";
    return std::nullopt;
  }
  std::u32string lower = unicode::PythonLower(chars);
  size_t first = 0, last = lower.size();
  while (first < last && unicode::IsPythonSpace(lower[first])) ++first;
  while (last > first && unicode::IsPythonSpace(lower[last - 1])) --last;
  if (first == last) {
    *error = "is empty";
    return std::nullopt;
  }
  lower = lower.substr(first, last - first);
  if (lower.back() != U'.') lower.push_back(U'.');
  return unicode::EncodeUtf8(lower);
}

std::optional<TokenizedCaption> TokenizeCaption(const BertTokenizer& tokenizer, std::string_view raw_caption,
                                                std::string* error, int max_text_len) {
  std::optional<std::string> caption = PrepareCaption(raw_caption, error);
  if (!caption) return std::nullopt;
  std::optional<std::vector<int>> ids = tokenizer.Encode(*caption, error);
  if (!ids) return std::nullopt;
  const WordPieceVocabulary& v = tokenizer.vocabulary();
  auto special = [&](int id) { return id == v.cls_id || id == v.sep_id || id == v.period_id || id == v.question_id; };
  bool has_word = false;
  for (int id : *ids) has_word = has_word || !special(id);
  if (!has_word) {
    *error = "holds no word (\"" + *caption + "\")";
    return std::nullopt;
  }

  // The block mask and position ids of generate_masks_with_special_tokens:
  // the identity, then one block per run that ends at a special token, from
  // the previous special token + 1 through it; the first and the last token
  // only attend to themselves. Built on the whole sequence, then truncated.
  const int n = static_cast<int>(ids->size());
  const int kept = std::min(n, max_text_len);
  TokenizedCaption out;
  out.caption = std::move(*caption);
  out.truncated = n > max_text_len;
  out.input_ids.assign(ids->begin(), ids->begin() + kept);
  out.position_ids.assign(static_cast<size_t>(kept), 0);
  out.block_mask.assign(static_cast<size_t>(kept) * kept, 0);
  for (int i = 0; i < kept; ++i) out.block_mask[static_cast<size_t>(i) * kept + i] = 1;
  int previous = 0;
  for (int col = 0; col < n; ++col) {
    if (!special((*ids)[col])) continue;
    if (col != 0 && col != n - 1) {
      for (int r = previous + 1; r <= col && r < kept; ++r) {
        out.position_ids[r] = r - previous - 1;
        for (int c = previous + 1; c <= col && c < kept; ++c) out.block_mask[static_cast<size_t>(r) * kept + c] = 1;
      }
    }
    previous = col;
  }
  return out;
}

std::string PhraseFromPositions(const BertTokenizer& tokenizer, const TokenizedCaption& caption,
                                const std::vector<int>& positions) {
  const WordPieceVocabulary& v = tokenizer.vocabulary();
  std::vector<int> ids;
  for (int p : positions) {
    if (p < 0 || p >= caption.length()) continue;
    const int id = static_cast<int>(caption.input_ids[p]);
    if (id != v.cls_id && id != v.sep_id && id != v.pad_id) ids.push_back(id);
  }
  std::string phrase = tokenizer.Decode(ids);
  phrase.erase(std::remove(phrase.begin(), phrase.end(), '.'), phrase.end());
  return phrase;
}

}  // namespace ctrlfuse::model::grounding
