// Shared by the component checks: a DEK source for a broker that is never
// reached, and how a check reports a failure.
#ifndef KEYBROKER_EXAMPLES_SDK_CONSUMER_NO_BROKER_H_
#define KEYBROKER_EXAMPLES_SDK_CONSUMER_NO_BROKER_H_

#include <cstdio>

#include "keybroker/sdk/dek_source.h"

namespace {

class NoBroker : public keybroker::sdk::DekSource {
 public:
  absl::StatusOr<keybroker::sdk::DataKey> GenerateDek(absl::string_view,
                                                      const keybroker::sdk::Context&) override {
    return absl::UnavailableError("no broker");
  }
  absl::StatusOr<keybroker::crypto::SecretBytes> Unwrap(absl::string_view,
                                                        const keybroker::sdk::Context&) override {
    return absl::UnavailableError("no broker");
  }
};

int Fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  return 1;
}

}  // namespace

#endif  // KEYBROKER_EXAMPLES_SDK_CONSUMER_NO_BROKER_H_
