#include "crypto/edek.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::crypto {
namespace {

constexpr uint8_t kRawVersionMarker = 0x00;
constexpr size_t kRawVersionBytes = 16;

bool IsLowerHexVersion(absl::string_view version) {
  if (version.size() != 2 * kRawVersionBytes) return false;
  for (char c : version) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

bool KnownKms(uint8_t value) {
  return value == static_cast<uint8_t>(EdekKms::kLocal) ||
         value == static_cast<uint8_t>(EdekKms::kAzure);
}

bool KnownAlgorithm(uint8_t value) {
  return value == static_cast<uint8_t>(EdekAlgorithm::kAes256Gcm) ||
         value == static_cast<uint8_t>(EdekAlgorithm::kRsaOaep256);
}

absl::Status CheckHeaderEncodable(const Edek& edek) {
  if (edek.key_name.empty() || edek.key_name.size() > Edek::kMaxNameSize ||
      edek.key_version.empty() || edek.key_version.size() > Edek::kMaxNameSize) {
    return Internal("edek key name or version out of the format's range");
  }
  return absl::OkStatus();
}

absl::Status CheckBodyEncodable(const Edek& edek) {
  if (edek.iv.size() > Edek::kMaxIvOrTagSize || edek.tag.size() > Edek::kMaxIvOrTagSize ||
      edek.wrapped.empty() || edek.wrapped.size() > Edek::kMaxWrappedSize) {
    return Internal("edek iv, tag or wrapped key out of the format's range");
  }
  return absl::OkStatus();
}

// Reads the fields of an EDEK front to back, failing with EDEK_INVALID.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  absl::Status Byte(absl::string_view field, uint8_t* out) {
    if (in_.empty()) return Truncated(field);
    *out = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return absl::OkStatus();
  }

  absl::Status Bytes(absl::string_view field, size_t n, std::string* out) {
    if (in_.size() < n) return Truncated(field);
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return absl::OkStatus();
  }

  // A u8 length in [min, max] followed by that many bytes.
  absl::Status ShortField(absl::string_view field, size_t min, size_t max, std::string* out) {
    uint8_t len = 0;
    RETURN_IF_ERROR(Byte(field, &len));
    if (len < min || len > max) {
      return EdekInvalid(absl::StrCat("edek ", field, " length ", len, " is outside ", min,
                                      "..", max));
    }
    return Bytes(field, len, out);
  }

  bool done() const { return in_.empty(); }
  size_t left() const { return in_.size(); }

 private:
  static absl::Status Truncated(absl::string_view field) {
    return EdekInvalid(absl::StrCat("edek is truncated in its ", field));
  }
  absl::string_view in_;
};

absl::Status ReadVersion(Reader& reader, std::string* version) {
  uint8_t marker = 0;
  RETURN_IF_ERROR(reader.Byte("key version", &marker));
  if (marker == kRawVersionMarker) {
    std::string raw;
    RETURN_IF_ERROR(reader.Bytes("key version", kRawVersionBytes, &raw));
    *version = absl::BytesToHexString(raw);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(reader.Bytes("key version", marker, version));
  if (IsLowerHexVersion(*version)) {
    return EdekInvalid("edek key version is hex but not stored in its raw form");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EdekAuthenticatedHeader(const Edek& edek) {
  RETURN_IF_ERROR(CheckHeaderEncodable(edek));
  std::string out;
  out.reserve(4 + edek.key_name.size() + 1 + edek.key_version.size());
  out.push_back(static_cast<char>(Edek::kFormatV1));
  out.push_back(static_cast<char>(edek.kms));
  out.push_back(static_cast<char>(edek.algorithm));
  out.push_back(static_cast<char>(edek.key_name.size()));
  out.append(edek.key_name);
  if (IsLowerHexVersion(edek.key_version)) {
    out.push_back(static_cast<char>(kRawVersionMarker));
    out.append(absl::HexStringToBytes(edek.key_version));
  } else {
    out.push_back(static_cast<char>(edek.key_version.size()));
    out.append(edek.key_version);
  }
  return out;
}

absl::StatusOr<std::string> EncodeEdek(const Edek& edek) {
  RETURN_IF_ERROR(CheckBodyEncodable(edek));
  ASSIGN_OR_RETURN(std::string out, EdekAuthenticatedHeader(edek));
  out.reserve(out.size() + 4 + edek.iv.size() + edek.tag.size() + edek.wrapped.size());
  out.push_back(static_cast<char>(edek.iv.size()));
  out.append(edek.iv);
  out.push_back(static_cast<char>(edek.tag.size()));
  out.append(edek.tag);
  out.push_back(static_cast<char>((edek.wrapped.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(edek.wrapped.size() & 0xff));
  out.append(edek.wrapped);
  return out;
}

absl::StatusOr<Edek> DecodeEdek(absl::string_view bytes) {
  if (bytes.empty()) return EdekInvalid("edek is empty");
  if (bytes.size() > Edek::kMaxEncodedSize) {
    return EdekInvalid(absl::StrCat("edek is ", bytes.size(), " bytes; at most ",
                                    Edek::kMaxEncodedSize));
  }
  Reader reader(bytes);
  uint8_t format = 0, kms = 0, algorithm = 0;
  RETURN_IF_ERROR(reader.Byte("format", &format));
  if (format != Edek::kFormatV1) {
    return EdekInvalid(absl::StrCat("edek format version ", format,
                                    " is not supported (this broker reads version 1)"));
  }
  RETURN_IF_ERROR(reader.Byte("kms kind", &kms));
  if (!KnownKms(kms)) return EdekInvalid(absl::StrCat("edek kms kind ", kms, " is unknown"));
  RETURN_IF_ERROR(reader.Byte("algorithm", &algorithm));
  if (!KnownAlgorithm(algorithm)) {
    return EdekInvalid(absl::StrCat("edek algorithm ", algorithm, " is unknown"));
  }
  Edek edek;
  edek.kms = static_cast<EdekKms>(kms);
  edek.algorithm = static_cast<EdekAlgorithm>(algorithm);
  RETURN_IF_ERROR(reader.ShortField("key name", 1, Edek::kMaxNameSize, &edek.key_name));
  RETURN_IF_ERROR(ReadVersion(reader, &edek.key_version));
  RETURN_IF_ERROR(reader.ShortField("iv", 0, Edek::kMaxIvOrTagSize, &edek.iv));
  RETURN_IF_ERROR(reader.ShortField("tag", 0, Edek::kMaxIvOrTagSize, &edek.tag));
  uint8_t hi = 0, lo = 0;
  RETURN_IF_ERROR(reader.Byte("wrapped key length", &hi));
  RETURN_IF_ERROR(reader.Byte("wrapped key length", &lo));
  size_t wrapped_len = (static_cast<size_t>(hi) << 8) | lo;
  if (wrapped_len == 0 || wrapped_len > Edek::kMaxWrappedSize) {
    return EdekInvalid(absl::StrCat("edek wrapped key length ", wrapped_len, " is outside 1..",
                                    Edek::kMaxWrappedSize));
  }
  RETURN_IF_ERROR(reader.Bytes("wrapped key", wrapped_len, &edek.wrapped));
  if (!reader.done()) {
    return EdekInvalid(absl::StrCat("edek has ", reader.left(), " unexpected trailing bytes"));
  }
  return edek;
}

absl::string_view EdekKmsName(EdekKms kms) {
  switch (kms) {
    case EdekKms::kLocal: return "local";
    case EdekKms::kAzure: return "azure";
  }
  return "unknown";
}

absl::string_view EdekAlgorithmName(EdekAlgorithm algorithm) {
  switch (algorithm) {
    case EdekAlgorithm::kAes256Gcm: return "AES-256-GCM";
    case EdekAlgorithm::kRsaOaep256: return "RSA-OAEP-256";
  }
  return "unknown";
}

}  // namespace keybroker::crypto
