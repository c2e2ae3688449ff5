// What the fuzz targets share (docs/fuzzing.md): the report of a broken
// invariant, a reader that splits one fuzz input into fields (and the writer
// the seed tool uses), a DEK source whose DEKs follow from the EDEK, and a
// log sink that keeps the lines of the current input.
//
// The targets run one input at a time on one thread; the DEK source and the
// log sink are nevertheless safe for concurrent use, as the Encryptor and the
// logger may call them from their own threads.
#ifndef KEYBROKER_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define KEYBROKER_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "crypto/bytes.h"
#include "crypto/hmac.h"
#include "crypto/secret_bytes.h"
#include "keybroker/sdk/dek_source.h"
#include "nlohmann/json.hpp"

namespace keybroker::fuzz {

// Stops the run: libFuzzer (and the replay driver) report the abort with the
// input that caused it, which scripts/fuzz.sh keeps as the reproducer.
[[noreturn]] inline void Fail(absl::string_view invariant, absl::string_view detail = "") {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n%.*s\n", static_cast<int>(invariant.size()),
               invariant.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Checks an invariant of the code under test (not an assert: it stays in
// every build).
#define FUZZ_CHECK(condition, ...)                                                      \
  do {                                                                                  \
    if (!(condition)) ::keybroker::fuzz::Fail(#condition, ::absl::StrCat(__VA_ARGS__)); \
  } while (false)

// Splits a fuzz input front to back. Every read succeeds: past the end it
// returns zeros and empty strings, so any byte string is a valid input.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    uint8_t byte = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return byte;
  }

  // A field: a big-endian u16 length, then that many bytes (fewer when the
  // input ends first).
  std::string Field() {
    size_t size = size_t{Byte()} << 8;
    size |= Byte();
    absl::string_view field = rest_.substr(0, size);
    rest_.remove_prefix(field.size());
    return std::string(field);
  }

  // Up to the next '\n' (dropped), or the rest.
  std::string Line() {
    size_t end = rest_.find('\n');
    absl::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(end == absl::string_view::npos ? rest_.size() : end + 1);
    return std::string(line);
  }

  std::string Rest() {
    std::string rest(rest_);
    rest_ = {};
    return rest;
  }

 private:
  absl::string_view rest_;
};

// Appends `bytes` as a FuzzInput::Field (at most 65535 bytes of it).
inline void AppendField(std::string& out, absl::string_view bytes) {
  bytes = bytes.substr(0, 0xffff);
  out.push_back(static_cast<char>(bytes.size() >> 8));
  out.push_back(static_cast<char>(bytes.size() & 0xff));
  out.append(bytes.data(), bytes.size());
}

// A DekSource standing in for the broker, without state: the DEK of an EDEK
// is a hash of the EDEK and the context, so the seed tool and the targets
// agree on it in every process, and a wrong context gives a DEK that does not
// open the ciphertext (as the broker's refusal would). Unwrap answers
// EDEK_INVALID for EDEKs without kEdekPrefix, and KEY_NOT_ACCESSIBLE (an
// error that is no fault of the record) for those naming kRevokedAlias.
class DerivedDekSource : public sdk::DekSource {
 public:
  static constexpr absl::string_view kEdekPrefix = "fuzz-edek:";
  static constexpr absl::string_view kRevokedAlias = "revoked";

  absl::StatusOr<sdk::DataKey> GenerateDek(absl::string_view key_alias,
                                           const sdk::Context& context) override {
    std::string edek = absl::StrCat(kEdekPrefix, key_alias, ":", ++generated_);
    crypto::SecretBytes dek = DekOf(edek, context);
    return sdk::DataKey{std::move(dek), std::move(edek), "1"};
  }

  absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek,
                                             const sdk::Context& context) override {
    if (!absl::StartsWith(edek, kEdekPrefix)) return EdekInvalid("fuzz: not an EDEK of ours");
    if (IsRevoked(edek)) {
      return MakeError(ErrorReason::kKeyNotAccessible, "fuzz: key access removed");
    }
    return DekOf(edek, context);
  }

  // Whether Unwrap refuses `edek` as a key whose access was removed.
  static bool IsRevoked(absl::string_view edek) {
    return absl::StartsWith(edek, kEdekPrefix) &&
           absl::StartsWith(edek.substr(kEdekPrefix.size()), kRevokedAlias);
  }

  static crypto::SecretBytes DekOf(absl::string_view edek, const sdk::Context& context) {
    std::string material(edek);
    for (const auto& [key, value] : context) {
      material.push_back('\0');
      AppendField(material, key);
      AppendField(material, value);
    }
    crypto::Sha256Digest digest = crypto::Sha256(crypto::AsBytes(material));
    return crypto::SecretBytes::CopyFrom(
        absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  }

 private:
  std::atomic<uint64_t> generated_{0};
};

// What the SDK targets and the seed tool agree on: the encryption context
// every DEK is bound to, and the aad of ciphertext_format's ciphertexts.
inline const sdk::Context& FuzzDekContext() {
  static const sdk::Context* const context = new sdk::Context{{"tenant", "fuzz"}};
  return *context;
}
inline constexpr absl::string_view kCiphertextAad = "fuzz-aad";

// The master key of keyring_file's keyring files (32 bytes).
inline crypto::SecretBytes FuzzMasterKey() {
  return crypto::SecretBytes::CopyFrom(absl::string_view("keybroker fuzz master key, 32 b."));
}

// Keeps the log lines written since the last Take(), instead of writing them
// to standard error (a line per input would drown libFuzzer's output).
class LogLines {
 public:
  // Installs the sink; call once, before the first input.
  static LogLines& Install() {
    static LogLines* const lines = [] {
      auto* created = new LogLines();
      log::SetSinkForTesting([created](const std::string& line) { created->Add(line); });
      return created;
    }();
    return *lines;
  }

  std::vector<std::string> Take() {
    std::vector<std::string> taken;
    absl::MutexLock lock(&mu_);
    taken.swap(lines_);
    return taken;
  }

  // Takes the lines and checks that each is one line of one JSON object
  // (what log shippers rely on), whatever the input put in its fields;
  // returns the objects.
  std::vector<nlohmann::json> TakeChecked() {
    std::vector<nlohmann::json> objects;
    for (const std::string& line : Take()) {
      FUZZ_CHECK(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1,
                 "log line: ", line);
      nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      FUZZ_CHECK(object.is_object(), "log line: ", line);
      objects.push_back(std::move(object));
    }
    return objects;
  }

 private:
  void Add(const std::string& line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(line);
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::fuzz

#endif  // KEYBROKER_TESTS_FUZZ_FUZZ_SUPPORT_H_
