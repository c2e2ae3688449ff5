// EncryptingProducer: produces Kafka records whose values (and, when
// configured, keys) are encrypted with keybroker DEKs before they leave the
// process. record_format.h says what a protected record looks like.
//
// The key alias of a topic comes from a template ("kek-${topic}"). When the
// broker answers NOT_FOUND (KEY_NOT_FOUND) for that alias, the policy
// decides: kReject fails the produce call, kPassThrough sends the record
// unencrypted and without the header. Every other failure (broker down,
// KEY_NOT_ACCESSIBLE, ...) fails the call under both policies: a record that
// was to be encrypted is never sent in plaintext.
//
// Delivery stays librdkafka's: Produce() enqueues, delivery reports reach
// the producer's own DeliveryReportCb, poll() and flush() are called on the
// RdKafka::Producer as usual.
//
// Safe for concurrent use (as are RdKafka::Producer::produce and Encryptor).
#ifndef KEYBROKER_SDK_KAFKA_ENCRYPTING_PRODUCER_H_
#define KEYBROKER_SDK_KAFKA_ENCRYPTING_PRODUCER_H_

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keybroker/sdk/clock.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/key_template.h"
#include "keybroker/sdk/kafka/record_format.h"

namespace keybroker::sdk::kafka {

// What to do with a record for a topic whose key alias the broker does not
// know (NOT_FOUND, reason KEY_NOT_FOUND).
enum class UnresolvedKeyPolicy {
  kReject,       // Produce() returns the NOT_FOUND error; nothing is sent.
  kPassThrough,  // the record is sent unencrypted, without the header;
                 // its consumers must set DecryptOptions::require_encryption
                 // to false, or they refuse it.
};

struct EncryptingProducerOptions {
  // The key alias per topic; ${topic} is replaced by the topic name.
  std::string key_template = "kek-${topic}";
  // Encrypt record keys too. Keys then differ on every record: see
  // docs/kafka.md for what that does to partitioning and compaction.
  bool encrypt_keys = false;
  UnresolvedKeyPolicy unresolved_key_policy = UnresolvedKeyPolicy::kReject;
  // After the broker said an alias does not exist, apply the policy to that
  // topic without asking again for this long (so pass-through topics cost no
  // broker call per record). A key created meanwhile is used after at most
  // this long. Zero asks every time.
  absl::Duration unresolved_key_recheck = absl::Seconds(30);
  // Where the recheck interval is measured; nullptr means MonotonicClock().
  // Must outlive the producer. For tests.
  const Clock* clock = nullptr;
};

// A record to produce. A nullopt key or value is a null key or value (a
// null value is a tombstone and stays one).
struct ProducerRecord {
  std::string topic;
  int32_t partition = RdKafka::Topic::PARTITION_UA;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  int64_t timestamp = 0;       // milliseconds since the epoch; 0 means now
  void* msg_opaque = nullptr;  // passed to the delivery report
};

class EncryptingProducer {
 public:
  // `producer` and `encryptor` must outlive the EncryptingProducer.
  // INVALID_ARGUMENT (INVALID_REQUEST) for a null pointer, a bad key
  // template or a negative recheck interval. Does no I/O.
  static absl::StatusOr<std::unique_ptr<EncryptingProducer>> Create(
      RdKafka::Producer* producer, Encryptor* encryptor, EncryptingProducerOptions options);

  // Encrypts `record` and enqueues it on the producer (copying the payload).
  // Returns OK when enqueued; delivery is reported by librdkafka. Errors:
  // INVALID_ARGUMENT for an empty topic or a header named
  // keybroker-encryption*; the Encryptor's error (code and reason kept,
  // e.g. UNAVAILABLE, PERMISSION_DENIED with KEY_NOT_ACCESSIBLE, NOT_FOUND
  // with KEY_NOT_FOUND under kReject) with the topic and alias in the
  // message; librdkafka's enqueue error (UNAVAILABLE for a full queue: poll
  // and retry; NOT_FOUND for an unknown topic or partition).
  absl::Status Produce(const ProducerRecord& record);

  // Returns the key alias records of `topic` are encrypted under.
  std::string KeyAliasFor(absl::string_view topic) const { return template_.Expand(topic); }

 private:
  struct MallocCiphertext;
  struct Protected;
  EncryptingProducer(RdKafka::Producer* producer, Encryptor* encryptor, KeyTemplate key_template,
                     EncryptingProducerOptions options);
  // Encrypts the parts of `record` that are to be encrypted; nullopt when
  // the policy lets the record pass through unencrypted.
  absl::StatusOr<std::optional<Protected>> Protect(const ProducerRecord& record);
  absl::StatusOr<std::string> EncryptPart(absl::string_view alias, absl::string_view topic,
                                          absl::string_view aad, absl::string_view plaintext);
  absl::StatusOr<MallocCiphertext> EncryptValue(absl::string_view alias, absl::string_view topic,
                                                absl::string_view aad, absl::string_view plaintext);
  // What a topic's records need besides their bytes: the key alias and the
  // aad of each part, built once per topic and thread (the last topic this
  // thread produced to), not per record.
  struct TopicStrings;
  const TopicStrings& StringsFor(absl::string_view topic) const;
  // Returns true if `alias` was reported unknown less than the recheck ago.
  bool RecentlyUnresolved(const std::string& alias);
  void MarkUnresolved(const std::string& alias);
  absl::Status Enqueue(const ProducerRecord& record, Protected* protected_parts);

  // Set at construction.
  RdKafka::Producer* const producer_;
  Encryptor* const encryptor_;
  const KeyTemplate template_;
  const EncryptingProducerOptions options_;
  const Clock* const clock_;
  const uint64_t id_;  // unique per object: per-thread caches never confuse two

  // Set once an alias was reported unknown: until then no record takes mu_.
  std::atomic<bool> any_unresolved_{false};
  absl::Mutex mu_;
  // Aliases the broker reported unknown, and when.
  absl::flat_hash_map<std::string, absl::Time> unresolved_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::sdk::kafka

#endif  // KEYBROKER_SDK_KAFKA_ENCRYPTING_PRODUCER_H_
