#include "server/key_version_gauge.h"

#include <utility>

namespace keybroker::server {

std::vector<prometheus::MetricFamily> KeyVersionGauge::Collect() const {
  prometheus::MetricFamily family;
  family.name = "keybroker_key_version_last_used_timestamp_seconds";
  family.help =
      "Unix time an EDEK under this key version was last made or unwrapped here (the most "
      "recently used versions of each key)";
  family.type = prometheus::MetricType::Gauge;
  for (KeyVersionInventory::KeyUses& key : inventory_->Snapshot()) {
    for (KeyVersionInventory::VersionUse& use : key.versions) {
      prometheus::ClientMetric metric;
      metric.label = {{"alias", key.alias}, {"key_version", std::move(use.version)}};
      metric.gauge.value = static_cast<double>(use.last_used_seconds);
      family.metric.push_back(std::move(metric));
    }
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(family));
  return families;
}

}  // namespace keybroker::server
