// Helpers shared by the Entra ID credential tests: decoding the form bodies
// the credentials send and scripting token endpoint answers.
#ifndef KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_TESTING_H_
#define KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_TESTING_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/fakes/fake_http_client.h"

namespace keybroker::testing {

// Decodes %XX (and '+', which the credentials never send, as a space).
inline std::string UrlDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    int byte = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        absl::SimpleHexAtoi(text.substr(i + 1, 2), &byte)) {
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
  }
  return out;
}

// The fields of an application/x-www-form-urlencoded body, decoded.
inline std::map<std::string, std::string> ParseForm(absl::string_view body) {
  std::map<std::string, std::string> fields;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    fields[UrlDecode(parts[0])] = parts.size() > 1 ? UrlDecode(parts[1]) : "";
  }
  return fields;
}

// The names of the fields of `body`, in order.
inline std::vector<std::string> FormFieldNames(absl::string_view body) {
  std::vector<std::string> names;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    names.push_back(std::string(pair.substr(0, pair.find('='))));
  }
  return names;
}

// Entra's success answer (§9.1): expires_in as a JSON number.
inline kms::azure::HttpResponse EntraToken(absl::string_view token, int expires_in = 3599) {
  return JsonResponse(200, absl::StrCat(R"({"token_type":"Bearer","expires_in":)", expires_in,
                                        R"(,"ext_expires_in":)", expires_in, R"(,"access_token":")",
                                        token, R"("})"));
}

// An Entra error body (§9.4 shape) with `status`, `error` and AADSTS `code`.
inline kms::azure::HttpResponse EntraError(int status, absl::string_view error, int code,
                                           absl::string_view text) {
  return JsonResponse(
      status,
      absl::StrCat(R"({"error":")", error, R"(","error_description":"AADSTS)", code, ": ", text,
                   R"(\r\nTrace ID: 0b1c\r\nCorrelation ID: 9e8d\r\nTimestamp: )"
                   R"(2024-01-01 00:00:00Z","error_codes":[)",
                   code,
                   R"(],"timestamp":"2024-01-01 00:00:00Z","trace_id":"0b1c",)"
                   R"("correlation_id":"9e8d","error_uri":)"
                   R"("https://login.microsoftonline.com/error?code=)",
                   code, R"("})"));
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_TESTING_H_
