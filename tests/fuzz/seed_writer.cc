// Writes the binary seeds of the fuzz corpora with the project's own encoders
// (Encryptor::Encrypt, EncryptionContext, WriteKeyringFile, Keyring::Serialize,
// RecordAad), so that the seeds are inputs the real writers make, plus a few
// edge cases beside them. The text seeds (JSON, YAML, URLs) are written by
// hand. Usage, from the source tree:
//   cmake --build build --target fuzz_seed_writer
//   build/tests/fuzz/fuzz_seed_writer tests/fuzz/corpus
// Ciphertexts have fresh nonces and keyrings fresh key material, so each run
// writes different (equally valid) bytes.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "keybroker/sdk/encryptor.h"
#include "kms_adapters/local/keyring.h"
#include "kms_adapters/local/keyring_file.h"
#include "tests/fuzz/fuzz_support.h"
#ifdef KEYBROKER_SEED_KAFKA
#include "keybroker/sdk/kafka/record_format.h"
#endif

namespace keybroker::fuzz {
namespace {

class SeedWriter {
 public:
  explicit SeedWriter(std::string corpus) : corpus_(std::move(corpus)) {}

  void Write(const std::string& target, const std::string& name, absl::string_view bytes) {
    std::string dir = absl::StrCat(corpus_, "/", target);
    std::string path = absl::StrCat(dir, "/", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "cannot write " << path << " (does " << dir << " exist?)\n";
      std::exit(1);
    }
    std::cout << path << " (" << bytes.size() << " bytes)\n";
  }

 private:
  std::string corpus_;
};

std::unique_ptr<sdk::Encryptor> NewEncryptor(DerivedDekSource* source) {
  sdk::EncryptorOptions options;
  options.dek_context = FuzzDekContext();
  return sdk::Encryptor::Create(source, options).value();
}

void WriteCiphertexts(SeedWriter& out, sdk::Encryptor& encryptor) {
  const std::string record = encryptor.Encrypt("orders", "hello", kCiphertextAad).value();
  out.Write("ciphertext_format", "hello", record);
  out.Write("ciphertext_format", "empty_plaintext",
            encryptor.Encrypt("orders", "", kCiphertextAad).value());
  out.Write("ciphertext_format", "revoked_key",
            encryptor.Encrypt("revoked", "card 4111", kCiphertextAad).value());
  out.Write("ciphertext_format", "truncated", record.substr(0, 20));
  std::string unknown_edek("\x01\x00\x08not-ours", 11);
  unknown_edek.append(12 + 16, '\x5a');
  out.Write("ciphertext_format", "unknown_edek", unknown_edek);
}

void WriteContexts(SeedWriter& out) {
  auto pairs = [](std::vector<std::pair<std::string, std::string>> list) {
    std::string input;
    for (const auto& [key, value] : list) {
      AppendField(input, key);
      AppendField(input, value);
    }
    return input;
  };
  out.Write("encryption_context", "none", "");
  out.Write("encryption_context", "tenant", pairs({{"tenant", "acme"}}));
  out.Write("encryption_context", "unsorted",
            pairs({{"topic", "orders"}, {"tenant", "acme"}, {"resource", "Patient"}}));
  out.Write("encryption_context", "binary",
            pairs({{std::string("k\0ey", 4), "v\xc3\xa9"}, {"\xff", ""}}));
  out.Write("encryption_context", "duplicate", pairs({{"tenant", "a"}, {"tenant", "b"}}));
  std::vector<std::pair<std::string, std::string>> at_limits;
  for (int i = 0; i < 64; ++i) {  // 64 pairs of 128 bytes: 8192 in all
    at_limits.emplace_back(absl::StrCat("k", 100 + i), std::string(124, 'v'));
  }
  out.Write("encryption_context", "at_limits", pairs(at_limits));
}

std::string KeyringFileBytes(const kms::Keyring& keyring, const crypto::SecretBytes& master_key) {
  std::string path = absl::StrCat("/tmp/keybroker-fuzz-seed-keyring-", getpid());
  absl::Status written = kms::WriteKeyringFile(path, master_key, keyring);
  std::string bytes;
  absl::Status read = written.ok() ? kms::ReadKeyringFileBytes(path, &bytes) : written;
  std::remove(path.c_str());
  if (!read.ok()) {
    std::cerr << read << "\n";
    std::exit(1);
  }
  return bytes;
}

void WriteKeyrings(SeedWriter& out) {
  const absl::Time now = absl::FromUnixSeconds(1704067200);
  kms::Keyring two_keys;
  two_keys.AddKey("service-default", now).IgnoreError();
  two_keys.AddVersion("service-default", now + absl::Hours(24)).IgnoreError();
  two_keys.AddVersion("service-default", now + absl::Hours(48)).IgnoreError();
  two_keys.AddKey("edek-auth", now).IgnoreError();
  kms::Keyring empty;
  const crypto::SecretBytes master_key = FuzzMasterKey();
  out.Write("keyring_file", "two_keys", KeyringFileBytes(two_keys, master_key));
  out.Write("keyring_file", "empty", KeyringFileBytes(empty, master_key));
  out.Write("keyring_file", "other_master_key",
            KeyringFileBytes(two_keys, crypto::SecretBytes(32)));
  out.Write("keyring_file", "two_keys_plaintext", two_keys.Serialize().RevealAsStringView());
}

#ifdef KEYBROKER_SEED_KAFKA
void WriteKafkaRecords(SeedWriter& out, sdk::Encryptor& encryptor) {
  namespace kafka = sdk::kafka;
  const std::string topic = "orders";
  auto encrypt = [&](absl::string_view alias, absl::string_view text, kafka::RecordPart part) {
    return encryptor.Encrypt(alias, text, kafka::RecordAad(topic, part)).value();
  };
  // Flags: 1 require_encryption, 2 has a key, 4 has a value.
  auto record = [&](uint8_t flags, const std::string& key, const std::string& value,
                    std::vector<std::pair<std::string, std::string>> headers) {
    std::string input(1, static_cast<char>(flags));
    AppendField(input, topic);
    if (flags & 2) AppendField(input, key);
    if (flags & 4) AppendField(input, value);
    for (const auto& [name, header_value] : headers) {
      AppendField(input, name);
      AppendField(input, header_value);
    }
    return input;
  };
  const std::string marker(kafka::kFormatV1);
  const std::string value_header(kafka::kEncryptionHeader);
  const std::string key_header(kafka::kKeyEncryptionHeader);
  const std::string value = encrypt("orders", "card 4111", kafka::RecordPart::kValue);
  out.Write("kafka_record", "value_encrypted",
            record(1 | 4, "", value, {{value_header, marker}, {"trace-id", "t1"}}));
  out.Write("kafka_record", "key_and_value_encrypted",
            record(1 | 2 | 4, encrypt("orders", "customer-7", kafka::RecordPart::kKey), value,
                   {{"trace-id", "t2"}, {value_header, marker}, {key_header, marker}}));
  out.Write("kafka_record", "plaintext_allowed",
            record(2 | 4, "k", "public", {{"trace-id", "t3"}}));
  out.Write("kafka_record", "revoked_key",
            record(1 | 4, "", encrypt("revoked", "x", kafka::RecordPart::kValue),
                   {{value_header, marker}}));
  out.Write("kafka_record", "unknown_format", record(1 | 4, "", value, {{value_header, "v2"}}));
  out.Write("kafka_record", "repeated_header",
            record(1 | 4, "", value, {{value_header, marker}, {value_header, marker}}));
}
#endif

}  // namespace
}  // namespace keybroker::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR (tests/fuzz/corpus)\n";
    return 2;
  }
  keybroker::fuzz::SeedWriter out(argv[1]);
  keybroker::fuzz::DerivedDekSource source;
  std::unique_ptr<keybroker::sdk::Encryptor> encryptor = keybroker::fuzz::NewEncryptor(&source);
  keybroker::fuzz::WriteCiphertexts(out, *encryptor);
  keybroker::fuzz::WriteContexts(out);
  keybroker::fuzz::WriteKeyrings(out);
#ifdef KEYBROKER_SEED_KAFKA
  keybroker::fuzz::WriteKafkaRecords(out, *encryptor);
#endif
  return 0;
}
