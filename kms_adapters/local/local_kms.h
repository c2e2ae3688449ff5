// LocalKms: the embedded, service-managed keyring (no cloud needed).
//
// Key ids are local key names. Each key has AES-256 versions 1, 2, ...; wraps
// use the current version: a per-EDEK key HKDF-SHA-256(version key, 32-byte
// random salt, "keybroker local wrap v1"), AES-256-GCM with a zero nonce
// (each derived key seals once), and as associated data the EDEK's
// authenticated header followed by the canonical encryption context, so
// neither the header nor the context can change without Unwrap failing.
//
// The keyring lives in an encrypted file (keyring_file.h). A rotation writes
// the new keyring to disk before it becomes visible, so no EDEK is ever made
// under a version that is not durable.
//
// With several replicas the keyring is mounted read-only into each of them
// (read_only): Rotate refuses, the file is rotated out of band (keybrokerctl
// keyring rotate), and a background thread looks at the file every
// reload_interval. A change is told by the SHA-256 of the bytes read, not by
// mtime or inode: a Kubernetes Secret update swaps a `..data` symlink, and
// mtimes can be coarse. A new keyring is taken only when it keeps every key
// and version the current one holds (Keyring::CheckSupersedes); anything
// else is logged once per distinct file and the current keyring stays.
//
// During such a rollout some replicas have the new version and others not
// yet. An EDEK naming a version above a read-only replica's current one (or
// an EDEK-authentication tag naming one, DerivePurposeKey) makes the replica
// look at the file at once (ReloadOnDemand: at most once per
// on_demand_reload_spacing, so crafted EDEKs cannot make it reread the file at
// every call). If the version is still missing and at most
// max_versions_ahead above the current one, the answer is UNAVAILABLE /
// KEY_VERSION_NOT_YET_LOADED with a retry delay: the caller retries
// (elsewhere) and nothing is lost. Further above, no rollout can be bringing
// it and it is EDEK_INVALID as before: a crafted EDEK gets a permanent
// answer. (One within the window that was crafted becomes EDEK_INVALID once
// the keyring really reaches that version: it does not authenticate.) A
// writable keyring has no peers to be behind: any version it does not hold
// is EDEK_INVALID.
//
// A key may have a floor (min_decryption_version, as Vault Transit has it):
// EDEKs under a version below it answer KEY_DISABLED, so that an operator
// can retire old versions once the inventory (DescribeKey) shows them out of
// use, without ever removing a version from the keyring.
//
// Thread-safe: readers take an immutable snapshot under a brief lock; writers
// (Rotate, or the reloader when read_only) are serialized and swap in a new
// snapshot.
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_lock.h"
#include "crypto/hmac.h"
#include "kms_adapters/kms.h"
#include "kms_adapters/kms_observer.h"
#include "kms_adapters/local/keyring.h"

namespace keybroker::kms {

struct LocalKmsOptions {
  std::string keyring_file;
  // The keyring is mounted read-only (several replicas): it is never written
  // (nor is any file beside it), a missing file or key is an error, Rotate
  // answers KEYRING_READ_ONLY, and the file is reloaded when it changes.
  bool read_only = false;
  // read_only: how often the file is looked at. A version rotated out of band
  // reaches every replica within this bound.
  absl::Duration reload_interval = absl::Seconds(10);
  // read_only: the least time between two looks at the file asked for by
  // EDEKs naming a version above the current one (ReloadOnDemand).
  absl::Duration on_demand_reload_spacing = absl::Seconds(1);
  // read_only: how far above the current version an EDEK may name a version
  // and be answered KEY_VERSION_NOT_YET_LOADED (a rollout this replica has
  // not taken yet) rather than EDEK_INVALID. A rollout publishes the
  // operator's keyring, which a few `keybrokerctl keyring rotate` may have
  // advanced before it was published.
  uint32_t max_versions_ahead = 4;
  // Keys the configuration refers to. Missing ones are created (and the file
  // written) unless read_only.
  std::vector<std::string> required_keys;
  // The least version of a key that Unwrap still accepts, by key name
  // (keys[].min_decryption_version, as Vault Transit has it): EDEKs under an
  // older version answer KEY_DISABLED. Keys not named here have no floor.
  // Wraps are not affected: the current version is at or above the floor
  // (the broker refuses to start otherwise), and versions only grow.
  std::map<std::string, uint32_t, std::less<>> min_decryption_versions;
  // The writer's lock on the keyring (keyring_file + ".lock"), when the caller
  // took it already; otherwise Create takes it (unless read_only).
  std::shared_ptr<FileLock> lock;
  // Told about every wrap, unwrap, rotate and attempted reload. Must outlive
  // the LocalKms.
  KmsObserver* observer = NoKmsObserver();
};

// The lock file that guards `keyring_file` against a second writer.
std::string KeyringLockPath(const std::string& keyring_file);

class LocalKms : public Kms {
 public:
  // Opens (or, unless read_only, creates) the keyring file. Fails, without
  // touching the file, when it is unreadable, truncated, corrupted or under
  // another master key, or (unless read_only) when another process holds the
  // keyring's lock.
  static absl::StatusOr<std::unique_ptr<LocalKms>> Create(LocalKmsOptions options,
                                                          crypto::SecretBytes master_key);

  // Stops the reloader (promptly: it waits on a notification, not a sleep).
  ~LocalKms() override;

  crypto::EdekKms kind() const override { return crypto::EdekKms::kLocal; }
  absl::StatusOr<KeyDescription> Describe(absl::string_view key_id,
                                          const CallOptions& options) override;
  absl::StatusOr<crypto::SecretBytes> GenerateDekMaterial(absl::string_view key_id, size_t size,
                                                         const CallOptions& options) override;
  absl::StatusOr<WrappedKey> Wrap(absl::string_view key_id, const crypto::SecretBytes& dek,
                                  const crypto::EncryptionContext& context,
                                  const CallOptions& options) override;
  absl::StatusOr<crypto::SecretBytes> Unwrap(const crypto::Edek& edek,
                                             const crypto::EncryptionContext& context,
                                             const CallOptions& options) override;
  absl::StatusOr<std::string> KeyIdOf(const crypto::Edek& edek) override;
  absl::StatusOr<std::string> Rotate(absl::string_view key_id,
                                     const CallOptions& options) override;
  // Every version of the key, with its creation time; versions below the
  // key's min_decryption_version are not enabled.
  absl::StatusOr<std::vector<KeyVersionInfo>> ListVersions(absl::string_view key_id,
                                                           const CallOptions& options) override;

  // A 32-byte key for `purpose` (an HKDF info string naming what it is for)
  // derived from version `version` of local key `key_id`, or from its
  // current version when `version` is empty; `*used_version` tells which.
  // For keys the broker uses itself (EDEK authentication), never for wraps:
  // a distinct `purpose` keeps the derived keys apart. KEY_NOT_FOUND for an
  // unknown key or version; a version above the current one of a read-only
  // keyring is looked for as Unwrap does: KEY_VERSION_NOT_YET_LOADED while a
  // rollout may still bring it.
  absl::StatusOr<crypto::SecretBytes> DerivePurposeKey(absl::string_view key_id,
                                                       absl::string_view version,
                                                       absl::string_view purpose,
                                                       std::string* used_version);

  // read_only: reads the keyring file and, if its contents differ from the
  // last look, takes the keyring in it when it may replace the current one
  // (logs keyring_reloaded), else keeps the current one (logs
  // keyring_reload_failed or keyring_reload_refused). The reloader thread
  // calls it every reload_interval; tests call it directly. Does nothing on
  // a writable keyring.
  void ReloadIfChanged() ABSL_LOCKS_EXCLUDED(write_mu_);

  // read_only: ReloadIfChanged now, unless the last on-demand look was less
  // than on_demand_reload_spacing ago; returns whether it looked. For EDEKs
  // naming a version above the current one.
  bool ReloadOnDemand() ABSL_LOCKS_EXCLUDED(write_mu_, demand_mu_);

 private:
  // Who asked for a look at the keyring file (the keyring_reloaded line says).
  enum class ReloadTrigger { kPoll, kEdek };
  LocalKms(LocalKmsOptions options, crypto::SecretBytes master_key, Keyring keyring,
           const crypto::Sha256Digest& file_digest);

  std::shared_ptr<const Keyring> Snapshot() const;
  // The number in an EDEK's version field: canonical decimal, at least 1.
  // EDEK_INVALID naming `key` and `version` (escaped) otherwise.
  static absl::StatusOr<uint32_t> ParseVersion(absl::string_view key, absl::string_view version);
  // A snapshot that holds version `number` of `key`, reloading on demand
  // first when it is above the current one of a read-only keyring. Errors:
  // EDEK_INVALID for an unknown key, or a version the keyring does not hold
  // and no rollout can bring (a writable keyring, or more than
  // max_versions_ahead above the current one); KEY_VERSION_NOT_YET_LOADED,
  // with a retry delay, for one a rollout may still bring.
  absl::StatusOr<std::shared_ptr<const Keyring>> KeyringHolding(absl::string_view key,
                                                                uint32_t number);
  // The operations proper; the public ones time them for the observer.
  absl::StatusOr<WrappedKey> WrapUnderCurrent(absl::string_view key_id,
                                              const crypto::SecretBytes& dek,
                                              const crypto::EncryptionContext& context);
  absl::StatusOr<crypto::SecretBytes> UnwrapEdek(const crypto::Edek& edek,
                                                 const crypto::EncryptionContext& context);
  absl::StatusOr<std::string> AddVersion(absl::string_view key_id);
  // The key's min_decryption_version; 0 when it has none.
  uint32_t FloorOf(absl::string_view key_id) const;
  // Decodes `file` (whose digest is `digest`) and swaps it in if it may
  // replace the current keyring.
  absl::Status TakeKeyring(absl::string_view file, const crypto::Sha256Digest& digest,
                           ReloadTrigger trigger) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void Reload(ReloadTrigger trigger) ABSL_LOCKS_EXCLUDED(write_mu_);
  void Report(absl::string_view operation, const absl::Status& status, absl::Time start) const {
    options_.observer->KmsRequestDone("local", operation, status, absl::Now() - start);
  }
  // The reloader thread's loop.
  void PollKeyring();

  // Set at construction.
  const LocalKmsOptions options_;
  const crypto::SecretBytes master_key_;

  // Serializes writers so that each rotation (or reload) starts from the
  // latest keyring.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const Keyring> keyring_ ABSL_GUARDED_BY(mu_);
  // read_only: the digest of the file the current keyring came from, and of
  // what the reloader last looked at (the contents, or the read error), so
  // that an unchanged or already refused file is neither decoded nor logged
  // again.
  crypto::Sha256Digest served_digest_ ABSL_GUARDED_BY(write_mu_);
  crypto::Sha256Digest seen_digest_ ABSL_GUARDED_BY(write_mu_);
  // Why the file last seen was not taken (OK when it was): reported again at
  // every poll while that file stays, so that a reload-failure alert lasts
  // as long as the problem (it is logged only once).
  absl::Status unserved_error_ ABSL_GUARDED_BY(write_mu_);
  // read_only: no on-demand look at the file before this (MonotonicNow).
  absl::Mutex demand_mu_;
  absl::Time next_on_demand_reload_ ABSL_GUARDED_BY(demand_mu_) = absl::InfinitePast();

  absl::Notification stop_;
  std::thread reloader_;  // read_only only: started by Create, joined on destruction
};

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_
