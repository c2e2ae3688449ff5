// KeyVersionGauge: the key version inventory (key_version_inventory.h) as the
// Prometheus gauge
//
//   keybroker_key_version_last_used_timestamp_seconds{alias,key_version}
//
// the unix time an EDEK under that version was last made or presented on
// this broker. Built at each scrape from the inventory, so its series come
// and go with the inventory's bounded slots (at most
// KeyVersionInventory::kSlotsPerKey per key); a Prometheus `max by (alias,
// key_version)` joins the replicas. Labels are a configured alias and a KMS
// version id (a number, or Key Vault's 32 hex characters): never a URI. Keys
// named at run time by URI are left out (KeyVersionInventory::Snapshot):
// DescribeKey on the URI shows their versions' last use.
//
// Safe for concurrent use; the inventory must outlive it.
#ifndef KEYBROKER_SERVER_KEY_VERSION_GAUGE_H_
#define KEYBROKER_SERVER_KEY_VERSION_GAUGE_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/key_version_inventory.h"

namespace keybroker::server {

class KeyVersionGauge final : public prometheus::Collectable {
 public:
  explicit KeyVersionGauge(const KeyVersionInventory* inventory) : inventory_(inventory) {}

  // One family, with one series per version held.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const KeyVersionInventory* inventory_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_VERSION_GAUGE_H_
