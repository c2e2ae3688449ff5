// The `authorization` section of the configuration (DESIGN.md
// "Configuration"): who may call which RPC on which keys. Parsed by
// config_authorization.cc, enforced by authorization_policy.h.
#ifndef KEYBROKER_SERVER_AUTHORIZATION_CONFIG_H_
#define KEYBROKER_SERVER_AUTHORIZATION_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

namespace keybroker::server {

struct AuthorizationRuleConfig {
  std::vector<std::string> callers;     // globs on the caller identity
  std::vector<std::string> operations;  // RPC names, or "*" (every RPC but Rotate)
  std::vector<std::string> keys;        // globs on the key alias
  // Pairs the request's encryption context must carry: name -> glob on the value.
  std::vector<std::pair<std::string, std::string>> context;
  double rate_per_second = 0;  // per caller identity; 0: no limit
};

struct AuthorizationConfig {
  std::vector<AuthorizationRuleConfig> rules;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AUTHORIZATION_CONFIG_H_
