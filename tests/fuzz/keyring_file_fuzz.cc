// libFuzzer target for the local keyring file (kms_adapters/local/
// keyring_file.h) and the keyring serialization inside it (Keyring::Parse),
// read at start and on every reload of a file that replicas may share. Each
// input is read both ways: as a whole keyring file under FuzzMasterKey()
// (seeds are real files, so the header checks and the decryption are
// reached), and as the plaintext of one (where mutations reach the parser).
//
// Invariants:
// - DecodeKeyringFile answers a keyring or FAILED_PRECONDITION, never
//   anything else; Keyring::Parse likewise;
// - a parsed keyring is well formed: every key has versions 1..n, each with
//   32 bytes of material; it supersedes itself and its clone;
// - the serialization is canonical: Serialize(Parse(bytes)) == bytes.
#include <cstdint>
#include <string>

#include "kms_adapters/local/keyring.h"
#include "kms_adapters/local/keyring_file.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

using kms::Keyring;
using kms::KeyVersion;

void CheckWellFormed(const Keyring& keyring) {
  for (const std::string& name : keyring.KeyNames()) {
    FUZZ_CHECK(!name.empty() && name.size() <= 255);
    const KeyVersion* current = keyring.Current(name);
    FUZZ_CHECK(current != nullptr && current->number >= 1);
    for (uint32_t number = 1; number <= current->number; ++number) {
      const KeyVersion* version = keyring.Find(name, number);
      FUZZ_CHECK(version != nullptr && version->number == number && version->material.size() == 32);
    }
    FUZZ_CHECK(keyring.Find(name, 0) == nullptr &&
               keyring.Find(name, current->number + 1) == nullptr);
  }
  FUZZ_CHECK(keyring.CheckSupersedes(keyring).ok());
  Keyring clone = keyring.Clone();
  FUZZ_CHECK(clone.CheckSupersedes(keyring).ok() && keyring.CheckSupersedes(clone).ok());
}

void CheckParse(const crypto::SecretBytes& plaintext) {
  absl::StatusOr<Keyring> keyring = Keyring::Parse(plaintext);
  if (!keyring.ok()) {
    FUZZ_CHECK(absl::IsFailedPrecondition(keyring.status()), keyring.status().ToString());
    return;
  }
  CheckWellFormed(*keyring);
  crypto::SecretBytes serialized = keyring->Serialize();
  FUZZ_CHECK(serialized.ConstantTimeEquals(plaintext),
             "Serialize(Parse(bytes)) differs from bytes: the encoding is not canonical");
}

void TestOneInput(absl::string_view input) {
  static const crypto::SecretBytes* const master_key = new crypto::SecretBytes(FuzzMasterKey());
  absl::StatusOr<Keyring> from_file = kms::DecodeKeyringFile("fuzz-keyring", input, *master_key);
  if (from_file.ok()) {
    CheckWellFormed(*from_file);
    CheckParse(from_file->Serialize());
  } else {
    FUZZ_CHECK(absl::IsFailedPrecondition(from_file.status()), from_file.status().ToString());
  }
  CheckParse(crypto::SecretBytes::CopyFrom(input));
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
