#include "server/unwrap_cache.h"

#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

UnwrapCache::Entry EntryOf(absl::string_view dek, absl::string_view version) {
  return UnwrapCache::Entry{crypto::SecretBytes::CopyFrom(dek), std::string(version)};
}

TEST(UnwrapCacheTest, HitsUntilTheTtlThenMisses) {
  UnwrapCache cache(10, absl::Seconds(30));
  cache.Put("edek", "ctx", EntryOf("dek-bytes", "v1"), kT0);
  std::optional<UnwrapCache::Entry> hit = cache.Get("edek", "ctx", kT0 + absl::Seconds(29));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->dek.RevealAsStringView(), "dek-bytes");
  EXPECT_EQ(hit->key_version, "v1");
  EXPECT_FALSE(cache.Get("edek", "ctx", kT0 + absl::Seconds(30)).has_value());
}

TEST(UnwrapCacheTest, ContextIsPartOfTheKey) {
  UnwrapCache cache(10, absl::Seconds(30));
  cache.Put("edek", "ctx-a", EntryOf("dek", "v1"), kT0);
  EXPECT_FALSE(cache.Get("edek", "ctx-b", kT0).has_value());
  // The same bytes split differently between EDEK and context do not collide.
  cache.Put("ab", "c", EntryOf("one", "v1"), kT0);
  EXPECT_FALSE(cache.Get("a", "bc", kT0).has_value());
}

TEST(UnwrapCacheTest, EvictsTheOldestBeyondTheBound) {
  UnwrapCache cache(3, absl::Seconds(30));
  for (int i = 0; i < 5; ++i) {
    cache.Put("edek" + std::to_string(i), "", EntryOf("dek", "v1"), kT0 + absl::Seconds(i));
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Get("edek0", "", kT0 + absl::Seconds(5)).has_value());
  EXPECT_FALSE(cache.Get("edek1", "", kT0 + absl::Seconds(5)).has_value());
  EXPECT_TRUE(cache.Get("edek4", "", kT0 + absl::Seconds(5)).has_value());
}

TEST(UnwrapCacheTest, ExpiredEntriesAreDroppedOnPut) {
  UnwrapCache cache(100, absl::Seconds(1));
  cache.Put("a", "", EntryOf("dek", "v1"), kT0);
  cache.Put("b", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(5));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(UnwrapCacheTest, ZeroEntriesDisablesCaching) {
  UnwrapCache cache(0, absl::Seconds(30));
  cache.Put("a", "", EntryOf("dek", "v1"), kT0);
  EXPECT_FALSE(cache.Get("a", "", kT0).has_value());
}

}  // namespace
}  // namespace keybroker::server
