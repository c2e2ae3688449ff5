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

constexpr char kVersion[] = "0123456789abcdef0123456789abcdef";

// A key URI on a made-up vault, and the name EDEKs under its key carry.
std::string Uri(const std::string& name) {
  return absl::StrCat("https://kv.vault.azure.net/keys/", name);
}
std::string EdekName(const std::string& name) { return absl::StrCat("kv.vault.azure.net/", name); }

TEST_F(KeyVersionInventoryTest, ARuntimeKeyIsOneKeyByUriAndByEdekNameButNotInTheSnapshot) {
  KeyVersionInventory inventory(*registry_, /*max_runtime_keys=*/3);
  inventory.RecordForAlias("https://KV.vault.azure.net/keys/Tenant-A", "v1", 100);
  inventory.RecordForEdek(crypto::EdekKms::kAzure, EdekName("tenant-a"), "v2", 105);
  inventory.RecordForAlias(absl::StrCat(Uri("tenant-a"), "/", kVersion), "v1", 101);
  // As BrokerCore records: the key a URI resolved to.
  inventory.RecordForKey(BoundKey{.alias = KeyRegistry::KeyUriName(Uri("Tenant-A")),
                                  .edek_key_name = KeyRegistry::KeyUriEdekName(Uri("Tenant-A"))},
                         "v3", 99);
  inventory.RecordForKey(BoundKey{.alias = "a"}, "1", 7);
  EXPECT_THAT(inventory.UsesOf("a"), ElementsAre(Use("1", 7)));
  EXPECT_THAT(inventory.UsesOf(Uri("tenant-a")),
              ElementsAre(Use("v2", 105), Use("v1", 101), Use("v3", 99)));
  EXPECT_THAT(inventory.UsesOf(absl::StrCat(Uri("TENANT-A"), "/", kVersion)),
              ElementsAre(Use("v2", 105), Use("v1", 101), Use("v3", 99)));
  EXPECT_EQ(inventory.runtime_keys(), 1u);
  // Not in the gauge's snapshot: its labels never carry a URI.
  std::vector<KeyVersionInventory::KeyUses> snapshot = inventory.Snapshot();
  ASSERT_THAT(snapshot, SizeIs(2));
  EXPECT_EQ(snapshot[0].alias, "a");
  EXPECT_EQ(snapshot[1].alias, "b");
  // Malformed URIs, other keys, and local EDEKs of unbound keys are nothing.
  inventory.RecordForAlias("https://kv.vault.azure.net/secrets/x", "v1", 1);
  inventory.RecordForAlias("not-an-alias", "v1", 1);
  inventory.RecordForEdek(crypto::EdekKms::kLocal, "not-bound", "1", 1);
  EXPECT_THAT(inventory.UsesOf("https://kv.vault.azure.net/secrets/x"), IsEmpty());
  EXPECT_THAT(inventory.UsesOf(Uri("tenant-b")), IsEmpty());
  EXPECT_EQ(inventory.runtime_keys(), 1u);
}

TEST_F(KeyVersionInventoryTest, NoRuntimeKeysWithoutABound) {
  inventory_->KeyAdded(Uri("tenant-a"), EdekName("tenant-a"));
  inventory_->RecordForAlias(Uri("tenant-a"), "v1", 100);
  inventory_->RecordForEdek(crypto::EdekKms::kAzure, EdekName("tenant-a"), "v1", 100);
  EXPECT_THAT(inventory_->UsesOf(Uri("tenant-a")), IsEmpty());
  EXPECT_EQ(inventory_->runtime_keys(), 0u);
}

TEST_F(KeyVersionInventoryTest, HoldsAtMostMaxRuntimeKeysDroppingTheLeastRecentlyUsed) {
  KeyVersionInventory inventory(*registry_, /*max_runtime_keys=*/3);
  inventory.RecordForAlias(Uri("k1"), "v1", 10);
  inventory.RecordForAlias(Uri("k2"), "v1", 20);
  inventory.RecordForAlias(Uri("k3"), "v1", 30);
  inventory.RecordForAlias(Uri("k1"), "v2", 40);  // k2 is now the least recently used
  inventory.RecordForAlias(Uri("k4"), "v1", 50);
  EXPECT_EQ(inventory.runtime_keys(), 3u);
  EXPECT_THAT(inventory.UsesOf(Uri("k2")), IsEmpty());
  EXPECT_THAT(inventory.UsesOf(Uri("k1")), ElementsAre(Use("v2", 40), Use("v1", 10)));
  EXPECT_THAT(inventory.UsesOf(Uri("k3")), ElementsAre(Use("v1", 30)));
  EXPECT_THAT(inventory.UsesOf(Uri("k4")), ElementsAre(Use("v1", 50)));
  // A dropped key comes back on its next use, with only that use.
  inventory.RecordForAlias(Uri("k2"), "v1", 60);
  EXPECT_THAT(inventory.UsesOf(Uri("k2")), ElementsAre(Use("v1", 60)));
  EXPECT_THAT(inventory.UsesOf(Uri("k3")), IsEmpty());
  // Many more keys still keep the bound, and configured keys are never dropped.
  inventory.RecordForAlias("a", "1", 1);
  for (int k = 0; k < 200; ++k) {
    inventory.RecordForAlias(Uri(absl::StrCat("many-", k)), "v", 100 + k);
  }
  EXPECT_EQ(inventory.runtime_keys(), 3u);
  EXPECT_THAT(inventory.UsesOf(Uri("many-199")), ElementsAre(Use("v", 299)));
  EXPECT_THAT(inventory.UsesOf(Uri("many-196")), IsEmpty());
  EXPECT_THAT(inventory.UsesOf("a"), ElementsAre(Use("1", 1)));
}

TEST_F(KeyVersionInventoryTest, ARuntimeKeyGoesWhenTheKmsDropsEveryBindingOfIt) {
  KeyVersionInventory inventory(*registry_, /*max_runtime_keys=*/3);
  const std::string pinned = absl::StrCat(Uri("k1"), "/", kVersion);
  inventory.KeyAdded(Uri("k1"), EdekName("k1"));
  inventory.KeyAdded(pinned, EdekName("k1"));  // a URI pinning a version: a binding of its own
  inventory.KeyAdded(Uri("k2"), EdekName("k2"));
  inventory.RecordForAlias(Uri("k1"), "v1", 10);
  inventory.RecordForAlias(Uri("k2"), "v1", 10);
  EXPECT_EQ(inventory.runtime_keys(), 2u);
  inventory.KeyRemoved(pinned);  // the unversioned binding still names it
  EXPECT_THAT(inventory.UsesOf(Uri("k1")), ElementsAre(Use("v1", 10)));
  inventory.KeyRemoved(Uri("k1"));
  EXPECT_THAT(inventory.UsesOf(Uri("k1")), IsEmpty());
  EXPECT_EQ(inventory.runtime_keys(), 1u);
  inventory.KeyRemoved(Uri("k1"));  // told twice, or of a key never added: nothing
  inventory.KeyRemoved(Uri("never"));
  EXPECT_THAT(inventory.UsesOf(Uri("k2")), ElementsAre(Use("v1", 10)));
  // Added again, and dropped again: the count of bindings starts over.
  inventory.KeyAdded(Uri("k1"), EdekName("k1"));
  inventory.RecordForEdek(crypto::EdekKms::kAzure, EdekName("k1"), "v2", 20);
  EXPECT_THAT(inventory.UsesOf(Uri("k1")), ElementsAre(Use("v2", 20)));
  inventory.KeyRemoved(Uri("k1"));
  EXPECT_THAT(inventory.UsesOf(Uri("k1")), IsEmpty());
  EXPECT_EQ(inventory.runtime_keys(), 1u);
}

TEST_F(KeyVersionInventoryTest, ConcurrentRuntimeKeysKeepTheBound) {
  KeyVersionInventory inventory(*registry_, /*max_runtime_keys=*/4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&inventory, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string name = absl::StrCat("k", (i + t) % 7);
        inventory.RecordForAlias(Uri(name), absl::StrCat("v", i % 3), i);
        inventory.RecordForEdek(crypto::EdekKms::kAzure, EdekName(name), "v0", i);
      }
    });
  }
  // The KMS adding and dropping keys meanwhile.
  threads.emplace_back([&inventory] {
    for (int i = 0; i < 2000; ++i) {
      const std::string name = absl::StrCat("k", i % 7);
      inventory.KeyAdded(Uri(name), EdekName(name));
      inventory.KeyRemoved(Uri(name));
    }
  });
  std::thread reader([&inventory] {
    for (int i = 0; i < 200; ++i) {
      EXPECT_LE(inventory.runtime_keys(), 4u);
      EXPECT_LE(inventory.UsesOf(Uri(absl::StrCat("k", i % 7))).size(), 3u);
    }
  });
  for (std::thread& thread : threads) thread.join();
  reader.join();
  EXPECT_LE(inventory.runtime_keys(), 4u);
  EXPECT_THAT(inventory.Snapshot(), SizeIs(2));
}

}  // namespace
}  // namespace keybroker::server
