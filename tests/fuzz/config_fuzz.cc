// libFuzzer target for the broker's YAML configuration (server/config.h
// ParseConfig, which start-up and authorization reloads both use). The input
// is the file's text.
//
// Invariants:
// - ParseConfig returns a configuration or INVALID_ARGUMENT: no exception
//   of yaml-cpp or ours escapes, nothing else;
// - what it accepts passes ValidateConfig again, binds each alias once to
//   exactly one KMS;
// - nothing in the file is silently dropped (DESIGN.md: "a typo must not
//   silently drop a setting"): a mapping that names a key twice, or a second
//   YAML document, is refused rather than half read.
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server/config.h"
#include "tests/fuzz/fuzz_support.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace keybroker::fuzz {
namespace {

// Whether any mapping in `node` has a key twice (compared as written).
bool HasRepeatedKey(const YAML::Node& node, int depth = 0) {
  if (depth > 64) return false;  // yaml-cpp bounds nesting itself; this is ours
  if (node.IsSequence()) {
    for (const YAML::Node& element : node) {
      if (HasRepeatedKey(element, depth + 1)) return true;
    }
  } else if (node.IsMap()) {
    std::set<std::string> keys;
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && !keys.insert(entry.first.Scalar()).second) return true;
      if (HasRepeatedKey(entry.second, depth + 1)) return true;
    }
  }
  return false;
}

// Counts a parser's documents, ignoring their contents.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Whether the text holds something ParseConfig must refuse for being
// ambiguous; false when it is not YAML at all. (Not YAML::LoadAll, which
// never ends on some malformed texts: regressions/config/endless_documents.)
bool IsAmbiguous(const std::string& text) {
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    if (parser.HandleNextDocument(counter) && parser.HandleNextDocument(counter)) return true;
    return HasRepeatedKey(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return false;
  }
}

void CheckAccepted(const server::Config& config, absl::string_view input) {
  absl::Status valid = server::ValidateConfig(config);
  FUZZ_CHECK(valid.ok(), valid.ToString());
  FUZZ_CHECK(!config.keys.empty());
  std::set<std::string> aliases;
  for (const server::KeyBinding& binding : config.keys) {
    FUZZ_CHECK(!binding.alias.empty() && aliases.insert(binding.alias).second, binding.alias);
    FUZZ_CHECK(binding.local_key.empty() != binding.azure_key.empty(), binding.alias);
  }
  if (config.tls.has_value()) {
    FUZZ_CHECK(config.tls->min_version == "1.2" || config.tls->min_version == "1.3");
  }
  FUZZ_CHECK(config.cache.metadata_ttl_seconds > 0 && config.cache.unwrap_ttl_seconds > 0 &&
             config.cache.unwrap_max_entries > 0 && config.cache.unknown_version_ttl_seconds > 0);
}

void TestOneInput(absl::string_view input) {
  static LogLines& log_lines = LogLines::Install();
  absl::StatusOr<server::Config> config = server::ParseConfig(input);
  log_lines.TakeChecked();
  if (!config.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(config.status()), config.status().ToString());
    return;
  }
  CheckAccepted(*config, input);
  FUZZ_CHECK(!IsAmbiguous(std::string(input)),
             "a configuration with a repeated key or a second document was accepted");
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
