#include "server/key_version_inventory.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/registry_factory.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

MATCHER_P2(Use, version, seconds, "") {
  return arg.version == version && arg.last_used_seconds == seconds;
}

// Aliases "a" and "also-a" bind one local key, "b" another.
class KeyVersionInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = EmbeddedDefaultConfig("127.0.0.1:0", dir_.path());
    config.keys.clear();
    for (auto [alias, key] : {std::pair{"a", "key-a"}, {"also-a", "key-a"}, {"b", "key-b"}}) {
      KeyBinding binding;
      binding.alias = alias;
      binding.local_key = key;
      config.keys.push_back(binding);
    }
    absl::StatusOr<std::unique_ptr<KeyRegistry>> registry = BuildKeyRegistry(config);
    ASSERT_OK(registry);
    registry_ = *std::move(registry);
    inventory_ = std::make_unique<KeyVersionInventory>(*registry_);
  }

  TempDir dir_;
  std::unique_ptr<KeyRegistry> registry_;
  std::unique_ptr<KeyVersionInventory> inventory_;
};

TEST_F(KeyVersionInventoryTest, KeepsTheLastUseOfEachVersionMostRecentFirst) {
  inventory_->RecordForAlias("a", "1", 100);
  inventory_->RecordForAlias("a", "2", 105);
  inventory_->RecordForEdek(crypto::EdekKms::kLocal, "key-a", "1", 110);
  inventory_->RecordForAlias("a", "2", 103);  // out of order: never goes back
  EXPECT_THAT(inventory_->UsesOf("a"), ElementsAre(Use("1", 110), Use("2", 105)));
  EXPECT_THAT(inventory_->UsesOf("b"), IsEmpty());
}

TEST_F(KeyVersionInventoryTest, AliasesOfOneKeyShareItsVersions) {
  inventory_->RecordForAlias("also-a", "3", 50);
  EXPECT_THAT(inventory_->UsesOf("a"), ElementsAre(Use("3", 50)));
  std::vector<KeyVersionInventory::KeyUses> snapshot = inventory_->Snapshot();
  ASSERT_THAT(snapshot, SizeIs(2));  // two keys, named by their first alias
  EXPECT_EQ(snapshot[0].alias, "a");
  EXPECT_THAT(snapshot[0].versions, ElementsAre(Use("3", 50)));
  EXPECT_EQ(snapshot[1].alias, "b");
  EXPECT_THAT(snapshot[1].versions, IsEmpty());
}

TEST_F(KeyVersionInventoryTest, UnknownKeysAreIgnored) {
  inventory_->RecordForAlias("nope", "1", 1);
  inventory_->RecordForEdek(crypto::EdekKms::kLocal, "not-bound", "1", 1);
  inventory_->RecordForEdek(crypto::EdekKms::kAzure, "key-a", "1", 1);
  inventory_->RecordForEdek(static_cast<crypto::EdekKms>(0xff), "key-a", "1", 1);
  EXPECT_THAT(inventory_->UsesOf("nope"), IsEmpty());
  EXPECT_THAT(inventory_->UsesOf("a"), IsEmpty());
}

TEST_F(KeyVersionInventoryTest, HoldsAtMostKSlotsPerKeyEvictingTheLeastRecentlyUsed) {
  constexpr int kSlots = KeyVersionInventory::kSlotsPerKey;
  for (int v = 1; v <= kSlots; ++v) inventory_->RecordForAlias("a", absl::StrCat(v), 1000 + v);
  inventory_->RecordForAlias("a", "1", 2000);  // version 2 is now the least recently used
  inventory_->RecordForAlias("a", "new", 2001);
  std::vector<KeyVersionInventory::VersionUse> uses = inventory_->UsesOf("a");
  ASSERT_THAT(uses, SizeIs(kSlots));
  EXPECT_THAT(uses.front(), Use("new", 2001));
  EXPECT_THAT(uses[1], Use("1", 2000));
  for (const KeyVersionInventory::VersionUse& use : uses) EXPECT_NE(use.version, "2");
  // Many more versions still keep the bound, and the other key's slots.
  inventory_->RecordForAlias("b", "1", 1);
  for (int v = 100; v < 300; ++v) inventory_->RecordForAlias("a", absl::StrCat(v), 3000 + v);
  EXPECT_THAT(inventory_->UsesOf("a"), SizeIs(kSlots));
  EXPECT_THAT(inventory_->UsesOf("a").back(), Use("268", 3268));
  EXPECT_THAT(inventory_->UsesOf("b"), ElementsAre(Use("1", 1)));
}

TEST_F(KeyVersionInventoryTest, ConcurrentUsesKeepTheBoundAndTheLatestTime) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 2000; ++i) {
        inventory_->RecordForAlias("a", absl::StrCat(i % 40), 10 * i + t);
      }
    });
  }
  std::thread reader([this] {
    for (int i = 0; i < 200; ++i) EXPECT_LE(inventory_->UsesOf("a").size(), 32u);
  });
  for (std::thread& thread : threads) thread.join();
  reader.join();
  std::vector<KeyVersionInventory::VersionUse> uses = inventory_->UsesOf("a");
  EXPECT_THAT(uses, SizeIs(KeyVersionInventory::kSlotsPerKey));
  // The last round's versions (i = 1960..1999) used last, by thread 3 at the latest.
  EXPECT_EQ(uses.front().last_used_seconds, 19993);
}

}  // namespace
}  // namespace keybroker::server
