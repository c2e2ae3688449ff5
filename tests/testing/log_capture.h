// LogCapture: keeps the log lines (common/log.h) written while it lives, so
// that tests can look for an event's fields (a test sink gets every line at
// once, info lines too). Safe for concurrent use.
#ifndef KEYBROKER_TESTS_TESTING_LOG_CAPTURE_H_
#define KEYBROKER_TESTS_TESTING_LOG_CAPTURE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace keybroker::testing {

class LogCapture {
 public:
  LogCapture() {
    log::SetSinkForTesting([this](const std::string& line) {
      absl::MutexLock lock(&mu_);
      lines_.push_back(line);
    });
  }
  ~LogCapture() { log::SetSinkForTesting(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The lines of `event`, oldest first.
  std::vector<nlohmann::json> Events(const std::string& event) const {
    absl::MutexLock lock(&mu_);
    std::vector<nlohmann::json> found;
    for (const std::string& line : lines_) {
      nlohmann::json json = nlohmann::json::parse(line);
      if (json["event"] == event) found.push_back(std::move(json));
    }
    return found;
  }

  // Every line as written, for searching for text that must not be there.
  std::string All() const {
    absl::MutexLock lock(&mu_);
    std::string all;
    for (const std::string& line : lines_) all += line;
    return all;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_LOG_CAPTURE_H_
