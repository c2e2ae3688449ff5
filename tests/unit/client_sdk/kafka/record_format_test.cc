#include "keybroker/sdk/kafka/record_format.h"

#include <string>

#include "gtest/gtest.h"

namespace keybroker::sdk::kafka {
namespace {

TEST(RecordFormatTest, AadIsDocumentedLayout) {
  EXPECT_EQ(RecordAad("orders", RecordPart::kValue),
            std::string("keybroker-kafka/v1\0value\0orders", 31));
  EXPECT_EQ(RecordAad("orders", RecordPart::kKey),
            std::string("keybroker-kafka/v1\0key\0orders", 29));
}

TEST(RecordFormatTest, AadSeparatesTopicsAndParts) {
  EXPECT_NE(RecordAad("a", RecordPart::kValue), RecordAad("b", RecordPart::kValue));
  EXPECT_NE(RecordAad("a", RecordPart::kValue), RecordAad("a", RecordPart::kKey));
}

TEST(RecordFormatTest, ReservesOnlyKeybrokerHeaders) {
  EXPECT_TRUE(IsReservedHeader("keybroker-encryption"));
  EXPECT_TRUE(IsReservedHeader("keybroker-encryption-key"));
  EXPECT_FALSE(IsReservedHeader("keybroker"));
  EXPECT_FALSE(IsReservedHeader("trace-id"));
}

}  // namespace
}  // namespace keybroker::sdk::kafka
