// Tells ThreadSanitizer about Abseil's synchronization in a
// KEYBROKER_SANITIZE=thread build (cmake/sanitizers.cmake links this file into
// every executable of that build, and only of that build).
//
// Why: TSan sees a lock only through instrumented code or interceptors. Debian's
// libabsl_synchronization is not instrumented, so without this file every
// absl::Mutex is invisible and each access to ABSL_GUARDED_BY state from two
// threads is reported as a race. Abseil's own mutex.cc carries these very
// annotations (ABSL_TSAN_MUTEX_*), compiled in only when Abseil itself is built
// with -fsanitize=thread, which Debian's is not, and its source is not
// installed. So this file defines the public entry points of absl::Mutex,
// absl::CondVar, absl::Notification and absl::BlockingCounter: the executable's
// definitions take precedence over the shared library's (the executable is
// linked with -rdynamic so that gRPC's and Abseil's own calls through the PLT
// arrive here too). Each one tells TSan what the call does to the lock, the way
// mutex.cc would, and calls the library's function found with
// dlsym(RTLD_NEXT). Production code is unchanged; the broker and tests call
// Abseil exactly as in every other build.
//
// What TSan then knows:
// - lock, unlock, try-lock, reader lock: acquire and release on the mutex;
// - Await/LockWhen/CondVar waits: the lock is released and taken again;
// - the library's own code (evaluating absl::Condition callbacks, possibly on
//   behalf of another thread, inside Unlock) runs with TSan's memory checks
//   ignored, as mutex.cc arranges with __tsan_mutex_pre/post_*;
// - Notification::Notify and BlockingCounter::DecrementCount release, their
//   waits acquire (their fast paths are atomics inside the library);
// - dropping a reference to an absl::Status's shared representation releases
//   and acquires on it. The count is raised by inline code (instrumented)
//   but lowered, and the representation deleted, in the library's
//   Status::UnrefNonInlined: without this, a Status copied on one thread and
//   destroyed on another is reported as a race on its delete (seen in
//   EncryptionKeysTest.FailedBackgroundFetchIsRetriedAfterTheDelay).
// Only the outermost of nested entry points annotates (Notification calls
// Mutex functions through the PLT, which lands here again).
//
// What it cannot do: accesses made inside uninstrumented libraries (gRPC,
// protobuf, cpprest) are not seen at all, and synchronization they do with
// their own atomics (gRPC's completion queues, its lock-free queues) is not
// seen either. README.md, "Sanitizers", says which tests this leaves trustworthy.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#define KEYBROKER_STRINGIFY_INNER(x) #x
#define KEYBROKER_STRINGIFY(x) KEYBROKER_STRINGIFY_INNER(x)

// The definitions below implement Abseil's annotated functions in terms of
// function pointers; the thread-safety analysis cannot follow that.
#pragma clang diagnostic ignored "-Wthread-safety-analysis"

namespace {

// Itanium mangling of absl::<inline namespace>::<suffix>; `const_member`
// for const member functions (_ZNK...).
std::string Mangled(bool const_member, const char* suffix) {
  const char* ns = KEYBROKER_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return std::string(const_member ? "_ZNK4absl" : "_ZN4absl") +
         std::to_string(std::string(ns).size()) + ns + suffix;
}

// The shared library's definition of `suffix`, or a loud stop: a silently
// missing annotation would make TSan's verdicts worthless.
void* Real(bool const_member, const char* suffix) {
  std::string name = Mangled(const_member, suffix);
  void* symbol = dlsym(RTLD_NEXT, name.c_str());
  if (symbol == nullptr) {
    std::fprintf(stderr, "tsan_absl_annotations: %s not found in the loaded Abseil\n",
                 name.c_str());
    std::abort();
  }
  return symbol;
}

template <typename Fn>
Fn RealMember(const char* suffix, bool const_member = false) {
  return reinterpret_cast<Fn>(Real(const_member, suffix));
}

// Depth of annotated entry points on this thread: only the outermost one
// talks to TSan.
thread_local int annotated_depth = 0;

class Nesting {
 public:
  Nesting() : outermost_(annotated_depth++ == 0) {}
  ~Nesting() { --annotated_depth; }
  bool outermost() const { return outermost_; }

 private:
  const bool outermost_;
};

// Mutexes this thread holds in reader mode (a thread holds few at once), so
// that Await and CondVar waits release them in the mode they were taken.
constexpr int kMaxReaderHeld = 16;
thread_local const void* reader_held[kMaxReaderHeld];
thread_local int reader_held_count = 0;

void NoteReaderLocked(const void* mu) {
  if (reader_held_count < kMaxReaderHeld) reader_held[reader_held_count++] = mu;
}

void NoteReaderUnlocked(const void* mu) {
  for (int i = reader_held_count - 1; i >= 0; --i) {
    if (reader_held[i] == mu) {
      reader_held[i] = reader_held[--reader_held_count];
      return;
    }
  }
}

unsigned ModeFlags(const void* mu) {
  for (int i = 0; i < reader_held_count; ++i) {
    if (reader_held[i] == mu) return __tsan_mutex_read_lock;
  }
  return 0;
}

// A call that takes `mu` (in the mode of `flags`) and holds it on return.
template <typename Call>
auto Acquiring(void* mu, unsigned flags, Call call) {
  Nesting nesting;
  if (!nesting.outermost()) return call();
  __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  __tsan_mutex_post_lock(mu, flags, 0);
  if (flags & __tsan_mutex_read_lock) NoteReaderLocked(mu);
  return result;
}

// A call that releases `mu`, waits, and holds it again on return.
template <typename Call>
auto Waiting(void* mu, Call call) {
  Nesting nesting;
  if (!nesting.outermost()) return call();
  unsigned flags = ModeFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  auto result = call();
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// Adapts a void call to the templates above.
template <typename Call>
auto Returning(Call call) {
  return [call] {
    call();
    return 0;
  };
}

using MutexFn = void (*)(absl::Mutex*);
using MutexTryFn = bool (*)(absl::Mutex*);
using MutexCondFn = void (*)(absl::Mutex*, const absl::Condition&);
using MutexCondTimeoutFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using MutexCondDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using CondVarFn = void (*)(absl::CondVar*, absl::Mutex*);
using CondVarTimeoutFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using CondVarDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);

// Where Notification keeps its flag (its inline HasBeenNotified() reads it
// with an instrumented acquire load, so a release on that address reaches it).
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification),
              "absl::Notification's layout changed");

void* NotifiedFlag(const absl::Notification* notification) {
  return reinterpret_cast<char*>(const_cast<absl::Notification*>(notification)) +
         offsetof(NotificationLayout, notified);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static auto real = RealMember<MutexFn>("5MutexD1Ev");
  {
    Nesting nesting;
    if (nesting.outermost()) __tsan_mutex_destroy(this, 0);
  }
  real(this);
}

void Mutex::Lock() {
  static auto real = RealMember<MutexFn>("5Mutex4LockEv");
  Acquiring(this, 0, Returning([this] { real(this); }));
}

void Mutex::ReaderLock() {
  static auto real = RealMember<MutexFn>("5Mutex10ReaderLockEv");
  Acquiring(this, __tsan_mutex_read_lock, Returning([this] { real(this); }));
}

bool Mutex::TryLock() {
  static auto real = RealMember<MutexTryFn>("5Mutex7TryLockEv");
  Nesting nesting;
  if (!nesting.outermost()) return real(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(
      this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto real = RealMember<MutexTryFn>("5Mutex13ReaderTryLockEv");
  Nesting nesting;
  if (!nesting.outermost()) return real(this);
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  if (locked) NoteReaderLocked(this);
  return locked;
}

void Mutex::Unlock() {
  static auto real = RealMember<MutexFn>("5Mutex6UnlockEv");
  Nesting nesting;
  if (!nesting.outermost()) return real(this);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static auto real = RealMember<MutexFn>("5Mutex12ReaderUnlockEv");
  Nesting nesting;
  if (!nesting.outermost()) return real(this);
  NoteReaderUnlocked(this);
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = RealMember<MutexCondFn>("5Mutex8LockWhenERKNS0_9ConditionE");
  Acquiring(this, 0, Returning([&] { real(this, cond); }));
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = RealMember<MutexCondFn>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquiring(this, __tsan_mutex_read_lock, Returning([&] { real(this, cond); }));
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = RealMember<MutexCondTimeoutFn>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = RealMember<MutexCondDeadlineFn>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = RealMember<MutexCondTimeoutFn>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, __tsan_mutex_read_lock, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = RealMember<MutexCondDeadlineFn>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, __tsan_mutex_read_lock, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  static auto real = RealMember<MutexCondFn>("5Mutex5AwaitERKNS0_9ConditionE");
  Waiting(this, Returning([&] { real(this, cond); }));
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = RealMember<MutexCondTimeoutFn>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Waiting(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = RealMember<MutexCondDeadlineFn>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Waiting(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = RealMember<CondVarFn>("7CondVar4WaitEPNS0_5MutexE");
  Waiting(mu, Returning([&] { real(this, mu); }));
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto real = RealMember<CondVarTimeoutFn>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Waiting(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = RealMember<CondVarDeadlineFn>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Waiting(mu, [&] { return real(this, mu, deadline); });
}

void Notification::Notify() {
  static auto real = RealMember<void (*)(Notification*)>("12Notification6NotifyEv");
  Nesting nesting;
  if (nesting.outermost()) __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = RealMember<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", /*const_member=*/true);
  Nesting nesting;
  real(this);
  if (nesting.outermost()) __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static auto real = RealMember<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", /*const_member=*/true);
  Nesting nesting;
  bool notified = real(this, timeout);
  if (notified && nesting.outermost()) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static auto real = RealMember<bool (*)(const Notification*, absl::Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", /*const_member=*/true);
  Nesting nesting;
  bool notified = real(this, deadline);
  if (notified && nesting.outermost()) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool BlockingCounter::DecrementCount() {
  static auto real = RealMember<bool (*)(BlockingCounter*)>("15BlockingCounter14DecrementCountEv");
  Nesting nesting;
  if (nesting.outermost()) __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  static auto real = RealMember<void (*)(BlockingCounter*)>("15BlockingCounter4WaitEv");
  Nesting nesting;
  real(this);
  if (nesting.outermost()) __tsan_acquire(this);
}

// A shared representation's last owner deletes it after every other owner
// dropped theirs: each drop releases, and each drop acquires too, since which
// one is the last is decided inside the library. (Acquiring on every drop,
// not only the last, orders a little more than the program does; only races
// on a Status's own representation, which is immutable once shared, could
// hide behind it.)
void Status::UnrefNonInlined(uintptr_t rep) {
  static auto real = RealMember<void (*)(uintptr_t)>("6Status15UnrefNonInlinedEm");
  Nesting nesting;
  void* shared = reinterpret_cast<void*>(rep - 1);
  if (nesting.outermost()) {
    __tsan_release(shared);
    __tsan_acquire(shared);
  }
  real(rep);
}

ABSL_NAMESPACE_END
}  // namespace absl
