#include "common/file_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fresh directory per test, removed afterwards.
class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  static void WritePlain(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }

  static int ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<int>(st.st_mode & 07777);
  }

  // Names in `dir_`, without "." and "..".
  std::vector<std::string> DirectoryEntries() const {
    std::vector<std::string> names;
    DIR* dir = ::opendir(dir_.c_str());
    if (dir == nullptr) return names;
    while (struct dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    return names;
  }

  keybroker::testing::TempDir temp_;
  std::string dir_;
};

TEST_F(FileUtilTest, WriteFileAtomicallyCreatesFileWithContents) {
  std::string path = Path("keyring.json");
  ASSERT_OK(WriteFileAtomically(path, "{\"keys\":[]}", 0600));
  EXPECT_EQ(Slurp(path), "{\"keys\":[]}");
}

TEST_F(FileUtilTest, WriteFileAtomicallyReplacesLongerContents) {
  std::string path = Path("keyring.json");
  ASSERT_OK(WriteFileAtomically(path, std::string(4096, 'x'), 0600));
  ASSERT_OK(WriteFileAtomically(path, "short", 0600));
  EXPECT_EQ(Slurp(path), "short");
}

TEST_F(FileUtilTest, WriteFileAtomicallyKeepsBinaryData) {
  std::string path = Path("blob");
  std::string data("\0\x01\xff\n\0", 5);
  ASSERT_OK(WriteFileAtomically(path, data, 0600));
  EXPECT_EQ(Slurp(path), data);
}

TEST_F(FileUtilTest, WriteFileAtomicallySetsMode0600) {
  std::string path = Path("secret");
  ASSERT_OK(WriteFileAtomically(path, "data", 0600));
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST_F(FileUtilTest, WriteFileAtomicallyGivesTheNewModeWhenReplacingAWiderFile) {
  std::string path = Path("secret");
  WritePlain(path, "old");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_OK(WriteFileAtomically(path, "new", 0600));
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(Slurp(path), "new");
}

TEST_F(FileUtilTest, WriteFileAtomicallyLeavesNoTemporaryFiles) {
  std::string path = Path("keyring.json");
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(WriteFileAtomically(path, std::string(100 * i, 'a'), 0600));
  }
  EXPECT_THAT(DirectoryEntries(), ElementsAre("keyring.json"));
}

TEST_F(FileUtilTest, WriteFileAtomicallyFailsInAMissingDirectoryAndLeavesNothing) {
  EXPECT_THAT(WriteFileAtomically(Path("missing/keyring.json"), "data", 0600),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(DirectoryEntries(), IsEmpty());
}

TEST_F(FileUtilTest, CreateFileAtomicallyWritesANewFileWithItsMode) {
  std::string path = Path("master-key");
  ASSERT_OK(CreateFileAtomically(path, "secret\n", 0600));
  EXPECT_EQ(Slurp(path), "secret\n");
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_THAT(DirectoryEntries(), ElementsAre("master-key"));
}

TEST_F(FileUtilTest, CreateFileAtomicallyNeverReplacesAFileAndLeavesNoTemporary) {
  std::string path = Path("master-key");
  WritePlain(path, "old");
  EXPECT_THAT(CreateFileAtomically(path, "new", 0600),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_THAT(DirectoryEntries(), ElementsAre("master-key"));
}

TEST_F(FileUtilTest, ReadFileIntoReadsWholeFileAndReplacesOutput) {
  std::string path = Path("data");
  WritePlain(path, "hello\nworld");
  std::string out = "previous contents that are longer";
  ASSERT_OK(ReadFileInto(path, 1024, &out));
  EXPECT_EQ(out, "hello\nworld");
}

TEST_F(FileUtilTest, ReadFileIntoReadsAnEmptyFile) {
  std::string path = Path("empty");
  WritePlain(path, "");
  std::string out = "stale";
  ASSERT_OK(ReadFileInto(path, 0, &out));
  EXPECT_EQ(out, "");
}

TEST_F(FileUtilTest, ReadFileIntoAcceptsExactlyMaxSize) {
  std::string path = Path("data");
  WritePlain(path, std::string(100, 'z'));
  std::string out;
  ASSERT_OK(ReadFileInto(path, 100, &out));
  EXPECT_EQ(out, std::string(100, 'z'));
}

TEST_F(FileUtilTest, ReadFileIntoRejectsOneByteOverMaxSize) {
  std::string path = Path("data");
  WritePlain(path, std::string(101, 'z'));
  std::string out;
  EXPECT_THAT(ReadFileInto(path, 100, &out), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(FileUtilTest, ReadFileIntoReportsMissingFileAsNotFound) {
  std::string out;
  EXPECT_THAT(ReadFileInto(Path("nope"), 100, &out), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FileUtilTest, FileExistsIsTrueForFilesAndDirectories) {
  WritePlain(Path("file"), "x");
  EXPECT_TRUE(FileExists(Path("file")));
  EXPECT_TRUE(FileExists(dir_));
  EXPECT_FALSE(FileExists(Path("nope")));
}

TEST_F(FileUtilTest, MakeDirectoriesCreatesMissingParentsWithMode) {
  std::string nested = Path("a/b/c");
  ASSERT_OK(MakeDirectories(nested, 0700));
  struct stat st;
  ASSERT_EQ(::stat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ModeOf(Path("a")), 0700);
}

TEST_F(FileUtilTest, MakeDirectoriesIsOkWhenTheDirectoryExists) {
  ASSERT_OK(MakeDirectories(Path("a"), 0700));
  EXPECT_OK(MakeDirectories(Path("a"), 0700));
  EXPECT_OK(MakeDirectories(dir_, 0700));
}

}  // namespace
}  // namespace keybroker
