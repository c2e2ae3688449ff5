#include "common/log.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace keybroker::log {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// Captures every line written; restores the defaults afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLevel(Level::kInfo);
    SetSinkForTesting([this](const std::string& line) { lines_.push_back(line); });
  }
  void TearDown() override {
    SetSinkForTesting(nullptr);
    SetLevel(Level::kInfo);
  }

  static std::vector<std::string> KeysOf(const nlohmann::ordered_json& object) {
    std::vector<std::string> keys;
    for (const auto& item : object.items()) keys.push_back(item.key());
    return keys;
  }

  // The JSON object of captured line `i`.
  nlohmann::ordered_json Line(size_t i) const {
    return nlohmann::ordered_json::parse(lines_.at(i));
  }

  std::vector<std::string> lines_;
};

TEST_F(LogTest, WritesOneJsonLineWithTsLevelEventFirstThenFieldsInOrder) {
  Info("key_rotated", {{"alias", "payments"}, {"version", 4}, {"forced", true}});

  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_THAT(lines_[0], EndsWith("}\n"));
  EXPECT_EQ(lines_[0].find('\n'), lines_[0].size() - 1);
  nlohmann::ordered_json line = Line(0);
  EXPECT_THAT(KeysOf(line), ElementsAre("ts", "level", "event", "alias", "version", "forced"));
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["event"], "key_rotated");
  EXPECT_EQ(line["alias"], "payments");
  EXPECT_EQ(line["version"], 4);
  EXPECT_EQ(line["forced"], true);
}

TEST_F(LogTest, TimestampIsRfc3339UtcWithMilliseconds) {
  Info("tick");
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_THAT(Line(0)["ts"].get<std::string>(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

TEST_F(LogTest, EventWithoutFieldsHasOnlyTheThreeStandardKeys) {
  Warn("kms_slow");
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_THAT(KeysOf(Line(0)), ElementsAre("ts", "level", "event"));
  EXPECT_EQ(Line(0)["level"], "warn");
}

TEST_F(LogTest, EachLevelWritesItsName) {
  SetLevel(Level::kDebug);
  Debug("a");
  Info("b");
  Warn("c");
  Error("d");
  ASSERT_THAT(lines_, SizeIs(4));
  EXPECT_EQ(Line(0)["level"], "debug");
  EXPECT_EQ(Line(1)["level"], "info");
  EXPECT_EQ(Line(2)["level"], "warn");
  EXPECT_EQ(Line(3)["level"], "error");
}

TEST_F(LogTest, DefaultLevelDropsDebug) {
  Debug("noise");
  EXPECT_THAT(lines_, IsEmpty());
}

TEST_F(LogTest, SetLevelDropsEventsBelowIt) {
  SetLevel(Level::kWarn);
  Debug("a");
  Info("b");
  Warn("c");
  Error("d");
  ASSERT_THAT(lines_, SizeIs(2));
  EXPECT_EQ(Line(0)["event"], "c");
  EXPECT_EQ(Line(1)["event"], "d");
}

TEST_F(LogTest, NewlinesInFieldsAreEscapedSoTheEventStaysOneLine) {
  Error("request_failed", {{"message", "line one\nline two"}});
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_EQ(lines_[0].find('\n'), lines_[0].size() - 1);
  EXPECT_EQ(Line(0)["message"], "line one\nline two");
}

TEST_F(LogTest, InvalidUtf8InAFieldIsReplacedNotThrown) {
  Info("odd_input", {{"alias", std::string("bad\xff")}});
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_EQ(Line(0)["alias"], "bad\xEF\xBF\xBD");  // U+FFFD
}

TEST(LogParseLevelTest, ParsesTheFourNames) {
  Level level = Level::kError;
  ASSERT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  ASSERT_TRUE(ParseLevel("info", &level));
  EXPECT_EQ(level, Level::kInfo);
  ASSERT_TRUE(ParseLevel("warn", &level));
  EXPECT_EQ(level, Level::kWarn);
  ASSERT_TRUE(ParseLevel("error", &level));
  EXPECT_EQ(level, Level::kError);
}

TEST(LogParseLevelTest, RejectsOtherTextAndLeavesLevelAlone) {
  Level level = Level::kWarn;
  EXPECT_FALSE(ParseLevel("INFO", &level));
  EXPECT_FALSE(ParseLevel("warning", &level));
  EXPECT_FALSE(ParseLevel("", &level));
  EXPECT_EQ(level, Level::kWarn);
}

}  // namespace
}  // namespace keybroker::log
