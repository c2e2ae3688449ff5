// KeyedDek: a DEK with the AES-GCM contexts keyed with it, one per thread
// (crypto/aes_gcm_per_thread.h), so that each record sets only its nonce.
// The DEK and the key schedules are wiped when the object goes. Immutable;
// share it as a shared_ptr<const KeyedDek>.
#ifndef KEYBROKER_CLIENT_SDK_SRC_KEYED_DEK_H_
#define KEYBROKER_CLIENT_SDK_SRC_KEYED_DEK_H_

#include <utility>

#include "crypto/aes_gcm_per_thread.h"
#include "crypto/secret_bytes.h"

namespace keybroker::sdk::internal {

struct KeyedDek {
  // `dek` is 32 bytes (callers check).
  explicit KeyedDek(crypto::SecretBytes dek) : bytes(std::move(dek)), cipher(bytes) {}

  const crypto::SecretBytes bytes;
  const crypto::AesGcmPerThread cipher;  // keyed with `bytes`, declared after it
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_KEYED_DEK_H_
