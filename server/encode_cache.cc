#include "server/encode_cache.h"

namespace ctrlfuse::server {

void ContentHasher::Add(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    a_ = (a_ ^ p[i]) * 0x100000001b3ULL;
    b_ = (b_ ^ p[i]) * 0x100000001b3ULL + 0x9E3779B97F4A7C15ULL;  // second lane, other orbit
  }
}

std::shared_ptr<const api::EncodedPair> EncodeCache::Get(const CacheKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void EncodeCache::Put(const CacheKey& key, std::shared_ptr<const api::EncodedPair> value) {
  const int64_t size = value->bytes();
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->second->bytes();
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (size > capacity_) return;
  lru_.emplace_front(key, std::move(value));
  index_[key] = lru_.begin();
  bytes_ += size;
  while (bytes_ > capacity_) {
    auto& last = lru_.back();
    bytes_ -= last.second->bytes();
    index_.erase(last.first);
    lru_.pop_back();
    ++evictions_;
  }
}

EncodeCache::Stats EncodeCache::stats() const {
  absl::MutexLock l(&mu_);
  return {bytes_, lru_.size(), hits_, misses_, evictions_};
}

}  // namespace ctrlfuse::server
