// The real broker on the embedded keyring with its metrics port: after real
// gRPC traffic, the scrape has the expected families, labels and counts and
// passes `promtool check metrics`; the probes answer; every RPC leaves one
// well-formed audit line (a WatchKeys stream two: opened and ended); and no
// secret ever reaches the log.
#include <chrono>
#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/http_get.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Runs `promtool check metrics` on `text`; returns its exit status and fills
// `output` with what it printed.
int PromtoolCheck(const std::string& text, std::string* output) {
  TempDir dir;
  std::string input = dir.File("scrape.txt");
  WriteAll(input, text);
  std::string command = absl::StrCat("promtool check metrics < ", input, " 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<BrokerProcess>> broker = BrokerProcess::Start(
        {"--listen", "127.0.0.1:0", "--data-dir", dir_.path(), "--metrics-listen", "127.0.0.1:0"});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->WaitForLogLine("metrics_listening", absl::Seconds(5)));
    metrics_ = broker_->MetricsAddress();
    ASSERT_FALSE(metrics_.empty());
    stub_ = NewStub(broker_->address());
  }

  PrometheusScrape Scrape() {
    absl::StatusOr<HttpGetResponse> response = HttpGet(metrics_, "/metrics");
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    EXPECT_EQ(response->status, 200);
    EXPECT_THAT(response->headers["content-type"], StartsWith("text/plain; version=0.0.4"));
    absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(response->body);
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    return scrape.ok() ? *std::move(scrape) : PrometheusScrape();
  }

  v1::GenerateDekResponse GenerateDek(const std::string& alias, grpc::Status* status) {
    v1::GenerateDekRequest request;
    request.set_key(alias);
    (*request.mutable_context())["tenant"] = "t1";
    v1::GenerateDekResponse response;
    *status = stub_->GenerateDek(Ctx().get(), request, &response);
    return response;
  }

  grpc::Status Unwrap(const std::string& edek, v1::UnwrapResponse* response) {
    v1::UnwrapRequest request;
    request.set_edek(edek);
    (*request.mutable_context())["tenant"] = "t1";
    return stub_->Unwrap(Ctx().get(), request, response);
  }

  // The audit lines written so far (they are buffered for up to ~50 ms).
  std::vector<nlohmann::ordered_json> AuditLines(size_t at_least) {
    std::vector<nlohmann::ordered_json> audits;
    for (int attempt = 0; attempt < 100; ++attempt) {
      audits.clear();
      for (const std::string& line : broker_->Lines()) {
        nlohmann::ordered_json json = nlohmann::ordered_json::parse(line, nullptr, false);
        if (json.is_object() && json["event"] == "audit") audits.push_back(json);
      }
      if (audits.size() >= at_least) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return audits;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string metrics_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
};

TEST_F(ObservabilityTest, TheScrapeCountsRealTrafficAndPassesPromtool) {
  grpc::Status status;
  std::vector<v1::GenerateDekResponse> deks;
  for (int i = 0; i < 3; ++i) {
    deks.push_back(GenerateDek("default", &status));
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (int i = 0; i < 2; ++i) {
    v1::UnwrapResponse unwrapped;
    ASSERT_TRUE(Unwrap(deks[i].edek(), &unwrapped).ok());
  }
  v1::UnwrapResponse ignored;
  EXPECT_EQ(Unwrap("not an edek", &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  GenerateDek("no-such-alias", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::RotateResponse rotated;
  v1::RotateRequest rotate;
  rotate.set_key("default");
  ASSERT_TRUE(stub_->Rotate(Ctx().get(), rotate, &rotated).ok());

  PrometheusScrape scrape = Scrape();
  const std::string rpcs = "keybroker_rpc_requests_total";
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "GenerateDek"}, {"code", "OK"}, {"reason", "none"},
                               {"cause", "none"}}),
            3);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "Unwrap"}, {"code", "OK"}, {"reason", "none"},
                               {"cause", "none"}}),
            2);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "Unwrap"}, {"code", "INVALID_ARGUMENT"},
                               {"reason", "EDEK_INVALID"}, {"cause", "client"}}),
            1);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "GenerateDek"}, {"code", "NOT_FOUND"},
                               {"reason", "KEY_NOT_FOUND"}, {"cause", "client"}}),
            1);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "Rotate"}, {"code", "OK"}, {"reason", "none"},
                               {"cause", "none"}}),
            1);
  EXPECT_EQ(scrape.Sum(rpcs), 8);
  EXPECT_EQ(scrape.Sum(rpcs, {{"cause", "service"}}), 0);
  EXPECT_EQ(scrape.Find("keybroker_rpc_duration_seconds_count",
                        {{"method", "GenerateDek"}, {"code", "OK"}}),
            3);
  EXPECT_EQ(scrape.Sum("keybroker_rpcs_in_flight"), 0);
  // The local keyring did three wraps, two unwraps and one rotation; the
  // malformed EDEK never reached it.
  const std::string kms = "keybroker_kms_requests_total";
  EXPECT_EQ(scrape.Find(kms, {{"kms", "local"}, {"operation", "wrap"}, {"outcome", "OK"}}), 3);
  EXPECT_EQ(scrape.Find(kms, {{"kms", "local"}, {"operation", "unwrap"}, {"outcome", "OK"}}), 2);
  EXPECT_EQ(scrape.Find(kms, {{"kms", "local"}, {"operation", "rotate"}, {"outcome", "OK"}}), 1);
  EXPECT_EQ(scrape.Find("keybroker_keys_configured", {{"management", "service"}}), 1);
  EXPECT_EQ(scrape.Find("keybroker_keys_configured", {{"management", "customer"}}), 0);
  EXPECT_EQ(scrape.Sum("keybroker_keys_inaccessible"), 0);
  EXPECT_EQ(scrape.Select("keybroker_build_info").size(), 1u);

  // Label values come from closed sets: nothing the callers sent appears.
  absl::StatusOr<HttpGetResponse> raw = HttpGet(metrics_, "/metrics");
  ASSERT_TRUE(raw.ok());
  EXPECT_THAT(raw->body, Not(HasSubstr("no-such-alias")));
  EXPECT_THAT(raw->body, Not(HasSubstr("not an edek")));

  std::string promtool_output;
  EXPECT_EQ(PromtoolCheck(raw->body, &promtool_output), 0) << promtool_output;
  EXPECT_EQ(promtool_output, "") << "promtool found problems";
}

TEST_F(ObservabilityTest, ProbesAnswerOnTheMetricsPort) {
  absl::StatusOr<HttpGetResponse> healthz = HttpGet(metrics_, "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "ok\n");
  absl::StatusOr<HttpGetResponse> readyz = HttpGet(metrics_, "/readyz");
  ASSERT_TRUE(readyz.ok()) << readyz.status();
  EXPECT_EQ(readyz->status, 200);
  absl::StatusOr<HttpGetResponse> other = HttpGet(metrics_, "/debug/secrets");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 404);
}

TEST_F(ObservabilityTest, EveryRpcLeavesOneAuditLineAndNoSecretIsLogged) {
  grpc::Status status;
  v1::GenerateDekResponse dek = GenerateDek("default", &status);
  ASSERT_TRUE(status.ok());
  v1::UnwrapResponse unwrapped;
  ASSERT_TRUE(Unwrap(dek.edek(), &unwrapped).ok());
  GenerateDek("no-such-alias", &status);
  v1::UnwrapRequest wrong_context;
  wrong_context.set_edek(dek.edek());
  (*wrong_context.mutable_context())["tenant"] = "t2";
  v1::UnwrapResponse refused;
  EXPECT_EQ(stub_->Unwrap(Ctx().get(), wrong_context, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  std::vector<nlohmann::ordered_json> audits = AuditLines(4);
  ASSERT_EQ(audits.size(), 4u);
  const char* fields[] = {"ts",    "level",   "event",   "caller", "peer",      "method",
                          "alias", "version", "outcome", "reason", "cause", "latency_ms"};
  for (const nlohmann::ordered_json& audit : audits) {
    for (const char* field : fields) EXPECT_TRUE(audit.contains(field)) << field << ": " << audit;
    EXPECT_EQ(audit.begin().key(), "ts");  // ts, level, event lead every line
    EXPECT_EQ(std::next(audit.begin()).key(), "level");
    EXPECT_EQ(std::next(audit.begin(), 2).key(), "event");
    EXPECT_EQ(audit["level"], "info");
    // Plaintext TCP carries no identity; the peer's address is kept apart.
    EXPECT_EQ(audit["caller"], "anonymous");
    EXPECT_THAT(audit["peer"].get<std::string>(), StartsWith("ipv4:127.0.0.1:"));
    EXPECT_TRUE(audit["latency_ms"].is_number());
  }
  EXPECT_EQ(audits[0]["method"], "GenerateDek");
  EXPECT_EQ(audits[0]["alias"], "default");
  EXPECT_EQ(audits[0]["version"], "1");
  EXPECT_EQ(audits[0]["outcome"], "OK");
  EXPECT_EQ(audits[0]["cause"], "none");
  EXPECT_EQ(audits[1]["method"], "Unwrap");
  EXPECT_EQ(audits[1]["alias"], "default");  // read from the EDEK's key
  EXPECT_EQ(audits[1]["version"], "1");
  EXPECT_EQ(audits[2]["outcome"], "NOT_FOUND");
  EXPECT_EQ(audits[2]["reason"], "KEY_NOT_FOUND");
  EXPECT_EQ(audits[2]["cause"], "client");
  // A refused Unwrap still says which key and version the EDEK named.
  EXPECT_EQ(audits[3]["method"], "Unwrap");
  EXPECT_EQ(audits[3]["alias"], "default");
  EXPECT_EQ(audits[3]["version"], "1");
  EXPECT_EQ(audits[3]["reason"], "EDEK_INVALID");

  // Stop the broker so that every buffered line is out, then look for the
  // secrets it handled in everything it wrote.
  EXPECT_EQ(broker_->Terminate(), 0);
  std::string log;
  for (const std::string& line : broker_->Lines()) {
    EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object()) << line;
    absl::StrAppend(&log, line, "\n");
  }
  EXPECT_THAT(log, HasSubstr("\"event\":\"stopped\""));
  std::string master_key(absl::StripAsciiWhitespace(ReadAll(dir_.File("master-key"))));
  ASSERT_EQ(master_key.size(), 64u);
  for (const std::string& secret :
       {dek.plaintext(), unwrapped.plaintext()}) {
    EXPECT_THAT(log, Not(HasSubstr(absl::Base64Escape(secret))));
    EXPECT_THAT(log, Not(HasSubstr(absl::BytesToHexString(secret))));
  }
  EXPECT_THAT(log, Not(HasSubstr(master_key)));
  EXPECT_THAT(log, Not(HasSubstr(absl::Base64Escape(dek.edek()))));
}

// WatchKeys is a stream: counted when it ends (a refusal at once), open
// streams in flight, no duration histogram; audited when it opens and when
// it ends, with the keys, how long it lasted, the events it sent and why it
// ended; a shutdown ends it as nobody's fault.
TEST_F(ObservabilityTest, AWatchIsAuditedWhenItOpensAndEndsAndCountedWhenItEnds) {
  const std::string rpcs = "keybroker_rpc_requests_total";
  const PrometheusLabels cancelled = {
      {"method", "WatchKeys"}, {"code", "CANCELLED"}, {"reason", "none"}, {"cause", "client"}};
  {
    grpc::ClientContext context;
    auto reader = OpenWatch(stub_.get(), &context, {"default"});
    v1::KeyEvent event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_TRUE(event.initial());
    EXPECT_EQ(Scrape().Find("keybroker_rpcs_in_flight", {{"method", "WatchKeys"}}), 1);
    context.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  {
    grpc::ClientContext context;
    auto reader = OpenWatch(stub_.get(), &context, {"no-such-alias"});
    v1::KeyEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // The server counts a cancelled stream when gRPC is done with it, which
  // can be just after the client has heard of the cancellation.
  PrometheusScrape scrape;
  for (int attempt = 0; attempt < 100; ++attempt) {
    scrape = Scrape();
    if (scrape.Find(rpcs, cancelled).has_value()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(scrape.Find(rpcs, cancelled), 1);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "WatchKeys"},
                               {"code", "NOT_FOUND"},
                               {"reason", "KEY_NOT_FOUND"},
                               {"cause", "client"}}),
            1);
  EXPECT_EQ(scrape.Sum(rpcs, {{"method", "WatchKeys"}}), 2);
  EXPECT_EQ(scrape.Find("keybroker_rpcs_in_flight", {{"method", "WatchKeys"}}), 0);
  EXPECT_TRUE(scrape.Select("keybroker_rpc_duration_seconds_count", {{"method", "WatchKeys"}})
                  .empty());
  EXPECT_EQ(scrape.Find("keybroker_authorization_denied_total", {{"method", "WatchKeys"}}), 0);

  // One stream left open: every key, ended by the broker's shutdown.
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::KeyEvent>> open =
      stub_->WatchKeys(&context, v1::WatchKeysRequest());
  v1::KeyEvent event;
  ASSERT_TRUE(open->Read(&event));
  EXPECT_EQ(event.key(), "default");
  ASSERT_EQ(AuditLines(4).size(), 4u);
  EXPECT_EQ(broker_->Terminate(), 0);
  EXPECT_FALSE(open->Read(&event));
  EXPECT_EQ(open->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  std::vector<nlohmann::ordered_json> audits = AuditLines(5);
  ASSERT_EQ(audits.size(), 5u);
  std::map<std::pair<int, std::string>, nlohmann::ordered_json> lines;  // {watch_id, stream}
  for (const nlohmann::ordered_json& audit : audits) {
    EXPECT_EQ(audit["method"], "WatchKeys") << audit;
    EXPECT_EQ(audit["caller"], "anonymous");
    EXPECT_THAT(audit["peer"].get<std::string>(), StartsWith("ipv4:127.0.0.1:"));
    for (const char* field : {"watch_id", "keys", "key_count", "outcome", "reason", "cause"}) {
      EXPECT_TRUE(audit.contains(field)) << field << ": " << audit;
    }
    lines[{audit["watch_id"].get<int>(), audit["stream"].get<std::string>()}] = audit;
  }
  ASSERT_EQ(lines.size(), 5u);
  const nlohmann::ordered_json& opened = lines[{1, "open"}];
  EXPECT_EQ(opened["keys"], nlohmann::ordered_json::array({"default"}));
  EXPECT_EQ(opened["key_count"], 1);
  EXPECT_EQ(opened["every_key"], false);
  EXPECT_EQ(opened["outcome"], "OK");
  EXPECT_EQ(opened["cause"], "none");
  const nlohmann::ordered_json& ended = lines[{1, "end"}];
  EXPECT_EQ(ended["keys"], nlohmann::ordered_json::array({"default"}));
  EXPECT_EQ(ended["ended"], "cancelled");
  EXPECT_EQ(ended["events_sent"], 1);
  EXPECT_TRUE(ended["duration_ms"].is_number()) << ended;
  EXPECT_EQ(ended["outcome"], "CANCELLED");
  EXPECT_EQ(ended["cause"], "client");
  const nlohmann::ordered_json& refused = lines[{2, "open"}];
  EXPECT_EQ(refused["keys"], nlohmann::ordered_json::array({"no-such-alias"}));
  EXPECT_EQ(refused["outcome"], "NOT_FOUND");
  EXPECT_EQ(refused["reason"], "KEY_NOT_FOUND");
  EXPECT_EQ(refused["cause"], "client");
  EXPECT_TRUE(refused.contains("error"));
  EXPECT_FALSE(lines.count({2, "end"})) << "a refused watch has one line";
  const nlohmann::ordered_json& every = lines[{3, "open"}];
  EXPECT_EQ(every["every_key"], true);
  EXPECT_EQ(every["keys"], nlohmann::ordered_json::array({"default"}));
  const nlohmann::ordered_json& shutdown = lines[{3, "end"}];
  EXPECT_EQ(shutdown["ended"], "shutdown");
  EXPECT_EQ(shutdown["outcome"], "UNAVAILABLE");
  EXPECT_EQ(shutdown["cause"], "none");
  EXPECT_EQ(shutdown["events_sent"], 1);
}

// gRPC tells the server alike of a client's cancel and of its deadline
// passing; the broker tells them apart, so that a watch that ran out of its
// client's time is audited and counted as DEADLINE_EXCEEDED (the client's
// doing, as for the other RPCs), and a cancel before the deadline as CANCELLED.
TEST_F(ObservabilityTest, AWatchPastItsDeadlineEndsDeadlineExceededNotCancelled) {
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    auto reader = OpenWatch(stub_.get(), &context, {"default"});
    v1::KeyEvent event;
    while (reader->Read(&event)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {
    // A deadline far off: the cancel is the client's, not its deadline's.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = OpenWatch(stub_.get(), &context, {"default"});
    v1::KeyEvent event;
    ASSERT_TRUE(reader->Read(&event));
    context.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  std::vector<nlohmann::ordered_json> audits = AuditLines(4);
  ASSERT_EQ(audits.size(), 4u);
  std::map<int, nlohmann::ordered_json> ends;  // by watch_id
  for (const nlohmann::ordered_json& audit : audits) {
    if (audit["stream"] == "end") ends[audit["watch_id"].get<int>()] = audit;
  }
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(ends[1]["ended"], "deadline") << ends[1];
  EXPECT_EQ(ends[1]["outcome"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(ends[1]["reason"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(ends[1]["cause"], "client");
  EXPECT_EQ(ends[2]["ended"], "cancelled") << ends[2];
  EXPECT_EQ(ends[2]["outcome"], "CANCELLED");
  EXPECT_EQ(ends[2]["reason"], "");
  EXPECT_EQ(ends[2]["cause"], "client");

  // Counted as the audit lines say; neither is the service's fault.
  const std::string rpcs = "keybroker_rpc_requests_total";
  PrometheusScrape scrape = Scrape();
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "WatchKeys"},
                               {"code", "DEADLINE_EXCEEDED"},
                               {"reason", "DEADLINE_EXCEEDED"},
                               {"cause", "client"}}),
            1);
  EXPECT_EQ(scrape.Find(rpcs, {{"method", "WatchKeys"},
                               {"code", "CANCELLED"},
                               {"reason", "none"},
                               {"cause", "client"}}),
            1);
  EXPECT_EQ(scrape.Sum(rpcs, {{"method", "WatchKeys"}, {"cause", "service"}}), 0);
  EXPECT_EQ(scrape.Find("keybroker_rpcs_in_flight", {{"method", "WatchKeys"}}), 0);
}

// Each open stream holds memory: max_watch_streams bounds how many are open
// at once (more: SERVER_BUSY with a retry delay, counted as the service's),
// and a key named twice in one request is watched once.
TEST(WatchLimitsTest, StreamsAreBoundedAndAKeyNamedTwiceIsWatchedOnce) {
  TempDir dir;
  WriteAll(dir.File("master-key"), std::string(64, '7'));
  WriteAll(dir.File("config.yaml"),
           "listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nmax_watch_streams: 2\n"
           "kms:\n  local:\n    keyring_file: " + dir.File("keyring") + "\n"
           "    master_key_file: " + dir.File("master-key") + "\n"
           "keys:\n  - alias: default\n    local_key: k\n");
  auto broker = BrokerProcess::Start({"--config", dir.File("config.yaml")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto stub = NewStub((*broker)->address());

  grpc::ClientContext first_context;
  auto first = OpenWatch(stub.get(), &first_context, {"default"});
  v1::KeyEvent event;
  ASSERT_TRUE(first->Read(&event));
  EXPECT_EQ(event.key(), "default");
  grpc::ClientContext second_context;
  auto second = OpenWatch(stub.get(), &second_context, {"default"});
  ASSERT_TRUE(second->Read(&event));

  grpc::ClientContext third_context;
  auto third = OpenWatch(stub.get(), &third_context, {"default"});
  EXPECT_FALSE(third->Read(&event));
  grpc::Status refused = third->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcReasonOf(refused), "SERVER_BUSY");
  EXPECT_THAT(refused.error_message(), HasSubstr("max_watch_streams"));

  // The room comes back once the broker is done with a stream. The stream
  // that takes it names its key three times and gets one opening event.
  first_context.TryCancel();
  static_cast<void>(first->Finish());
  bool reopened = false;
  for (int attempt = 0; attempt < 100 && !reopened; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    auto again = OpenWatch(stub.get(), &context, {"default", "default", "default"});
    reopened = again->Read(&event);
    if (reopened) {
      EXPECT_EQ(event.key(), "default");
      EXPECT_FALSE(again->Read(&event)) << "a second event for the same key";
      EXPECT_EQ(again->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    } else {
      static_cast<void>(again->Finish());
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  EXPECT_TRUE(reopened);
  second_context.TryCancel();
  static_cast<void>(second->Finish());

  absl::StatusOr<HttpGetResponse> metrics = HttpGet((*broker)->MetricsAddress(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics->body);
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_GE(scrape->Sum("keybroker_rpc_requests_total", {{"method", "WatchKeys"},
                                                         {"reason", "SERVER_BUSY"},
                                                         {"cause", "service"}}),
            1);
}

}  // namespace
}  // namespace keybroker::testing
