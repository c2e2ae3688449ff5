#include "server/unwrap_cache.h"

#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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

TEST(UnwrapCacheTest, APutOfAnUnwrapStartedBeforeADropOfItsKeyIsIgnored) {
  UnwrapCache cache(10, absl::Seconds(30));
  cache.Put("e1", "", EntryOf("dek", "v1"), kT0, "k1");
  cache.Put("e2", "", EntryOf("dek", "v1"), kT0, "k2");
  EXPECT_EQ(cache.DropKey("k1", kT0 + absl::Seconds(10)), 1u);
  EXPECT_FALSE(cache.Get("e1", "", kT0 + absl::Seconds(11)).has_value());
  EXPECT_TRUE(cache.Get("e2", "", kT0 + absl::Seconds(11)).has_value());
  // Unwraps of k1 that started before the drop, or at it, finish after it.
  cache.Put("e1", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(9), "k1");
  cache.Put("e3", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(10), "k1");
  EXPECT_FALSE(cache.Get("e1", "", kT0 + absl::Seconds(12)).has_value());
  EXPECT_FALSE(cache.Get("e3", "", kT0 + absl::Seconds(12)).has_value());
  // One that started after is cached, and other keys are not concerned.
  cache.Put("e4", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(11), "k1");
  cache.Put("e5", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(9), "k2");
  EXPECT_TRUE(cache.Get("e4", "", kT0 + absl::Seconds(12)).has_value());
  EXPECT_TRUE(cache.Get("e5", "", kT0 + absl::Seconds(12)).has_value());
  EXPECT_EQ(cache.dropped_keys(), 1u);
}

TEST(UnwrapCacheTest, DropsAreForgottenAfterTheDropMemoryYetOlderUnwrapsStayIgnored) {
  UnwrapCache cache(10, absl::Seconds(30), /*drop_memory=*/absl::Seconds(60),
                    /*max_dropped_keys=*/100);
  cache.DropKey("k1", kT0 + absl::Seconds(10));
  cache.DropKey("k2", kT0 + absl::Seconds(40));
  EXPECT_EQ(cache.dropped_keys(), 2u);
  cache.Get("any", "", kT0 + absl::Seconds(71));  // k1's drop is 61 s old
  EXPECT_EQ(cache.dropped_keys(), 1u);
  cache.Get("any", "", kT0 + absl::Seconds(101));
  EXPECT_EQ(cache.dropped_keys(), 0u);
  // Slow unwraps that started before a forgotten drop of their key still
  // cannot Put ...
  cache.Put("slow-1", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(5), "k1");
  cache.Put("slow-2", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(40), "k2");
  EXPECT_EQ(cache.size(), 0u);
  // ... nor any that started before the latest drop forgotten (the cost of
  // forgetting: not cached) ...
  cache.Put("slow-3", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(39), "never-dropped");
  EXPECT_EQ(cache.size(), 0u);
  // ... and those that started after it are cached.
  cache.Put("later", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(41), "k1");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(UnwrapCacheTest, RemembersAtMostMaxDroppedKeysAndTheGuaranteeHoldsForEveryDrop) {
  UnwrapCache cache(100, absl::Seconds(30), absl::Minutes(10), /*max_dropped_keys=*/3);
  for (int i = 0; i < 10; ++i) cache.DropKey(absl::StrCat("k", i), kT0 + absl::Seconds(i));
  EXPECT_EQ(cache.dropped_keys(), 3u);
  // An unwrap of each key that started at its drop: k0..k6 are forgotten
  // (the latest at kT0 + 6 s), k7..k9 remembered.
  for (int i = 0; i < 10; ++i) {
    cache.Put(absl::StrCat("e", i), "", EntryOf("dek", "v1"), kT0 + absl::Seconds(i),
              absl::StrCat("k", i));
  }
  EXPECT_EQ(cache.size(), 0u);
  // After every drop: cached. After the forgotten ones, of a key not
  // remembered: cached too.
  cache.Put("after", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(10), "k0");
  cache.Put("other", "", EntryOf("dek", "v1"), kT0 + absl::Seconds(7), "k3");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(UnwrapCacheTest, AKeyDroppedOverAndOverKeepsTheBound) {
  UnwrapCache cache(100, absl::Seconds(30), absl::Minutes(10), /*max_dropped_keys=*/4);
  cache.DropKey("steady", kT0);
  for (int i = 1; i <= 1000; ++i) cache.DropKey("flapping", kT0 + absl::Milliseconds(i));
  EXPECT_EQ(cache.dropped_keys(), 1u);  // "steady" went for the flapping key's records
  cache.Put("s0", "", EntryOf("dek", "v1"), kT0, "steady");
  cache.Put("f0", "", EntryOf("dek", "v1"), kT0 + absl::Milliseconds(1000), "flapping");
  EXPECT_EQ(cache.size(), 0u);
  cache.Put("s1", "", EntryOf("dek", "v1"), kT0 + absl::Milliseconds(1), "steady");
  cache.Put("f1", "", EntryOf("dek", "v1"), kT0 + absl::Milliseconds(1001), "flapping");
  EXPECT_EQ(cache.size(), 2u);
}

// Against a model that remembers every drop: no Put of an unwrap that
// started at or before its key's latest drop is ever cached, whatever the
// drop memory and the bound forget; and most others are.
TEST(UnwrapCacheTest, NoUnwrapStartedBeforeADropOfItsKeyIsEverCached) {
  std::mt19937 random(7);
  UnwrapCache cache(100000, absl::Hours(1), /*drop_memory=*/absl::Seconds(5),
                    /*max_dropped_keys=*/4);
  absl::flat_hash_map<std::string, absl::Time> last_drop;
  absl::Time now = kT0;
  int eligible = 0, cached = 0;
  for (int step = 0; step < 20000; ++step) {
    now += absl::Milliseconds(random() % 100);
    const std::string key = absl::StrCat("k", random() % 8);
    if (random() % 8 == 0) {
      cache.DropKey(key, now);
      last_drop[key] = now;
      continue;
    }
    // Most unwraps take under a second; one in ten up to 20 s, longer than
    // the drop memory.
    const absl::Time started =
        now - absl::Milliseconds(random() % 10 == 0 ? random() % 20000 : random() % 1000);
    const std::string edek = absl::StrCat("e", step);
    cache.Put(edek, "", EntryOf("dek", "v1"), started, key);
    const bool hit = cache.Get(edek, "", started).has_value();
    auto dropped = last_drop.find(key);
    if (dropped != last_drop.end() && started <= dropped->second) {
      ASSERT_FALSE(hit) << "step " << step << ": an unwrap begun before the drop was cached";
    } else {
      ++eligible;
      cached += hit ? 1 : 0;
    }
    ASSERT_LE(cache.dropped_keys(), 4u);
  }
  EXPECT_GT(cached, eligible * 9 / 10) << cached << " of " << eligible;
}

}  // namespace
}  // namespace keybroker::server
