#include "keybroker/sdk/fhir/resource_identity.h"

#include <cstdint>

#include "common/error_reason.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace keybroker::sdk::fhir {
namespace {

constexpr char kAadLabel[] = "keybroker-fhir-aad-v1";

// Returns object[name] as a non-empty string, or INVALID_REQUEST naming `path`.
absl::StatusOr<std::string> RequiredString(const nlohmann::json& object, const char* name,
                                           const char* path) {
  auto it = object.find(name);
  if (it == object.end()) return InvalidRequest(std::string("resource has no ") + path);
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return InvalidRequest(std::string("resource ") + path + " must be a non-empty string");
  }
  return it->get<std::string>();
}

void AppendField(std::string& out, absl::string_view field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(field.data(), field.size());
}

}  // namespace

absl::StatusOr<ResourceIdentity> IdentityOf(absl::string_view resource_json) {
  nlohmann::json resource = nlohmann::json::parse(resource_json.begin(), resource_json.end(),
                                                  /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (resource.is_discarded()) return InvalidRequest("resource is not valid JSON");
  if (!resource.is_object()) return InvalidRequest("resource is not a JSON object");
  ResourceIdentity identity;
  ASSIGN_OR_RETURN(identity.resource_type,
                   RequiredString(resource, "resourceType", "resourceType"));
  ASSIGN_OR_RETURN(identity.id, RequiredString(resource, "id", "id"));
  auto meta = resource.find("meta");
  if (meta == resource.end() || !meta->is_object()) {
    return InvalidRequest("resource has no meta.versionId");
  }
  ASSIGN_OR_RETURN(identity.version_id, RequiredString(*meta, "versionId", "meta.versionId"));
  return identity;
}

std::string ResourceAad(absl::string_view account, const ResourceIdentity& identity) {
  std::string aad(kAadLabel);
  AppendField(aad, account);
  AppendField(aad, identity.resource_type);
  AppendField(aad, identity.id);
  AppendField(aad, identity.version_id);
  return aad;
}

}  // namespace keybroker::sdk::fhir
