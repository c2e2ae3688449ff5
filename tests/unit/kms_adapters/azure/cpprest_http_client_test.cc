// CpprestHttpClient against a real local HTTPS server (tiny_https_server.py)
// with certificates made by the openssl command line tool.
#include "kms_adapters/azure/cpprest_http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/kms_adapters/azure/tiny_https_server.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::IsOk;
using ::keybroker::testing::OpensslCli;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TinyHttpsServer;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Time In(absl::Duration duration) { return absl::Now() + duration; }

HttpRequest Get(std::string url) {
  HttpRequest request;
  request.method = "GET";
  request.url = std::move(url);
  return request;
}

// A loopback port that refuses connections: bound, never listening.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class CpprestHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeCa("ca")) << openssl_.last_log();
    ASSERT_TRUE(MakeServerCert("server", "ca", "IP:127.0.0.1,DNS:localhost"))
        << openssl_.last_log();
    absl::StatusOr<std::unique_ptr<TinyHttpsServer>> server =
        TinyHttpsServer::Start(openssl_.Path("server.pem"), openssl_.Path("server.key"));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }

  // Makes CA `name` (name.pem, name.key).
  bool MakeCa(const std::string& name) {
    return openssl_.Run(
        absl::StrCat("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
                     name, ".key -out ", name, ".pem -days 2 -subj '/CN=keybroker test ", name, "'",
                     " -addext basicConstraints=critical,CA:TRUE",
                     " -addext keyUsage=critical,keyCertSign,cRLSign"));
  }

  // Makes a server certificate `name` (name.pem, name.key) issued by CA `ca`
  // for subjectAltName `san`.
  bool MakeServerCert(const std::string& name, const std::string& ca, const std::string& san) {
    openssl_.Write(name + ".ext", absl::StrCat("subjectAltName=", san,
                                               "\nbasicConstraints=CA:FALSE\n"
                                               "extendedKeyUsage=serverAuth\n"));
    return openssl_.Run(absl::StrCat("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes",
                                     " -keyout ", name, ".key -out ", name,
                                     ".csr -subj /CN=", name)) &&
           openssl_.Run(absl::StrCat("x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                                     ".key -CAcreateserial -days 2 -out ", name, ".pem -extfile ",
                                     name, ".ext"));
  }

  std::unique_ptr<CpprestHttpClient> ClientTrusting(const std::string& ca_name,
                                                    absl::Duration timeout = absl::Seconds(30)) {
    TlsTrust trust;
    trust.ca_file = openssl_.Path(ca_name + ".pem");
    absl::StatusOr<std::unique_ptr<CpprestHttpClient>> client =
        CpprestHttpClient::Create(trust, timeout);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }

  OpensslCli openssl_;
  std::unique_ptr<TinyHttpsServer> server_;
};

TEST_F(CpprestHttpClientTest, GetRoundTrip) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  HttpRequest request = Get(server_->Url("/echo?x=1"));
  request.headers = {{"Accept", "application/json"}, {"X-Test", "yes"}};

  absl::StatusOr<HttpResponse> response = client->Send(request, In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("x-echo-method"), "GET");
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  nlohmann::json echo = nlohmann::json::parse(response->body);
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["path"], "/echo?x=1");
  EXPECT_EQ(echo["headers"]["x-test"], "yes");
  EXPECT_EQ(echo["headers"]["accept"], "application/json");
  EXPECT_EQ(echo["headers"]["host"], absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_EQ(echo["body"], "");
}

TEST_F(CpprestHttpClientTest, PostRoundTripKeepsContentType) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  HttpRequest request;
  request.method = "POST";
  request.url = server_->Url("/echo");
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer t0ken"}};
  request.body = R"({"alg":"RSA-OAEP-256","value":"abc"})";

  absl::StatusOr<HttpResponse> response = client->Send(request, In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("X-Echo-Method"), "POST");
  nlohmann::json echo = nlohmann::json::parse(response->body);
  EXPECT_EQ(echo["body"], request.body);
  EXPECT_EQ(echo["headers"]["content-type"], "application/json");
  EXPECT_EQ(echo["headers"]["content-length"], std::to_string(request.body.size()));
  EXPECT_EQ(echo["headers"]["authorization"], "Bearer t0ken");
}

// Key Vault requires a Content-Length on POSTs such as rotate.
TEST_F(CpprestHttpClientTest, EmptyPostSendsContentLengthZero) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  HttpRequest request = Get(server_->Url("/echo"));
  request.method = "POST";

  absl::StatusOr<HttpResponse> response = client->Send(request, In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(nlohmann::json::parse(response->body)["headers"]["content-length"], "0");
}

TEST_F(CpprestHttpClientTest, ServerErrorIsAResponseNotAnError) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");

  absl::StatusOr<HttpResponse> response =
      client->Send(Get(server_->Url("/echo?status=500")), In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(nlohmann::json::parse(response->body)["method"], "GET");
}

TEST_F(CpprestHttpClientTest, HostNameInCertificateSanWorks) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");

  absl::StatusOr<HttpResponse> response =
      client->Send(Get(server_->Url("/echo", "localhost")), In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
}

TEST_F(CpprestHttpClientTest, ReusesTheClientAcrossRequests) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<HttpResponse> response =
        client->Send(Get(server_->Url(absl::StrCat("/echo?i=", i))), In(absl::Seconds(20)));
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(nlohmann::json::parse(response->body)["path"], absl::StrCat("/echo?i=", i));
  }
}

TEST_F(CpprestHttpClientTest, ConcurrentRequestsAllSucceed) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  std::vector<std::thread> threads;
  std::vector<int> statuses(16, 0);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<HttpResponse> response =
          client->Send(Get(server_->Url("/echo")), In(absl::Seconds(20)));
      statuses[i] = response.ok() ? response->status : -1;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(statuses, ::testing::Each(200));
}

TEST_F(CpprestHttpClientTest, UntrustedCaFailsWithUnavailable) {
  ASSERT_TRUE(MakeCa("other-ca")) << openssl_.last_log();
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("other-ca");

  EXPECT_THAT(client->Send(Get(server_->Url("/echo")), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1")));
}

// A configured bundle replaces the system roots rather than adding to them,
// and the system roots do not include the test CA: both refuse the server.
TEST_F(CpprestHttpClientTest, SystemRootsDoNotTrustTheTestCa) {
  absl::StatusOr<std::unique_ptr<CpprestHttpClient>> client =
      CpprestHttpClient::Create(TlsTrust{}, absl::Seconds(30));
  ASSERT_THAT(client, IsOk());

  EXPECT_THAT((*client)->Send(Get(server_->Url("/echo")), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kUnavailable));
}

// OpenSSL's default verify paths honour SSL_CERT_FILE: pointing it at the
// test CA makes the "system roots" trust the server, so a client configured
// with another CA shows whether the system roots were dropped.
TEST_F(CpprestHttpClientTest, ConfiguredCaReplacesTheSystemRoots) {
  ASSERT_TRUE(MakeCa("other-ca")) << openssl_.last_log();
  ASSERT_EQ(::setenv("SSL_CERT_FILE", openssl_.Path("ca.pem").c_str(), 1), 0);
  absl::StatusOr<std::unique_ptr<CpprestHttpClient>> system_roots =
      CpprestHttpClient::Create(TlsTrust{}, absl::Seconds(30));
  std::unique_ptr<CpprestHttpClient> other_ca_only = ClientTrusting("other-ca");
  ASSERT_THAT(system_roots, IsOk());

  absl::StatusOr<HttpResponse> via_system_roots =
      (*system_roots)->Send(Get(server_->Url("/echo")), In(absl::Seconds(20)));
  absl::StatusOr<HttpResponse> via_other_ca =
      other_ca_only->Send(Get(server_->Url("/echo")), In(absl::Seconds(20)));
  ::unsetenv("SSL_CERT_FILE");

  EXPECT_THAT(via_system_roots, IsOk());
  EXPECT_THAT(via_other_ca, StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(CpprestHttpClientTest, HostNameMismatchFailsWithUnavailable) {
  ASSERT_TRUE(MakeServerCert("wrong-name", "ca", "DNS:wrong.example")) << openssl_.last_log();
  absl::StatusOr<std::unique_ptr<TinyHttpsServer>> wrong_server =
      TinyHttpsServer::Start(openssl_.Path("wrong-name.pem"), openssl_.Path("wrong-name.key"));
  ASSERT_THAT(wrong_server, IsOk());
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");

  EXPECT_THAT(client->Send(Get((*wrong_server)->Url("/echo")), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(CpprestHttpClientTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  TlsTrust trust;
  trust.insecure_skip_verify = true;
  absl::StatusOr<std::unique_ptr<CpprestHttpClient>> client =
      CpprestHttpClient::Create(trust, absl::Seconds(30));
  ASSERT_THAT(client, IsOk());

  absl::StatusOr<HttpResponse> response =
      (*client)->Send(Get(server_->Url("/echo")), In(absl::Seconds(20)));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
}

TEST_F(CpprestHttpClientTest, SlowServerGivesDeadlineExceededAtTheDeadline) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  absl::Time start = absl::Now();

  EXPECT_THAT(client->Send(Get(server_->Url("/sleep?seconds=5")), start + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("127.0.0.1")));

  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The cancelled request does not poison the client.
  absl::StatusOr<HttpResponse> response =
      client->Send(Get(server_->Url("/echo")), In(absl::Seconds(20)));
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
}

// A hung attempt that runs out its request timeout while the caller still has
// time is a transport failure (retryable), not the caller's deadline.
TEST_F(CpprestHttpClientTest, RequestTimeoutBeforeDeadlineGivesUnavailable) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca", absl::Seconds(1));
  absl::Time start = absl::Now();

  EXPECT_THAT(client->Send(Get(server_->Url("/sleep?seconds=5")), start + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("no response within")));

  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(CpprestHttpClientTest, PassedDeadlineSendsNothing) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");

  EXPECT_THAT(client->Send(Get(server_->Url("/echo")), absl::Now() - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(CpprestHttpClientTest, ConnectionRefusedIsUnavailableWithoutSecrets) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");
  RefusingPort refusing;
  HttpRequest request;
  request.method = "POST";
  request.url = absl::StrCat("https://127.0.0.1:", refusing.port(), "/keys/k/unwrapkey");
  request.headers = {{"Authorization", "Bearer secret-token"}};
  request.body = "secret-body";
  absl::Time start = absl::Now();

  absl::StatusOr<HttpResponse> response = client->Send(request, start + absl::Seconds(20));

  EXPECT_THAT(response, StatusIs(absl::StatusCode::kUnavailable,
                                 AllOf(HasSubstr("127.0.0.1"), Not(HasSubstr("secret")))));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(CpprestHttpClientTest, CaFileRemovedAfterCreateIsUnavailableNotACrash) {
  ASSERT_TRUE(MakeCa("short-lived-ca")) << openssl_.last_log();
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("short-lived-ca");
  ASSERT_EQ(std::remove(openssl_.Path("short-lived-ca.pem").c_str()), 0);

  EXPECT_THAT(client->Send(Get(server_->Url("/echo")), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(CpprestHttpClientTest, MalformedUrlIsInvalidArgument) {
  std::unique_ptr<CpprestHttpClient> client = ClientTrusting("ca");

  EXPECT_THAT(client->Send(Get("ftp://127.0.0.1/x"), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client->Send(Get(server_->Url("/keys/not encoded")), In(absl::Seconds(20))),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CpprestHttpClientTest, CreateRefusesAnUnreadableCaFileNamingIt) {
  TlsTrust trust;
  trust.ca_file = openssl_.Path("missing.pem");

  EXPECT_THAT(CpprestHttpClient::Create(trust, absl::Seconds(30)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(trust.ca_file)));
}

TEST_F(CpprestHttpClientTest, CreateRefusesACaFileWithoutCertificates) {
  openssl_.Write("garbage.pem", "not a certificate\n");
  TlsTrust trust;
  trust.ca_file = openssl_.Path("garbage.pem");

  EXPECT_THAT(CpprestHttpClient::Create(trust, absl::Seconds(30)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(trust.ca_file)));
}

TEST_F(CpprestHttpClientTest, CreateRefusesANonPositiveTimeout) {
  EXPECT_THAT(CpprestHttpClient::Create(TlsTrust{}, absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keybroker::kms::azure
