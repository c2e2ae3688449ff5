// KeyTemplate: the key alias a topic's records are encrypted under, written
// as a template such as "kek-${topic}".
//
// The only placeholder is ${topic}; "$$" is a literal "$". Anything else
// after a "$" is rejected when the template is parsed, so a typo cannot
// silently send every topic to one alias. A template without ${topic} names
// one alias for all topics.
//
// Immutable after Parse(); safe for concurrent use.
#ifndef KEYBROKER_SDK_KAFKA_KEY_TEMPLATE_H_
#define KEYBROKER_SDK_KAFKA_KEY_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::sdk::kafka {

class KeyTemplate {
 public:
  // Parses `text`. INVALID_ARGUMENT (reason INVALID_REQUEST) for an empty
  // template, a "$" not followed by "{topic}" or "$", or an unclosed "${".
  static absl::StatusOr<KeyTemplate> Parse(absl::string_view text);

  // Returns the alias for `topic`: the template with each ${topic} replaced.
  std::string Expand(absl::string_view topic) const;

  // Returns true if the alias depends on the topic.
  bool UsesTopic() const { return uses_topic_; }

 private:
  KeyTemplate() = default;
  // Literal pieces; the topic goes between consecutive pieces.
  std::vector<std::string> pieces_;
  bool uses_topic_ = false;
};

}  // namespace keybroker::sdk::kafka

#endif  // KEYBROKER_SDK_KAFKA_KEY_TEMPLATE_H_
