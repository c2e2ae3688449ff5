#include "client_sdk/src/decrypt_cache.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "gtest/gtest.h"

namespace keybroker::sdk::internal {
namespace {

using crypto::SecretBytes;

const absl::Time kStart = absl::FromUnixSeconds(1000);

std::shared_ptr<const KeyedDek> Dek(char fill) {
  return std::make_shared<const KeyedDek>(SecretBytes::CopyFrom(std::string(32, fill)));
}

// Caches a DEK of `fill` bytes for `edek` and returns a weak pointer to it,
// which expires when nothing holds the DEK any more (it is then wiped).
std::weak_ptr<const KeyedDek> PutWatched(DecryptCache& cache, absl::string_view edek, char fill,
                                         absl::Time now) {
  std::shared_ptr<const KeyedDek> dek = Dek(fill);
  std::weak_ptr<const KeyedDek> watched = dek;
  cache.Put(edek, std::move(dek), now, cache.drops());
  return watched;
}

TEST(DecryptCacheTest, ReturnsWhatWasPutUntilTheTtl) {
  DecryptCache cache(10, absl::Seconds(30));
  EXPECT_EQ(cache.Get("edek", kStart), nullptr);
  auto dek = Dek('a');
  cache.Put("edek", dek, kStart, cache.drops());
  EXPECT_EQ(cache.Get("edek", kStart), dek);
  EXPECT_EQ(cache.Get("edek", kStart + absl::Seconds(29)), dek);
  EXPECT_EQ(cache.Get("edek", kStart + absl::Seconds(30)), nullptr);
  EXPECT_EQ(cache.Get("other", kStart), nullptr);
}

TEST(DecryptCacheTest, ExpiredDeksAreDroppedAndWiped) {
  DecryptCache cache(10, absl::Seconds(30));
  std::weak_ptr<const KeyedDek> watched = PutWatched(cache, "old", 'a', kStart);
  cache.Put("new", Dek('b'), kStart + absl::Seconds(31), cache.drops());
  EXPECT_EQ(cache.size(), 1u);
  // No other holder: the KeyedDek was destroyed, which wipes the DEK.
  EXPECT_TRUE(watched.expired());
}

TEST(DecryptCacheTest, FullCacheDropsTheOldest) {
  DecryptCache cache(2, absl::Minutes(5));
  cache.Put("one", Dek('1'), kStart, cache.drops());
  cache.Put("two", Dek('2'), kStart + absl::Seconds(1), cache.drops());
  cache.Put("three", Dek('3'), kStart + absl::Seconds(2), cache.drops());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Get("one", kStart + absl::Seconds(3)), nullptr);
  EXPECT_NE(cache.Get("two", kStart + absl::Seconds(3)), nullptr);
  EXPECT_NE(cache.Get("three", kStart + absl::Seconds(3)), nullptr);
}

TEST(DecryptCacheTest, AnEvictedDekInUseIsWipedWhenReleased) {
  DecryptCache cache(1, absl::Minutes(5));
  cache.Put("one", Dek('1'), kStart, cache.drops());
  std::shared_ptr<const KeyedDek> in_use = cache.Get("one", kStart);
  std::weak_ptr<const KeyedDek> watched = in_use;
  cache.Put("two", Dek('2'), kStart, cache.drops());
  EXPECT_EQ(cache.Get("one", kStart), nullptr);
  EXPECT_FALSE(watched.expired());  // a decryption still holds it
  in_use.reset();
  EXPECT_TRUE(watched.expired());
}

TEST(DecryptCacheTest, APutForACachedEdekKeepsTheFirst) {
  DecryptCache cache(10, absl::Minutes(5));
  auto first = Dek('a');
  cache.Put("edek", first, kStart, cache.drops());
  cache.Put("edek", Dek('b'), kStart + absl::Seconds(1), cache.drops());
  EXPECT_EQ(cache.Get("edek", kStart + absl::Seconds(2)), first);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DecryptCacheTest, ExpiredEntryBehindALiveOneIsReplaced) {
  // Puts made with slightly different clocks can queue out of order.
  DecryptCache cache(10, absl::Seconds(30));
  cache.Put("late", Dek('l'), kStart + absl::Seconds(5), cache.drops());
  cache.Put("early", Dek('e'), kStart, cache.drops());
  const absl::Time later = kStart + absl::Seconds(31);  // "early" expired, "late" not
  EXPECT_EQ(cache.Get("early", later), nullptr);
  auto renewed = Dek('r');
  cache.Put("early", renewed, later, cache.drops());
  EXPECT_EQ(cache.Get("early", later), renewed);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DecryptCacheTest, ZeroEntriesOrTtlCachesNothing) {
  DecryptCache no_entries(0, absl::Minutes(5));
  no_entries.Put("edek", Dek('a'), kStart, no_entries.drops());
  EXPECT_EQ(no_entries.Get("edek", kStart), nullptr);
  DecryptCache no_ttl(10, absl::ZeroDuration());
  no_ttl.Put("edek", Dek('a'), kStart, no_ttl.drops());
  EXPECT_EQ(no_ttl.Get("edek", kStart), nullptr);
}

// The DEK WithRecent hands to its callback, or "" when it has none.
std::string Recent(DecryptCache& cache, absl::string_view edek, absl::Time now) {
  std::string seen;
  std::optional<absl::Status> used = cache.WithRecent(edek, now, [&](const KeyedDek& dek) {
    seen = std::string(dek.bytes.RevealAsStringView());
    return absl::OkStatus();
  });
  EXPECT_EQ(used.has_value(), !seen.empty());
  return seen;
}

TEST(DecryptCacheTest, AHitBecomesTheThreadsRecentEntryUntilItExpires) {
  DecryptCache cache(10, absl::Seconds(30));
  cache.Put("edek", Dek('a'), kStart, cache.drops());
  EXPECT_EQ(Recent(cache, "edek", kStart), "");  // not through Get yet
  ASSERT_NE(cache.Get("edek", kStart), nullptr);
  EXPECT_EQ(Recent(cache, "edek", kStart + absl::Seconds(1)), std::string(32, 'a'));
  EXPECT_EQ(Recent(cache, "other", kStart + absl::Seconds(1)), "");
  EXPECT_EQ(Recent(cache, "edek", kStart + absl::Seconds(30)), "");  // the entry's TTL
}

TEST(DecryptCacheTest, WithRecentReturnsWhatTheCallbackReturns) {
  DecryptCache cache(10, absl::Seconds(30));
  cache.Put("edek", Dek('a'), kStart, cache.drops());
  ASSERT_NE(cache.Get("edek", kStart), nullptr);
  std::optional<absl::Status> used = cache.WithRecent(
      "edek", kStart, [](const KeyedDek&) { return absl::DataLossError("from the callback"); });
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->code(), absl::StatusCode::kDataLoss);
}

// An evicted DEK is neither used nor kept alive by a thread's recent entry.
TEST(DecryptCacheTest, EvictionInvalidatesAndDropsRecentEntries) {
  DecryptCache cache(1, absl::Seconds(30));
  std::weak_ptr<const KeyedDek> watched = PutWatched(cache, "old", 'a', kStart);
  ASSERT_NE(cache.Get("old", kStart), nullptr);
  std::thread other([&] {  // another thread's recent entry too
    EXPECT_NE(cache.Get("old", kStart), nullptr);
  });
  other.join();
  cache.Put("new", Dek('b'), kStart + absl::Seconds(1), cache.drops());  // evicts "old"
  EXPECT_TRUE(watched.expired());
  EXPECT_EQ(Recent(cache, "old", kStart + absl::Seconds(1)), "");
}

// As a key made inaccessible is dropped: its entries, with the threads'
// recent entries of them, and nothing else.
TEST(DecryptCacheTest, DropIfDropsTheMatchingEntriesAndRecentEntries) {
  DecryptCache cache(10, absl::Seconds(30));
  std::weak_ptr<const KeyedDek> watched = PutWatched(cache, "revoked-1", 'a', kStart);
  cache.Put("kept", Dek('k'), kStart, cache.drops());
  cache.Put("revoked-2", Dek('b'), kStart, cache.drops());
  ASSERT_NE(cache.Get("revoked-1", kStart), nullptr);  // this thread's recent entry
  std::thread other([&] { EXPECT_NE(cache.Get("revoked-1", kStart), nullptr); });
  other.join();

  EXPECT_EQ(cache.DropIf([](absl::string_view edek) { return edek.substr(0, 7) == "revoked"; }),
            2u);
  EXPECT_TRUE(watched.expired());
  EXPECT_EQ(Recent(cache, "revoked-1", kStart), "");
  EXPECT_EQ(cache.Get("revoked-1", kStart), nullptr);
  EXPECT_EQ(cache.Get("revoked-2", kStart), nullptr);
  EXPECT_NE(cache.Get("kept", kStart), nullptr);
  EXPECT_EQ(cache.size(), 1u);
  // What remains is still evicted oldest first.
  cache.Put("new", Dek('n'), kStart + absl::Seconds(31), cache.drops());
  EXPECT_EQ(cache.Get("kept", kStart + absl::Seconds(31)), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

// A DEK unwrapped while its key was being dropped would outlive the drop.
TEST(DecryptCacheTest, APutOfADekUnwrappedBeforeADropIsNotCached) {
  DecryptCache cache(10, absl::Seconds(30));
  const uint64_t before_unwrap = cache.drops();
  cache.DropIf([](absl::string_view) { return true; });
  cache.Put("edek", Dek('a'), kStart, before_unwrap);
  EXPECT_EQ(cache.Get("edek", kStart), nullptr);
  cache.Put("edek", Dek('a'), kStart, cache.drops());
  EXPECT_NE(cache.Get("edek", kStart), nullptr);
}

}  // namespace
}  // namespace keybroker::sdk::internal
