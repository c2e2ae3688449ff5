#include "server/yaml_fields.h"

#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"

namespace keybroker::server {

namespace {

// The first key that mapping `map` names twice, if any.
std::optional<std::string> RepeatedKey(const YAML::Node& map) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    if (entry.first.IsScalar() && !seen.insert(entry.first.Scalar()).second) {
      return entry.first.Scalar();
    }
  }
  return std::nullopt;
}

// Drops parser events: LoadDocument only asks whether a second document
// follows.
class IgnoredEvents : public YAML::EventHandler {
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

}  // namespace

absl::StatusOr<YAML::Node> LoadDocument(absl::string_view yaml) {
  const std::string text(yaml);
  try {
    YAML::Node document = YAML::Load(text);
    // Load reads the first document only. Look for a second one without
    // building it, and no further: yaml-cpp 0.7's LoadAll never ends on some
    // malformed texts (its parser yields empty documents without consuming
    // input; tests/fuzz/regressions/config/endless_documents).
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    IgnoredEvents ignored;
    if (parser.HandleNextDocument(ignored) && parser.HandleNextDocument(ignored)) {
      return absl::InvalidArgumentError(
          "configuration holds more than one YAML document ('---'); it must be one");
    }
    return document;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("configuration is not valid YAML: ", e.what()));
  }
}

absl::StatusOr<YamlObject> YamlObject::Of(const YAML::Node& node, std::string path) {
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.empty() ? "the configuration" : path, " must be a mapping"));
  }
  if (node.IsDefined() && node.IsMap()) {
    if (std::optional<std::string> key = RepeatedKey(node)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.empty() ? *key : absl::StrCat(path, ".", *key), " is given twice"));
    }
  }
  // A missing key yields an "invalid" node that throws on most calls: read it
  // as an empty mapping instead.
  return YamlObject(node.IsDefined() ? node : YAML::Node(), std::move(path));
}

bool YamlObject::Has(const std::string& key) const {
  return node_.IsMap() && Get(key).IsDefined() && !Get(key).IsNull();
}

std::string YamlObject::PathOf(const std::string& key) const {
  return path_.empty() ? key : absl::StrCat(path_, ".", key);
}

absl::Status YamlObject::TypeError(const std::string& key, const std::string& expected) const {
  return absl::InvalidArgumentError(absl::StrCat(PathOf(key), " must be ", expected));
}

absl::Status YamlObject::String(const std::string& key, std::string* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  if (!value.IsScalar()) return TypeError(key, "a string");
  *out = value.Scalar();
  return absl::OkStatus();
}

absl::Status YamlObject::Bool(const std::string& key, bool* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  const std::string text = value.IsScalar() ? value.Scalar() : "";
  if (text == "true") {
    *out = true;
  } else if (text == "false") {
    *out = false;
  } else {
    return TypeError(key, "true or false");
  }
  return absl::OkStatus();
}

absl::Status YamlObject::PositiveInt(const std::string& key, int64_t* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  int64_t parsed = 0;
  if (!value.IsScalar() || !YAML::convert<int64_t>::decode(value, parsed) || parsed <= 0) {
    return TypeError(key, "a positive integer");
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status YamlObject::NonNegativeNumber(const std::string& key, double* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  double parsed = 0;
  if (!value.IsScalar() || !YAML::convert<double>::decode(value, parsed) || !(parsed >= 0) ||
      parsed > 1e12) {
    return TypeError(key, "a number, 0 or more");
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status YamlObject::StringList(const std::string& key, std::vector<std::string>* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  if (!value.IsSequence()) return TypeError(key, "a list of strings");
  out->clear();
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(PathOf(key), "[", i, "] must be a string"));
    }
    out->push_back(value[i].Scalar());
  }
  return absl::OkStatus();
}

absl::Status YamlObject::StringMap(const std::string& key,
                                   std::vector<std::pair<std::string, std::string>>* out) {
  read_.insert(key);
  if (!Has(key)) return absl::OkStatus();
  const YAML::Node value = Get(key);
  if (!value.IsMap()) return TypeError(key, "a mapping of strings to strings");
  if (std::optional<std::string> repeated = RepeatedKey(value)) {
    return absl::InvalidArgumentError(absl::StrCat(PathOf(key), ".", *repeated, " is given twice"));
  }
  out->clear();
  for (const auto& entry : value) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
      return TypeError(key, "a mapping of strings to strings");
    }
    out->emplace_back(entry.first.Scalar(), entry.second.Scalar());
  }
  return absl::OkStatus();
}

YAML::Node YamlObject::Node(const std::string& key) {
  read_.insert(key);
  return node_.IsMap() ? Get(key) : YAML::Node();
}

absl::StatusOr<YamlObject> YamlObject::Object(const std::string& key) {
  return Of(Node(key), PathOf(key));
}

absl::Status YamlObject::Finish() const {
  if (!node_.IsMap()) return absl::OkStatus();
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (read_.count(key) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(PathOf(key), " is not a known field"));
    }
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
