// Takes secrets (the master key in KEYBROKER_MASTER_KEY) out of the process
// environment, so that they do not stay readable in /proc/<pid>/environ, in
// core dumps or in the environment of child processes.
//
// unsetenv only drops the variable from `environ`; /proc/<pid>/environ shows
// the block of strings the process started with, whatever `environ` says now.
// So a value found in that block is overwritten there first. A value that code
// in the process set itself (setenv, putenv) lives in memory the broker does
// not own (a putenv'd literal is read-only), and is only removed.
//
// Not safe for concurrent use with any other reader or writer of the
// environment (getenv, setenv): call it at start-up.
#ifndef KEYBROKER_CRYPTO_SECRET_ENV_H_
#define KEYBROKER_CRYPTO_SECRET_ENV_H_

#include <optional>

#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

// Returns the value of environment variable `name` and removes the variable,
// wiping the start-up copy of its value as above; nullopt when it is not set.
std::optional<SecretBytes> TakeSecretFromEnvironment(const char* name);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_SECRET_ENV_H_
