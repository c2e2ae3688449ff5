#include "common/file_stamp.h"

#include <stdio.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker {
namespace {

using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;

TEST(FileStampTest, SameFileSameStamp) {
  TempDir dir;
  const std::string path = dir.File("f");
  EXPECT_FALSE(StampOf(path).exists);
  EXPECT_EQ(StampOf(path), FileStamp());
  WriteAll(path, "one");
  FileStamp stamp = StampOf(path);
  EXPECT_TRUE(stamp.exists);
  EXPECT_EQ(stamp.size, 3);
  EXPECT_EQ(StampOf(path), stamp);
}

TEST(FileStampTest, AReplacedOrRewrittenFileHasAnotherStamp) {
  TempDir dir;
  const std::string path = dir.File("f");
  WriteAll(path, "one");
  FileStamp first = StampOf(path);

  WriteAll(dir.File("g"), "two");  // same size, another inode
  ASSERT_EQ(::rename(dir.File("g").c_str(), path.c_str()), 0);
  FileStamp replaced = StampOf(path);
  EXPECT_NE(replaced, first);

  WriteAll(path, "three");  // in place, another size
  EXPECT_NE(StampOf(path), replaced);

  const std::string link = dir.File("link");  // links are followed
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_EQ(StampOf(link), StampOf(path));
}

}  // namespace
}  // namespace keybroker
