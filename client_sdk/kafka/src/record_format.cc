#include "keybroker/sdk/kafka/record_format.h"

#include "absl/strings/str_cat.h"

namespace keybroker::sdk::kafka {

std::string RecordAad(absl::string_view topic, RecordPart part) {
  // The NUL separators keep part and topic apart; topic names cannot hold NUL.
  absl::string_view name = part == RecordPart::kKey ? "key" : "value";
  return absl::StrCat("keybroker-kafka/v1", absl::string_view("\0", 1), name,
                      absl::string_view("\0", 1), topic);
}

bool IsReservedHeader(absl::string_view name) {
  return name == kEncryptionHeader || name == kKeyEncryptionHeader;
}

}  // namespace keybroker::sdk::kafka
