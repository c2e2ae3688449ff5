// Builds the KMS adapters and key bindings a configuration describes.
#ifndef KEYBROKER_SERVER_REGISTRY_FACTORY_H_
#define KEYBROKER_SERVER_REGISTRY_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "kms_adapters/kms_observer.h"
#include "server/config.h"
#include "server/key_registry.h"

namespace keybroker::server {

// Opens every configured KMS (the local keyring: read or create it, load the
// master key) and binds every alias. Fails with a message naming the problem
// (bad master key, corrupted keyring...) without modifying anything on disk.
// The KMSs report their requests to `observer`, which must outlive them.
absl::StatusOr<std::unique_ptr<KeyRegistry>> BuildKeyRegistry(
    const Config& config, kms::KmsObserver* observer = kms::NoKmsObserver());

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_REGISTRY_FACTORY_H_
