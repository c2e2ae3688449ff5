// JsonFields must write the line log::Fields writes (the audit line's
// readers parse it): same members, same order, same escaping, same
// replacement of invalid UTF-8, same capping. Each case writes one line
// through both and compares them.
#include "common/json_fields.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace keybroker::log {
namespace {

class JsonFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSinkForTesting([this](const std::string& line) { lines_.push_back(line); });
  }
  void TearDown() override { SetSinkForTesting(nullptr); }

  // The line without its timestamp (the one member that differs by call).
  static std::string WithoutTs(const std::string& line) {
    const size_t level = line.find(",\"level\":");
    return level == std::string::npos ? line : line.substr(level);
  }

  // Writes {name: value} both ways; expects the same text.
  void ExpectSameString(const std::string& name, const std::string& value) {
    lines_.clear();
    Info("e", Fields{{name, value}});
    JsonFields fields;
    fields.String(name, value);
    Info("e", fields);
    ASSERT_EQ(lines_.size(), 2u);
    EXPECT_EQ(WithoutTs(lines_[1]), WithoutTs(lines_[0]))
        << "value bytes: " << nlohmann::json(std::vector<uint8_t>(value.begin(), value.end()));
  }

  std::vector<std::string> lines_;
};

TEST_F(JsonFieldsTest, PlainTextIsWrittenAsIs) {
  ExpectSameString("alias", "payments");
  ExpectSameString("peer", "ipv4:127.0.0.1:5555");
  ExpectSameString("reason", "");
}

TEST_F(JsonFieldsTest, QuotesBackslashAndEveryControlCharacterAreEscaped) {
  ExpectSameString("error", "say \"hi\" \\ back");
  for (int c = 0; c < 0x20; ++c) {
    ExpectSameString("error", std::string("a") + static_cast<char>(c) + "b");
  }
  ExpectSameString("error", std::string("\x7f"));
  lines_.clear();
  JsonFields fields;
  fields.String("error", "line one\nline two\t\x01");
  Info("e", fields);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('\n'), lines_[0].size() - 1);  // still one line
  EXPECT_EQ(nlohmann::json::parse(lines_[0])["error"], "line one\nline two\t\x01");
}

TEST_F(JsonFieldsTest, ValidUtf8IsKeptAndInvalidUtf8ReplacedAsNlohmannDoes) {
  ExpectSameString("alias", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91");
  ExpectSameString("alias", "bad\xff");
  ExpectSameString("alias", "\x80\x80");                // stray continuation bytes
  ExpectSameString("alias", "\xC0\xAF");                // overlong
  ExpectSameString("alias", "\xE0\x80\xAF");            // overlong
  ExpectSameString("alias", "\xED\xA0\x80");            // surrogate
  ExpectSameString("alias", "\xF4\x90\x80\x80");        // past U+10FFFF
  ExpectSameString("alias", "\xE2\x82");                // cut short at the end
  ExpectSameString("alias", "\xE2\x82" "A");            // cut short in the middle
  ExpectSameString("alias", "\xF0\x9F\x94" "x\xF0\x9F");
}

TEST_F(JsonFieldsTest, RandomBytesGiveTheSameLine) {
  std::mt19937 random(12);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 40);
  for (int i = 0; i < 2000; ++i) {
    std::string value(static_cast<size_t>(length(random)), '\0');
    for (char& c : value) c = static_cast<char>(byte(random));
    ExpectSameString("alias", value);
    if (HasFailure()) break;
  }
}

TEST_F(JsonFieldsTest, LongStringsAreCappedLikeFields) {
  ExpectSameString("peer", std::string(kMaxFieldBytes, 'p'));
  ExpectSameString("peer", std::string(kMaxFieldBytes + 1, 'p'));
  ExpectSameString("peer", std::string(3 * kMaxFieldBytes, '\xE2'));
}

TEST_F(JsonFieldsTest, ReservedNamesAreRenamed) {
  ExpectSameString("ts", "x");
  ExpectSameString("level", "x");
  ExpectSameString("event", "x");
}

TEST_F(JsonFieldsTest, FieldsKeepTheirOrderAndNumbersReadBack) {
  JsonFields fields;
  fields.String("caller", "anonymous")
      .Number("latency_ms", 0.123456789)
      .Number("whole", 2.0)
      .Number("nan", std::nan(""))
      .Integer("policy_generation", -7)
      .Bool("allowed", true);
  Info("audit", fields);
  ASSERT_EQ(lines_.size(), 1u);
  nlohmann::ordered_json line = nlohmann::ordered_json::parse(lines_[0]);
  std::vector<std::string> keys;
  for (const auto& item : line.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "event", "caller", "latency_ms",
                                            "whole", "nan", "policy_generation", "allowed"}));
  EXPECT_EQ(line["event"], "audit");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["latency_ms"].get<double>(), 0.123456789);
  EXPECT_EQ(line["whole"].get<double>(), 2.0);
  EXPECT_TRUE(line["nan"].is_null());
  EXPECT_EQ(line["policy_generation"], -7);
  EXPECT_EQ(line["allowed"], true);
}

TEST_F(JsonFieldsTest, NothingIsWrittenBelowTheLevel) {
  SetLevel(Level::kWarn);
  JsonFields fields;
  fields.String("a", "b");
  Info("audit", fields);
  SetLevel(Level::kInfo);
  EXPECT_TRUE(lines_.empty());
}

}  // namespace
}  // namespace keybroker::log
