// libFuzzer target for key identifiers and URLs (kms_adapters/azure/key_id.h,
// url.h): the azure_key of each configured key, the authority and IMDS
// endpoints, and every URL the transport is asked to send to. The input is
// one string, read as a key identifier and as a URL.
//
// Invariants:
// - a key identifier that parses is canonical: written back as
//   https://{host}/keys/{name}[/{version}] it parses to the same KeyId; its
//   host is one the transport accepts (ParseUrl of VaultUrl() gives that
//   host, lower case), its name 1-127 of [0-9a-z-], its version empty or 32
//   lowercase hex, and its EDEK name at most 255 bytes;
// - a URL that parses has an http(s) scheme, a host without user info, a
//   port in 1..65535, a path starting with '/' and no fragment; its origin
//   parses to the same scheme, host and port;
// - the cloud inferred from a host names the authority and a scope on the
//   same cloud's suffix;
// - UrlEncode keeps only unreserved characters and percent-decodes back to
//   its input;
// - every failure is INVALID_ARGUMENT (NOT_FOUND for an unknown cloud).
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "kms_adapters/azure/key_id.h"
#include "kms_adapters/azure/url.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

namespace az = kms::azure;

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckKeyId(absl::string_view input) {
  absl::StatusOr<az::KeyId> id = az::ParseKeyId(input);
  if (!id.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(id.status()), id.status().ToString());
    return;
  }
  FUZZ_CHECK(id->scheme == "https");
  FUZZ_CHECK(!id->name.empty() && id->name.size() <= 127, id->name);
  for (char c : id->name) {
    FUZZ_CHECK(
        absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z') || c == '-',
        id->name);
  }
  FUZZ_CHECK(id->version.empty() || (id->version.size() == 32 && IsLowerHex(id->version)),
             id->version);
  FUZZ_CHECK(id->EdekName().size() <= 255);

  // The vault URL is where requests go: the transport must accept it as is.
  absl::StatusOr<az::Url> vault = az::ParseUrl(id->VaultUrl());
  FUZZ_CHECK(vault.ok(), "key identifier '", input,
             "' has a host the transport refuses: ", vault.status().ToString());
  FUZZ_CHECK(vault->scheme == "https" && vault->path_and_query == "/", id->VaultUrl());
  // The same host, and the port the identifier names, if any.
  absl::string_view port = id->host;
  FUZZ_CHECK(
      vault->host == absl::AsciiStrToLower(vault->host) && absl::ConsumePrefix(&port, vault->host),
      id->host);
  int port_number = 443;
  FUZZ_CHECK(port.empty() || port == ":" ||
                 (absl::ConsumePrefix(&port, ":") && absl::SimpleAtoi(port, &port_number)),
             id->host);
  FUZZ_CHECK(vault->port == port_number, id->host);

  std::string written =
      absl::StrCat(id->VaultUrl(), "/keys/", id->name, id->version.empty() ? "" : "/", id->version);
  absl::StatusOr<az::KeyId> again = az::ParseKeyId(written);
  FUZZ_CHECK(again.ok(), written, ": ", again.status().ToString());
  FUZZ_CHECK(again->host == id->host && again->name == id->name && again->version == id->version,
             written);

  absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(id->host);
  if (!cloud.ok()) {
    FUZZ_CHECK(absl::IsNotFound(cloud.status()), cloud.status().ToString());
    return;
  }
  FUZZ_CHECK(absl::StartsWith(cloud->authority, "https://login.") &&
                 absl::StartsWith(cloud->scope, "https://") &&
                 absl::EndsWith(cloud->scope, "/.default"),
             cloud->scope);
  // The scope is the resource: the host's own suffix, e.g. vault.azure.net.
  absl::string_view resource = cloud->scope;
  absl::ConsumePrefix(&resource, "https://");
  absl::ConsumeSuffix(&resource, "/.default");
  std::string bare = id->host.substr(0, id->host.find(':'));
  FUZZ_CHECK(absl::EndsWith(bare, absl::StrCat(".", resource)) && bare.size() > resource.size() + 1,
             bare, " ", cloud->scope);
}

void CheckUrl(absl::string_view input) {
  absl::StatusOr<az::Url> url = az::ParseUrl(input);
  if (!url.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(url.status()), url.status().ToString());
    return;
  }
  FUZZ_CHECK(url->scheme == "https" || url->scheme == "http", url->scheme);
  FUZZ_CHECK(!url->host.empty() && url->host.find('@') == std::string::npos, url->host);
  FUZZ_CHECK(url->port >= 1 && url->port <= 65535);
  FUZZ_CHECK(absl::StartsWith(url->path_and_query, "/") &&
                 url->path_and_query.find('#') == std::string::npos,
             url->path_and_query);
  absl::StatusOr<az::Url> origin = az::ParseUrl(url->Origin());
  FUZZ_CHECK(origin.ok(), url->Origin(), ": ", origin.status().ToString());
  FUZZ_CHECK(origin->scheme == url->scheme && origin->host == url->host &&
                 origin->port == url->port && origin->path_and_query == "/",
             url->Origin());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // UrlEncode writes upper case only
}

void CheckUrlEncode(absl::string_view input) {
  std::string encoded = az::UrlEncode(input);
  std::string decoded;
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      FUZZ_CHECK(
          i + 2 < encoded.size() && HexValue(encoded[i + 1]) >= 0 && HexValue(encoded[i + 2]) >= 0,
          encoded);
      decoded.push_back(
          static_cast<char>(HexValue(encoded[i + 1]) * 16 + HexValue(encoded[i + 2])));
      i += 2;
    } else {
      FUZZ_CHECK(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                     c == '_' || c == '~',
                 encoded);
      decoded.push_back(c);
    }
  }
  FUZZ_CHECK(decoded == input, "UrlEncode does not decode back");
}

void TestOneInput(absl::string_view input) {
  CheckKeyId(input);
  CheckUrl(input);
  CheckUrlEncode(input);
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
