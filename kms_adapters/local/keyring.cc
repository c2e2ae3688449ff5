#include "kms_adapters/local/keyring.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/random.h"

namespace keybroker::kms {
namespace {

constexpr size_t kMaterialSize = 32;
constexpr size_t kVersionRecordSize = 4 + 8 + kMaterialSize;

absl::StatusOr<KeyVersion> NewVersion(uint32_t number, absl::Time now) {
  ASSIGN_OR_RETURN(crypto::SecretBytes material, crypto::RandomSecret(kMaterialSize));
  return KeyVersion{number, now, std::move(material)};
}

void PutBigEndian(uint8_t* out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * (width - 1 - i)));
  }
}

uint64_t GetBigEndian(const uint8_t* in, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | in[i];
  return value;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat("keyring contents are malformed: ", what));
}

// Reads the serialized keyring front to back over a secret buffer.
class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> in) : in_(in) {}
  bool Has(size_t n) const { return in_.size() - pos_ >= n; }
  uint64_t Int(size_t width) {
    uint64_t v = GetBigEndian(in_.data() + pos_, width);
    pos_ += width;
    return v;
  }
  absl::Span<const uint8_t> Take(size_t n) {
    absl::Span<const uint8_t> out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  absl::Span<const uint8_t> in_;
  size_t pos_ = 0;
};

absl::Status ParseKey(Cursor& in, std::string* name, std::vector<KeyVersion>* versions) {
  if (!in.Has(1)) return Corrupt("truncated key name");
  size_t name_len = in.Int(1);
  if (name_len == 0 || !in.Has(name_len + 4)) return Corrupt("truncated key name");
  absl::Span<const uint8_t> name_bytes = in.Take(name_len);
  name->assign(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
  size_t count = in.Int(4);
  if (count == 0 || count > Keyring::kMaxVersionsPerKey || !in.Has(count * kVersionRecordSize)) {
    return Corrupt(absl::StrCat("bad version count for key ", *name));
  }
  versions->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    uint32_t number = static_cast<uint32_t>(in.Int(4));
    int64_t created = static_cast<int64_t>(in.Int(8));
    if (number != i + 1) return Corrupt(absl::StrCat("versions of key ", *name, " out of order"));
    versions->push_back(KeyVersion{number, absl::FromUnixSeconds(created),
                                   crypto::SecretBytes::CopyFrom(in.Take(kMaterialSize))});
  }
  return absl::OkStatus();
}

}  // namespace

Keyring Keyring::Clone() const {
  Keyring copy;
  for (const auto& [name, versions] : keys_) {
    std::vector<KeyVersion>& out = copy.keys_[name];
    out.reserve(versions.size() + 1);
    for (const KeyVersion& v : versions) {
      out.push_back(KeyVersion{v.number, v.created, v.material.Clone()});
    }
  }
  return copy;
}

bool Keyring::HasKey(absl::string_view name) const { return keys_.find(name) != keys_.end(); }

std::vector<std::string> Keyring::KeyNames() const {
  std::vector<std::string> names;
  for (const auto& entry : keys_) names.push_back(entry.first);
  return names;
}

absl::Status Keyring::AddKey(absl::string_view name, absl::Time now) {
  if (name.empty() || name.size() > 255) {
    return absl::FailedPreconditionError(
        absl::StrCat("local key name '", name, "' must be 1 to 255 bytes"));
  }
  if (HasKey(name)) {
    return absl::FailedPreconditionError(absl::StrCat("local key ", name, " already exists"));
  }
  if (keys_.size() >= kMaxKeys) {
    return absl::FailedPreconditionError("the keyring holds the most keys it can");
  }
  ASSIGN_OR_RETURN(KeyVersion first, NewVersion(1, now));
  keys_[std::string(name)].push_back(std::move(first));
  return absl::OkStatus();
}

absl::StatusOr<const KeyVersion*> Keyring::AddVersion(absl::string_view name, absl::Time now) {
  auto it = keys_.find(name);
  if (it == keys_.end()) return KeyNotFound(absl::StrCat("no local key named ", name));
  std::vector<KeyVersion>& versions = it->second;
  if (versions.size() >= kMaxVersionsPerKey) {
    return absl::FailedPreconditionError(absl::StrCat("local key ", name, " has too many versions"));
  }
  ASSIGN_OR_RETURN(KeyVersion next, NewVersion(static_cast<uint32_t>(versions.size() + 1), now));
  versions.push_back(std::move(next));
  return &versions.back();
}

const KeyVersion* Keyring::Current(absl::string_view name) const {
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second.back();
}

const KeyVersion* Keyring::Find(absl::string_view name, uint32_t number) const {
  auto it = keys_.find(name);
  if (it == keys_.end() || number == 0 || number > it->second.size()) return nullptr;
  return &it->second[number - 1];
}

const std::vector<KeyVersion>* Keyring::Versions(absl::string_view name) const {
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second;
}

absl::Status Keyring::CheckSupersedes(const Keyring& older) const {
  for (const auto& [name, old_versions] : older.keys_) {
    auto it = keys_.find(name);
    if (it == keys_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("local key ", name, " is missing"));
    }
    const std::vector<KeyVersion>& versions = it->second;
    if (versions.size() < old_versions.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("local key ", name, " has ", versions.size(), " versions instead of ",
                       old_versions.size(), " or more"));
    }
    for (size_t i = 0; i < old_versions.size(); ++i) {
      if (!versions[i].material.ConstantTimeEquals(old_versions[i].material)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "local key ", name, " version ", old_versions[i].number, " has other material"));
      }
    }
  }
  return absl::OkStatus();
}

crypto::SecretBytes Keyring::Serialize() const {
  size_t size = 4;
  for (const auto& [name, versions] : keys_) {
    size += 1 + name.size() + 4 + versions.size() * kVersionRecordSize;
  }
  crypto::SecretBytes out(size);
  uint8_t* p = out.RevealMutable().data();
  PutBigEndian(p, keys_.size(), 4);
  p += 4;
  for (const auto& [name, versions] : keys_) {
    *p++ = static_cast<uint8_t>(name.size());
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    PutBigEndian(p, versions.size(), 4);
    p += 4;
    for (const KeyVersion& v : versions) {
      PutBigEndian(p, v.number, 4);
      PutBigEndian(p + 4, static_cast<uint64_t>(absl::ToUnixSeconds(v.created)), 8);
      std::memcpy(p + 12, v.material.Reveal().data(), kMaterialSize);
      p += kVersionRecordSize;
    }
  }
  return out;
}

absl::StatusOr<Keyring> Keyring::Parse(const crypto::SecretBytes& bytes) {
  Cursor in(bytes.Reveal());
  if (!in.Has(4)) return Corrupt("truncated key count");
  size_t count = in.Int(4);
  if (count > kMaxKeys) return Corrupt("too many keys");
  Keyring keyring;
  for (size_t i = 0; i < count; ++i) {
    std::string name;
    std::vector<KeyVersion> versions;
    RETURN_IF_ERROR(ParseKey(in, &name, &versions));
    if (keyring.HasKey(name)) return Corrupt(absl::StrCat("key ", name, " appears twice"));
    // Serialize writes keys in order: one keyring has one encoding, and
    // what Parse accepts is exactly what Serialize writes back.
    if (!keyring.keys_.empty() && name < keyring.keys_.rbegin()->first) {
      return Corrupt(absl::StrCat("key ", name, " is out of order"));
    }
    keyring.keys_.emplace(std::move(name), std::move(versions));
  }
  if (!in.done()) return Corrupt("trailing bytes");
  return keyring;
}

}  // namespace keybroker::kms
