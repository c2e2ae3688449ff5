#include "server/tls_floor.h"

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/error_reason.h"

namespace keybroker::server {
namespace {

// Debian's own openssl.cnf keeps its CipherString in the same section;
// OpenSSL's defaults are as strict at security level 2.
constexpr char kConfig[] =
    "openssl_conf = keybroker_openssl\n"
    "[keybroker_openssl]\n"
    "ssl_conf = keybroker_ssl\n"
    "[keybroker_ssl]\n"
    "system_default = keybroker_tls\n"
    "[keybroker_tls]\n"
    "MinProtocol = TLSv1.3\n"
    "Protocol = -ALL, TLSv1.3\n"
    "CipherString = DEFAULT:@SECLEVEL=2\n";

}  // namespace

absl::Status RaiseTlsFloorToTls13() {
  OPENSSL_init_ssl(0, nullptr);  // the ssl_conf module must be registered
  BIO* bio = BIO_new_mem_buf(kConfig, sizeof(kConfig) - 1);
  CONF* conf = NCONF_new(nullptr);
  long error_line = 0;
  bool ok = bio != nullptr && conf != nullptr && NCONF_load_bio(conf, bio, &error_line) > 0 &&
            CONF_modules_load(conf, nullptr, 0) > 0;
  NCONF_free(conf);
  BIO_free(bio);
  if (!ok) {
    ERR_clear_error();
    return Internal("OpenSSL refused the TLS 1.3 floor (tls.min_version: \"1.3\")");
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
