// Encryptor: local envelope encryption with DEKs from the broker.
//
// Encrypt(key alias, plaintext, aad) seals with AES-256-GCM under a cached
// DEK of that alias and returns a self-describing ciphertext (format byte,
// EDEK, nonce, ciphertext, tag; docs/ciphertext-format.md describes it byte
// by byte). Decrypt(ciphertext, aad) unwraps the EDEK through the broker (or
// a bounded decrypt-side cache) and opens it.
//
// DEK reuse is bounded by a number of encryptions (never above 2^32, the
// random 96-bit nonce limit) and by age. A replacement DEK is fetched in the
// background (one thread per fetch, at most one fetch per alias at a time)
// before the current one runs out, so once warm an Encrypt never waits on
// the broker; concurrent misses for one alias share one broker call. DEKs are
// zeroed when evicted. When the broker is unreachable and the cached DEK is
// used up, Encrypt fails with the broker's error; it never returns plaintext.
//
// Revocation: when its source can watch keys (Client: the WatchKeys stream;
// EncryptorOptions::watch_keys), the Encryptor hears when the broker finds a
// key inaccessible and drops at once that key's DEKs and the cached unwraps
// of EDEKs made under it, so that the next Encrypt or Decrypt asks the broker
// (and gets its refusal) whatever max_dek_age and decrypt_cache_ttl say.
//
// Safe for concurrent use. A warm Encrypt takes no lock and writes nothing
// another thread writes (each thread reserves uses of the DEK in blocks and
// has its own cipher context keyed with it); a warm Decrypt of the DEK the
// thread last decrypted with takes no lock either, and one of another cached
// DEK takes the decrypt cache's lock briefly. Both allocate only the returned
// string (EncryptInto, EncryptToBuffer and DecryptInto not even that) and do
// no I/O.
#ifndef KEYBROKER_SDK_ENCRYPTOR_H_
#define KEYBROKER_SDK_ENCRYPTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "keybroker/sdk/clock.h"
#include "keybroker/sdk/dek_source.h"

namespace keybroker::sdk {

struct EncryptorOptions {
  // Encryptions per DEK. Values above 2^32 (the AES-GCM limit for random
  // 96-bit nonces) are capped at 2^32; 0 is INVALID_ARGUMENT.
  uint64_t max_encryptions_per_dek = uint64_t{1} << 24;
  // How long after it arrived a DEK may encrypt. This is also how long
  // after a rotation old-version DEKs are still used, and, unless the key
  // watch (watch_keys) says so sooner, how long Encrypt keeps working after
  // access to the key is removed: choose it within the bounds promised to
  // customers. (A DEK fetch per alias every few minutes costs nothing
  // measurable.)
  absl::Duration max_dek_age = absl::Minutes(5);
  // Fetch the next DEK in the background when this fraction of either budget
  // is used; in (0, 1]. An alias idle through the last (1 - refresh_at) of
  // max_dek_age gets its next DEK on demand, and that Encrypt waits.
  double refresh_at = 0.75;
  // After a background fetch fails, the next one starts no sooner than this,
  // or than the broker's retry delay (KMS_THROTTLED, SERVER_BUSY; at most
  // 5 minutes) if longer. (An Encrypt that has no DEK left always fetches,
  // and waits.)
  absl::Duration background_retry_delay = absl::Seconds(1);
  // Decrypt-side cache of unwrapped DEKs; 0 entries or a zero TTL caches
  // nothing. Without the key watch (watch_keys), the TTL adds to the
  // revocation bound: a cached DEK keeps decrypting for up to this long after
  // access to its key is removed.
  size_t decrypt_cache_entries = 10000;
  // The default matches the broker's default revocation bound (30 s).
  absl::Duration decrypt_cache_ttl = absl::Seconds(30);
  // The encryption context every DEK of this Encryptor is bound to. Decrypt
  // unwraps with it too: the decrypting Encryptor must use the same one.
  Context dek_context;
  // Where DEK ages and cache TTLs are measured; nullptr means
  // MonotonicClock(). Must outlive the Encryptor. For tests.
  const Clock* clock = nullptr;
  // Subscribe to the source's key events (DekSource::WatchKeys, for every
  // key) for as long as the Encryptor lives, and drop a key's DEKs and
  // cached unwraps as soon as the broker finds the key inaccessible: the
  // revocation bound is then the broker's (its access probe interval plus a
  // request), not max_dek_age and decrypt_cache_ttl. Costs one stream to the
  // broker and one thread per Encryptor; the records' hot paths are
  // unchanged. Without the broker (a dropped stream, being reconnected) the
  // TTLs bound revocation as before; on reconnection the broker's current
  // state is applied. A source that cannot watch (an in-process one) makes
  // this a no-op. false: no stream, TTLs only.
  bool watch_keys = true;
};

class Encryptor {
 public:
  // `source` must outlive the Encryptor. INVALID_ARGUMENT (reason
  // INVALID_REQUEST) for a null source or bad options. Does no I/O itself;
  // with watch_keys, the source's watch connects in the background.
  static absl::StatusOr<std::unique_ptr<Encryptor>> Create(DekSource* source,
                                                           EncryptorOptions options);
  // Stops the key watch, and waits for background DEK fetches in flight (as
  // long as the source's own call timeout). No Encrypt or Decrypt may be
  // running.
  ~Encryptor();

  // OK when the Encryptor follows key events, or does not watch at all
  // (watch_keys false, or a source that cannot). Otherwise the watch's
  // KeyWatch::status(): UNIMPLEMENTED from a broker older than WatchKeys,
  // for good (revocation then waits for the TTLs), or the error it is
  // reconnecting after. For health checks and start-up logs.
  absl::Status KeyWatchStatus() const;

  // Returns the ciphertext of `plaintext` (docs/ciphertext-format.md),
  // authenticated with `aad`, under the current DEK of `key_alias`. Waits
  // for the source only when the alias has no DEK with budget left.
  // INVALID_ARGUMENT (INVALID_REQUEST) for an empty alias or a plaintext over
  // 2^31 - 1 bytes; the source's error (KEY_NOT_ACCESSIBLE, KMS_UNAVAILABLE,
  // ..., code and reason kept) when the DEK fetch it waited for failed.
  absl::StatusOr<std::string> Encrypt(absl::string_view key_alias, absl::string_view plaintext,
                                      absl::string_view aad);

  // As Encrypt, writing the ciphertext into `out` (its contents replaced,
  // its capacity reused): once `out` is large enough, nothing is allocated.
  // On error `out` is empty.
  absl::Status EncryptInto(absl::string_view key_alias, absl::string_view plaintext,
                           absl::string_view aad, std::string& out);

  // As Encrypt, into memory the caller provides once the ciphertext's size
  // is known: `buffer_for(size)` is called at most once, with the exact
  // size, and returns at least that many writable bytes (fewer, or an empty
  // span: RESOURCE_EXHAUSTED). Returns the size written. For callers that
  // hand the ciphertext on without copying it (EncryptingProducer gives
  // librdkafka a malloc'd buffer to own). Whatever the outcome, the buffer
  // holds nothing of the plaintext.
  absl::StatusOr<size_t> EncryptToBuffer(absl::string_view key_alias, absl::string_view plaintext,
                                         absl::string_view aad,
                                         absl::FunctionRef<absl::Span<char>(size_t)> buffer_for);

  // Returns the plaintext, or INVALID_ARGUMENT (reason EDEK_INVALID) when the
  // ciphertext is malformed, tampered with, truncated, or `aad` differs; the
  // broker's Unwrap errors (KEY_NOT_ACCESSIBLE...) as they are. Unwraps the
  // EDEK with options.dek_context unless the decrypt cache has its DEK.
  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext, absl::string_view aad);

  // As Decrypt, writing the plaintext into `plaintext` (its contents
  // replaced, its capacity reused). On error `plaintext` is empty.
  absl::Status DecryptInto(absl::string_view ciphertext, absl::string_view aad,
                           std::string& plaintext);

 private:
  class Impl;
  explicit Encryptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_ENCRYPTOR_H_
