// YamlObject: strict, path-aware reading of one YAML mapping.
//
// Every accessor names the field's full path in its error ("cache.unwrap_ttl_seconds
// must be a positive integer"), and Finish() rejects fields nobody read, so a
// typo in a configuration file is an error at start rather than a silently
// dropped setting. Not thread-safe; used only while loading configuration.
#ifndef KEYBROKER_SERVER_YAML_FIELDS_H_
#define KEYBROKER_SERVER_YAML_FIELDS_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace keybroker::server {

// Parses `yaml`, which must hold at most one document (a second one would
// be silently ignored). INVALID_ARGUMENT when it is not YAML or holds more;
// an empty text is a null node.
absl::StatusOr<YAML::Node> LoadDocument(absl::string_view yaml);

class YamlObject {
 public:
  // `node` must be a mapping (or null, read as empty) that names each key
  // once (or one of the two would be silently dropped); `path` is its own
  // path ("" for the document root). INVALID_ARGUMENT otherwise.
  static absl::StatusOr<YamlObject> Of(const YAML::Node& node, std::string path);

  bool Has(const std::string& key) const;
  // This object's own path, and the sub-path of `key`, for messages.
  const std::string& path() const { return path_; }
  std::string PathOf(const std::string& key) const;

  // Each reads `key` into `out` if present (leaving `out` alone otherwise) and
  // fails if it has the wrong type.
  absl::Status String(const std::string& key, std::string* out);
  absl::Status Bool(const std::string& key, bool* out);
  absl::Status PositiveInt(const std::string& key, int64_t* out);
  // A number >= 0 (integer or decimal).
  absl::Status NonNegativeNumber(const std::string& key, double* out);
  // A list of strings.
  absl::Status StringList(const std::string& key, std::vector<std::string>* out);
  // A mapping of strings to strings, in the order written, each key once.
  absl::Status StringMap(const std::string& key,
                         std::vector<std::pair<std::string, std::string>>* out);
  // The raw node of `key` (null node if absent), marking it read.
  YAML::Node Node(const std::string& key);
  // A mapping under `key`; an empty object when absent.
  absl::StatusOr<YamlObject> Object(const std::string& key);

  // Fails naming the first field that no accessor read.
  absl::Status Finish() const;

 private:
  YamlObject(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}
  absl::Status TypeError(const std::string& key, const std::string& expected) const;
  // Looks `key` up without inserting it (a non-const operator[] may).
  YAML::Node Get(const std::string& key) const {
    const YAML::Node& node = node_;
    return node[key];
  }

  YAML::Node node_;
  std::string path_;
  std::set<std::string> read_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_YAML_FIELDS_H_
