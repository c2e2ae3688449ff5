#include "server/authorization_policy.h"

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/authorizer.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::server {
namespace {

using Outcome = AccessDecision::Outcome;
constexpr char kProxy[] = "spiffe://cluster.local/ns/kafka/sa/proxy";
constexpr char kAdmin[] = "spiffe://cluster.local/ns/ops/sa/keyadmin";

AuthorizationRuleConfig Rule(std::vector<std::string> callers, std::vector<std::string> operations,
                             std::vector<std::string> keys) {
  AuthorizationRuleConfig rule;
  rule.callers = std::move(callers);
  rule.operations = std::move(operations);
  rule.keys = std::move(keys);
  return rule;
}

// The example policy: the Kafka proxies use kek-* keys for their
// data path, with a tenant in the context; the key administrator rotates
// and describes every key.
AuthorizationConfig ExamplePolicy() {
  AuthorizationConfig config;
  AuthorizationRuleConfig data =
      Rule({"spiffe://cluster.local/ns/kafka/sa/*"}, {"GenerateDek", "Unwrap"}, {"kek-*"});
  data.context = {{"tenant", "*"}};
  config.rules.push_back(data);
  config.rules.push_back(Rule({kAdmin}, {"Rotate", "DescribeKey"}, {"*"}));
  return config;
}

class PolicyTest : public ::testing::Test {
 protected:
  Outcome Decide(absl::string_view caller, RpcMethod method, absl::string_view key,
                 const std::map<std::string, std::string>& context = {{"tenant", "acme"}}) {
    auto lookup = [&context](const std::string& name) -> const std::string* {
      auto it = context.find(name);
      return it == context.end() ? nullptr : &it->second;
    };
    return policy_->Decide({caller, method, key}, lookup, now_).outcome;
  }

  std::unique_ptr<AuthorizationPolicy> policy_ = *AuthorizationPolicy::Create(ExamplePolicy(), 1);
  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(PolicyTest, EachRuleAllowsExactlyItsCallersOperationsAndKeys) {
  EXPECT_EQ(Decide(kProxy, RpcMethod::kGenerateDek, "kek-orders"), Outcome::kAllow);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kUnwrap, "kek-orders"), Outcome::kAllow);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kWrap, "kek-orders"), Outcome::kDeny) << "not listed";
  EXPECT_EQ(Decide(kProxy, RpcMethod::kRewrap, "kek-orders"), Outcome::kDeny);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kRotate, "kek-orders"), Outcome::kDeny);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kDescribeKey, "kek-orders"), Outcome::kDeny);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kGenerateDek, "tenant-a"), Outcome::kDeny) << "key";
  EXPECT_EQ(Decide("spiffe://cluster.local/ns/fhir/sa/proxy", RpcMethod::kGenerateDek,
                   "kek-orders"),
            Outcome::kDeny)
      << "another namespace";

  EXPECT_EQ(Decide(kAdmin, RpcMethod::kRotate, "tenant-a"), Outcome::kAllow);
  EXPECT_EQ(Decide(kAdmin, RpcMethod::kDescribeKey, "kek-orders"), Outcome::kAllow);
  EXPECT_EQ(Decide(kAdmin, RpcMethod::kUnwrap, "kek-orders"), Outcome::kDeny)
      << "an administrator does not read data";
}

TEST_F(PolicyTest, NobodyElseIsAllowedAnything) {
  for (absl::string_view caller : {"anonymous", "unix", "", "spiffe://evil/ns/kafka/sa/proxy"}) {
    for (RpcMethod method : {RpcMethod::kGenerateDek, RpcMethod::kWrap, RpcMethod::kUnwrap,
                             RpcMethod::kRotate, RpcMethod::kRewrap, RpcMethod::kDescribeKey}) {
      EXPECT_EQ(Decide(caller, method, "kek-orders"), Outcome::kDeny)
          << caller << " " << RpcMethodName(method);
    }
  }
}

TEST_F(PolicyTest, ContextPairsMustBeCarried) {
  EXPECT_EQ(Decide(kProxy, RpcMethod::kGenerateDek, "kek-orders", {}), Outcome::kDeny);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kGenerateDek, "kek-orders", {{"topic", "orders"}}),
            Outcome::kDeny);
  EXPECT_EQ(Decide(kProxy, RpcMethod::kGenerateDek, "kek-orders",
                   {{"topic", "orders"}, {"tenant", "globex"}}),
            Outcome::kAllow);
}

TEST(AuthorizationPolicyTest, ContextValuesAreGlobs) {
  AuthorizationConfig config;
  AuthorizationRuleConfig rule = Rule({"*"}, {"*"}, {"*"});
  rule.context = {{"tenant", "acme-*"}};
  config.rules.push_back(rule);
  auto policy = *AuthorizationPolicy::Create(config, 1);
  std::string value;
  auto lookup = [&value](const std::string& name) -> const std::string* {
    return name == "tenant" ? &value : nullptr;
  };
  value = "acme-eu";
  EXPECT_EQ(policy->Decide({"x", RpcMethod::kUnwrap, "k"}, lookup, absl::Now()).outcome,
            Outcome::kAllow);
  value = "globex";
  EXPECT_EQ(policy->Decide({"x", RpcMethod::kUnwrap, "k"}, lookup, absl::Now()).outcome,
            Outcome::kDeny);
}

TEST(AuthorizationPolicyTest, StarNeverImpliesRotate) {
  AuthorizationConfig config;
  config.rules.push_back(Rule({"*"}, {"*"}, {"*"}));
  auto policy = *AuthorizationPolicy::Create(config, 1);
  auto none = [](const std::string&) -> const std::string* { return nullptr; };
  for (RpcMethod method : {RpcMethod::kGenerateDek, RpcMethod::kWrap, RpcMethod::kUnwrap,
                           RpcMethod::kRewrap, RpcMethod::kDescribeKey}) {
    EXPECT_EQ(policy->Decide({"anyone", method, "k"}, none, absl::Now()).outcome, Outcome::kAllow);
  }
  EXPECT_EQ(policy->Decide({"anyone", RpcMethod::kRotate, "k"}, none, absl::Now()).outcome,
            Outcome::kDeny);
  config.rules[0].operations = {"*", "Rotate"};
  policy = *AuthorizationPolicy::Create(config, 1);
  EXPECT_EQ(policy->Decide({"anyone", RpcMethod::kRotate, "k"}, none, absl::Now()).outcome,
            Outcome::kAllow);
}

TEST(AuthorizationPolicyTest, AnEmptyRuleSetDeniesEverything) {
  auto policy = *AuthorizationPolicy::Create(AuthorizationConfig{}, 1);
  auto none = [](const std::string&) -> const std::string* { return nullptr; };
  EXPECT_EQ(policy->Decide({"anyone", RpcMethod::kGenerateDek, "default"}, none, absl::Now())
                .outcome,
            Outcome::kDeny);
}

TEST(AuthorizationPolicyTest, RateLimitIsPerCallerAndRefills) {
  AuthorizationConfig config;
  AuthorizationRuleConfig rule = Rule({"*"}, {"GenerateDek"}, {"*"});
  rule.rate_per_second = 2;
  config.rules.push_back(rule);
  auto policy = *AuthorizationPolicy::Create(config, 1);
  auto none = [](const std::string&) -> const std::string* { return nullptr; };
  absl::Time now = absl::FromUnixSeconds(100);
  auto decide = [&](absl::string_view caller) {
    return policy->Decide({caller, RpcMethod::kGenerateDek, "k"}, none, now);
  };
  EXPECT_EQ(decide("a").outcome, Outcome::kAllow);
  EXPECT_EQ(decide("a").outcome, Outcome::kAllow);
  AccessDecision limited = decide("a");
  EXPECT_EQ(limited.outcome, Outcome::kRateLimited);
  EXPECT_GT(limited.retry_after, absl::ZeroDuration());
  EXPECT_LE(limited.retry_after, absl::Milliseconds(500));
  EXPECT_EQ(decide("b").outcome, Outcome::kAllow) << "another caller has its own bucket";
  now += absl::Milliseconds(500);
  EXPECT_EQ(decide("a").outcome, Outcome::kAllow) << "one token back after 1/rate";
  EXPECT_EQ(decide("a").outcome, Outcome::kRateLimited);
}

TEST(AuthorizationPolicyTest, BadRulesAreRefusedNamingTheField) {
  AuthorizationConfig config;
  config.rules.push_back(Rule({"*"}, {"Unwarp"}, {"*"}));
  EXPECT_THAT(AuthorizationPolicy::Create(config, 1).status(),
              ::keybroker::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("authorization.rules[0].operations")));
  config.rules[0] = Rule({}, {"Unwrap"}, {"*"});
  EXPECT_THAT(AuthorizationPolicy::Create(config, 1).status(),
              ::keybroker::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("authorization.rules[0].callers")));
  config.rules[0] = Rule({"*"}, {"Unwrap"}, {});
  EXPECT_THAT(AuthorizationPolicy::Create(config, 1).status(),
              ::keybroker::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("authorization.rules[0].keys")));
  config.rules[0] = Rule({"*"}, {}, {"*"});
  EXPECT_FALSE(AuthorizationPolicy::Create(config, 1).ok());
}

TEST(AuthorizerTest, ABadReloadKeepsThePolicyInForce) {
  auto authorizer = *Authorizer::Create(ExamplePolicy());
  ASSERT_NE(authorizer->Current(), nullptr);
  EXPECT_EQ(authorizer->Current()->generation(), 1);
  AuthorizationConfig bad;
  bad.rules.push_back(Rule({"*"}, {"Everything"}, {"*"}));
  EXPECT_FALSE(authorizer->Reload(bad).ok());
  EXPECT_EQ(authorizer->Current()->generation(), 1);
  EXPECT_EQ(authorizer->Current()->rule_count(), 2u);
  AuthorizationConfig good;
  good.rules.push_back(Rule({"*"}, {"Unwrap"}, {"*"}));
  EXPECT_OK(authorizer->Reload(good));
  EXPECT_EQ(authorizer->Current()->generation(), 2);
  EXPECT_EQ(authorizer->Current()->rule_count(), 1u);
  EXPECT_OK(authorizer->Reload(std::nullopt));
  EXPECT_EQ(authorizer->Current(), nullptr) << "the section removed: no policy";
}

TEST(AuthorizerTest, WithoutASectionThereIsNoPolicy) {
  auto authorizer = *Authorizer::Create(std::nullopt);
  EXPECT_EQ(authorizer->Current(), nullptr);
}

}  // namespace
}  // namespace keybroker::server
