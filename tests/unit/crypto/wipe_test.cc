#include "crypto/wipe.h"

#include <string>

#include "gtest/gtest.h"

namespace keybroker::crypto {
namespace {

// clear() keeps the buffer, so the bytes can be looked at after the wipe.
bool AllZero(const char* bytes, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

TEST(WipeTest, WipeStringZeroesTheBytesAndEmptiesTheString) {
  std::string secret(64, 'k');  // past the small-string buffer
  const char* bytes = secret.data();
  WipeString(&secret);
  EXPECT_TRUE(secret.empty());
  EXPECT_TRUE(AllZero(bytes, 64));

  std::string empty;
  WipeString(&empty);
  EXPECT_TRUE(empty.empty());
}

TEST(WipeTest, ScopedWipeWipesWhenTheScopeEnds) {
  std::string secret(64, 'k');
  const char* bytes = secret.data();
  {
    ScopedWipe wipe(&secret);
    EXPECT_EQ(secret, std::string(64, 'k'));
  }
  EXPECT_TRUE(secret.empty());
  EXPECT_TRUE(AllZero(bytes, 64));
}

}  // namespace
}  // namespace keybroker::crypto
