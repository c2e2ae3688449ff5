// KeyEvent and KeyWatch: the broker telling its clients that a key became
// inaccessible (access removed, disabled, deleted) or accessible again, so
// that they drop cached DEKs at once instead of when their caches expire.
//
// A DekSource that can watch (Client, over the WatchKeys RPC) returns a
// KeyWatch from DekSource::WatchKeys; the watch calls its callback with the
// state of each watched key when it (re)connects (KeyEvent::initial set) and
// then with each change. Destroying the KeyWatch stops it.
#ifndef KEYBROKER_SDK_KEY_WATCH_H_
#define KEYBROKER_SDK_KEY_WATCH_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace keybroker::sdk {

// One key's accessibility, as the broker sees it.
struct KeyEvent {
  // The alias, as watched.
  std::string key;
  bool accessible = false;
  // When not accessible: KEY_NOT_ACCESSIBLE, KEY_DISABLED or KEY_NOT_FOUND.
  std::string reason;
  // The key name that EDEKs made under this key carry ("{vault host}/{key
  // name}" for Azure keys, the keyring's key name for local keys): the cached
  // unwraps of EDEKs naming it are the ones to drop.
  std::string edek_key_name;
  // Set on the events that tell the state when the watch (re)connects; clear
  // on changes. Events missed while disconnected show up as this state.
  bool initial = false;
};

// Called on the watch's own thread, one event at a time, in order. It must
// not block for long (later events wait) and must not destroy its KeyWatch.
using KeyEventCallback = std::function<void(const KeyEvent&)>;

// A running watch. Destroying it stops the watch and waits until its
// callback has returned: the callback is never called once the destructor
// has returned. Thread-safe.
class KeyWatch {
 public:
  virtual ~KeyWatch() = default;

  // OK while the watch is connected, or connecting for the first time. While
  // it reconnects after an error: that error. Once it stopped for good
  // (stopped() is true): why; UNIMPLEMENTED means the broker is older than
  // WatchKeys, and cached DEKs then live as long as their TTLs allow.
  virtual absl::Status status() const = 0;

  // Whether the watch gave up: it delivers no more events. Only an error
  // that retrying cannot cure stops it (UNIMPLEMENTED); other errors are
  // retried with backoff until the KeyWatch is destroyed.
  virtual bool stopped() const = 0;
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_KEY_WATCH_H_
