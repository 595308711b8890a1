// LRU cache of image-pair encodings, bounded in bytes. A request whose pair
// (by content hash of both images' pixels and the preprocessing options) was
// encoded before skips the encoder and only decodes its new prompt: the
// interactive "change the mask, see the fusion" loop.
//
// Thread-safety: every method may be called from any thread (one mutex).
// Ownership: entries are shared; a value handed out stays valid after its
// eviction.
// It counts its own hits, misses and evictions (exported by
// Metrics::WatchEncodeCache).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "model/api/fusion_engine.h"

namespace ctrlfuse::server {

struct CacheKey {
  uint64_t hi = 0, lo = 0;  // 128-bit content hash
  bool operator==(const CacheKey& o) const { return hi == o.hi && lo == o.lo; }
};
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const { return size_t(k.hi ^ (k.lo * 0x9E3779B97F4A7C15ULL)); }
};

// Incremental 128-bit hash (two independent FNV-1a-64 lanes): collisions
// would serve another pair's fusion, so 64 bits alone felt thin.
class ContentHasher {
 public:
  void Add(const void* data, size_t n);
  void Add(const std::string& s) { Add(s.data(), s.size()); }
  template <typename T>
  void AddValue(const T& v) {
    Add(&v, sizeof v);
  }
  CacheKey Finish() const { return {a_, b_}; }

 private:
  uint64_t a_ = 0xcbf29ce484222325ULL, b_ = 0x84222325cbf29ce4ULL;
};

class EncodeCache {
 public:
  explicit EncodeCache(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const api::EncodedPair> Get(const CacheKey& key);
  // Inserts (or refreshes) and evicts least-recently-used entries until the
  // total fits. An entry larger than the whole capacity is not kept.
  void Put(const CacheKey& key, std::shared_ptr<const api::EncodedPair> value);

  struct Stats {
    int64_t bytes = 0;
    size_t entries = 0;
    uint64_t hits = 0, misses = 0, evictions = 0;
  };
  Stats stats() const;  // one consistent snapshot

  int64_t bytes() const { return stats().bytes; }
  size_t entries() const { return stats().entries; }
  uint64_t hits() const { return stats().hits; }
  uint64_t misses() const { return stats().misses; }
  uint64_t evictions() const { return stats().evictions; }

 private:
  using Entry = std::pair<CacheKey, std::shared_ptr<const api::EncodedPair>>;
  const int64_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  std::unordered_map<CacheKey, std::list<Entry>::iterator, CacheKeyHash> index_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0, misses_ ABSL_GUARDED_BY(mu_) = 0, evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ctrlfuse::server
