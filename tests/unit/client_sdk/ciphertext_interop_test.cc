// SDK ciphertexts against an independent implementation of
// docs/ciphertext-format.md: ciphertext_decoder.py (Python, Debian's
// python3-cryptography), written from that document alone. The fake DEK
// source knows every DEK, so the decoder gets the DEK directly.
#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/error_reason.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/encryptor.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::FakeDekSource;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;

const Context kContext = {{"topic", "orders"}};

class CiphertextInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EncryptorOptions options;
    options.dek_context = kContext;
    options.max_encryptions_per_dek = 2;  // several DEKs over the cases
    absl::StatusOr<std::unique_ptr<Encryptor>> encryptor = Encryptor::Create(&source_, options);
    ASSERT_OK(encryptor);
    encryptor_ = std::move(*encryptor);
  }

  // Runs the decoder with `args`; returns its exit status (-1 if it did not
  // exit) and leaves its stdout in `out`.
  int RunDecoder(const std::string& args, std::string* out) {
    std::string command =
        absl::StrCat(KEYBROKER_SYSTEM_PYTHON3, " ", KEYBROKER_CIPHERTEXT_DECODER, " ", args, " >",
                     dir_.File("stdout"), " 2>", dir_.File("stderr"), " </dev/null");
    int status = std::system(command.c_str());
    *out = ReadAll(dir_.File("stdout"));
    stderr_ = ReadAll(dir_.File("stderr"));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // The decoder's plaintext of `ciphertext` (the DEK found through the EDEK
  // the decoder read), or nullopt when it rejects it.
  std::optional<std::string> PythonDecrypt(const std::string& ciphertext, const std::string& aad,
                                           const std::string& dek_hex) {
    WriteAll(dir_.File("ciphertext"), ciphertext);
    std::string plaintext;
    int status = RunDecoder(absl::StrCat("decrypt --dek-hex ", dek_hex, " --aad-hex=",
                                         absl::BytesToHexString(aad), " ", dir_.File("ciphertext")),
                            &plaintext);
    if (status != 0) {
      EXPECT_EQ(status, 1) << stderr_;
      EXPECT_EQ(plaintext, "") << "a rejected ciphertext must print nothing";
      return std::nullopt;
    }
    return plaintext;
  }

  // Asks the decoder for the EDEK in `ciphertext`, then the fake for its DEK.
  std::string DekHexFor(const std::string& ciphertext) {
    WriteAll(dir_.File("ciphertext"), ciphertext);
    std::string edek_hex;
    EXPECT_EQ(RunDecoder(absl::StrCat("edek ", dir_.File("ciphertext")), &edek_hex), 0) << stderr_;
    std::optional<crypto::SecretBytes> dek =
        source_.DekOf(absl::HexStringToBytes(absl::StripAsciiWhitespace(edek_hex)));
    EXPECT_TRUE(dek.has_value()) << "the decoder found EDEK " << edek_hex;
    return dek.has_value() ? absl::BytesToHexString(dek->RevealAsStringView()) : "";
  }

  std::string MustEncrypt(const std::string& plaintext, const std::string& aad) {
    absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt("orders", plaintext, aad);
    EXPECT_OK(ciphertext);
    return ciphertext.ok() ? *ciphertext : "";
  }

  FakeDekSource source_;
  std::unique_ptr<Encryptor> encryptor_;
  TempDir dir_;
  std::string stderr_;
};

TEST_F(CiphertextInteropTest, PythonDecodesSdkCiphertexts) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},         {"hello", ""},
      {"", "aad only"}, {"a FHIR resource", "account=1|Patient|42|7"},
      {binary, binary}, {std::string(70000, 'x'), "large"},
  };
  for (const auto& [plaintext, aad] : cases) {
    SCOPED_TRACE(absl::StrCat(plaintext.size(), "-byte plaintext, aad '", aad.substr(0, 24), "'"));
    std::string ciphertext = MustEncrypt(plaintext, aad);
    std::string dek_hex = DekHexFor(ciphertext);
    EXPECT_EQ(PythonDecrypt(ciphertext, aad, dek_hex), plaintext);
  }
  EXPECT_GE(source_.generate_calls(), 3);
}

TEST_F(CiphertextInteropTest, PythonRejectsTamperedSdkCiphertexts) {
  const std::string aad = "account=1";
  std::string ciphertext = MustEncrypt("tamper with me", aad);
  std::string dek_hex = DekHexFor(ciphertext);
  ASSERT_EQ(PythonDecrypt(ciphertext, aad, dek_hex), "tamper with me");

  const size_t edek_size = ciphertext.size() - 31 - 14;
  // Format byte, length, an EDEK byte, a nonce byte, a ciphertext byte, the tag.
  for (size_t at : {size_t{0}, size_t{2}, size_t{3} + edek_size / 2, size_t{3} + edek_size + 5,
                    size_t{15} + edek_size + 3, ciphertext.size() - 1}) {
    std::string tampered = ciphertext;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    EXPECT_EQ(PythonDecrypt(tampered, aad, dek_hex), std::nullopt) << "byte " << at;
  }
  EXPECT_EQ(PythonDecrypt(ciphertext, "account=2", dek_hex), std::nullopt);
  EXPECT_EQ(PythonDecrypt(ciphertext.substr(0, ciphertext.size() - 1), aad, dek_hex), std::nullopt);
  EXPECT_EQ(PythonDecrypt(ciphertext + "x", aad, dek_hex), std::nullopt);
}

TEST_F(CiphertextInteropTest, SdkDecryptsPythonCiphertexts) {
  absl::StatusOr<DataKey> data_key = source_.GenerateDek("orders", kContext);
  ASSERT_OK(data_key);
  const std::string plaintext = "written by another language";
  const std::string aad = "record header";
  WriteAll(dir_.File("plaintext"), plaintext);
  std::string ignored;
  ASSERT_EQ(
      RunDecoder(absl::StrCat("encrypt --dek-hex ",
                              absl::BytesToHexString(data_key->plaintext.RevealAsStringView()),
                              " --edek-hex ", absl::BytesToHexString(data_key->edek),
                              " --aad-hex=", absl::BytesToHexString(aad), " ",
                              dir_.File("plaintext"), " ", dir_.File("ciphertext")),
                 &ignored),
      0)
      << stderr_;
  std::string ciphertext = ReadAll(dir_.File("ciphertext"));
  absl::StatusOr<std::string> decrypted = encryptor_->Decrypt(ciphertext, aad);
  ASSERT_OK(decrypted);
  EXPECT_EQ(*decrypted, plaintext);
  EXPECT_THAT(encryptor_->Decrypt(ciphertext, "other"),
              ::keybroker::testing::HasReason(ErrorReason::kEdekInvalid));
}

}  // namespace
}  // namespace keybroker::sdk
