// The encode cache's LRU policy, bounded in bytes.
#include <gtest/gtest.h>

#include "server/encode_cache.h"

namespace ctrlfuse::server {
namespace {

// Test double: an encoding of a given size (the real one needs the model;
// the policy only looks at bytes()).
class FakeEncodedPair : public api::EncodedPair {
 public:
  explicit FakeEncodedPair(int64_t bytes) : bytes_(bytes) {}
  int width() const override { return 1; }
  int height() const override { return 1; }
  int64_t bytes() const override { return bytes_; }

 private:
  int64_t bytes_;
};

CacheKey Key(int i) {
  ContentHasher h;
  h.AddValue(i);
  return h.Finish();
}

TEST(EncodeCacheTest, EvictsLeastRecentlyUsedToStayWithinBytes) {
  EncodeCache cache(100);
  cache.Put(Key(1), std::make_shared<FakeEncodedPair>(40));
  cache.Put(Key(2), std::make_shared<FakeEncodedPair>(40));
  ASSERT_NE(cache.Get(Key(1)), nullptr);  // 1 is now most recent
  cache.Put(Key(3), std::make_shared<FakeEncodedPair>(40));
  EXPECT_EQ(cache.Get(Key(2)), nullptr);  // evicted
  EXPECT_NE(cache.Get(Key(1)), nullptr);
  EXPECT_NE(cache.Get(Key(3)), nullptr);
  EXPECT_EQ(cache.bytes(), 80);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(EncodeCacheTest, OversizedEntryIsNotKeptAndReplacingUpdatesBytes) {
  EncodeCache cache(100);
  cache.Put(Key(1), std::make_shared<FakeEncodedPair>(150));
  EXPECT_EQ(cache.entries(), 0u);
  cache.Put(Key(1), std::make_shared<FakeEncodedPair>(30));
  cache.Put(Key(1), std::make_shared<FakeEncodedPair>(50));
  EXPECT_EQ(cache.bytes(), 50);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(EncodeCacheTest, HashSeparatesContentAndOrder) {
  ContentHasher a, b, c;
  a.Add(std::string("ab"));
  b.Add(std::string("ba"));
  c.Add(std::string("ab"));
  EXPECT_FALSE(a.Finish() == b.Finish());
  EXPECT_TRUE(a.Finish() == c.Finish());
}

}  // namespace
}  // namespace ctrlfuse::server
