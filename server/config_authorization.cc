#include "server/config_authorization.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/authorization_policy.h"

namespace keybroker::server {
namespace {

absl::StatusOr<AuthorizationRuleConfig> ParseRule(const YAML::Node& node,
                                                  const std::string& path) {
  ASSIGN_OR_RETURN(YamlObject entry, YamlObject::Of(node, path));
  AuthorizationRuleConfig rule;
  RETURN_IF_ERROR(entry.StringList("callers", &rule.callers));
  RETURN_IF_ERROR(entry.StringList("operations", &rule.operations));
  RETURN_IF_ERROR(entry.StringList("keys", &rule.keys));
  RETURN_IF_ERROR(entry.StringMap("context", &rule.context));
  RETURN_IF_ERROR(entry.NonNegativeNumber("rate_per_second", &rule.rate_per_second));
  RETURN_IF_ERROR(entry.Finish());
  return rule;
}

}  // namespace

absl::Status ParseAuthorization(YamlObject& root, std::optional<AuthorizationConfig>* out) {
  if (!root.Has("authorization")) {
    root.Node("authorization");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject section, root.Object("authorization"));
  AuthorizationConfig config;
  YAML::Node rules = section.Node("rules");
  if (rules.IsDefined() && !rules.IsNull()) {
    if (!rules.IsSequence()) {
      return absl::InvalidArgumentError("authorization.rules must be a list");
    }
    for (size_t i = 0; i < rules.size(); ++i) {
      ASSIGN_OR_RETURN(AuthorizationRuleConfig rule,
                       ParseRule(rules[i], absl::StrCat("authorization.rules[", i, "]")));
      config.rules.push_back(std::move(rule));
    }
  }
  RETURN_IF_ERROR(section.Finish());
  // The policy's own checks (known RPC names...), so that a bad rule stops
  // start-up and a reload rather than being found at the first call.
  RETURN_IF_ERROR(AuthorizationPolicy::Create(config, 0).status());
  *out = std::move(config);
  return absl::OkStatus();
}

}  // namespace keybroker::server
