#include "keybroker/sdk/kafka/key_template.h"

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"

namespace keybroker::sdk::kafka {

absl::StatusOr<KeyTemplate> KeyTemplate::Parse(absl::string_view text) {
  if (text.empty()) return InvalidRequest("key template is empty");
  constexpr absl::string_view kTopic = "{topic}";
  KeyTemplate parsed;
  std::string piece;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      piece.push_back(text[i]);
      continue;
    }
    absl::string_view rest = text.substr(i + 1);
    if (!rest.empty() && rest[0] == '$') {
      piece.push_back('$');
      i += 1;
    } else if (rest.substr(0, kTopic.size()) == kTopic) {
      parsed.pieces_.push_back(std::move(piece));
      piece.clear();
      parsed.uses_topic_ = true;
      i += kTopic.size();
    } else {
      return InvalidRequest(absl::StrCat("key template \"", text, "\": at offset ", i,
                                         ", only ${topic} and $$ may follow a $"));
    }
  }
  parsed.pieces_.push_back(std::move(piece));
  return parsed;
}

std::string KeyTemplate::Expand(absl::string_view topic) const {
  std::string alias = pieces_.front();
  for (size_t i = 1; i < pieces_.size(); ++i) absl::StrAppend(&alias, topic, pieces_[i]);
  return alias;
}

}  // namespace keybroker::sdk::kafka
