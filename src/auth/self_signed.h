// SPDX-License-Identifier: Apache-2.0
//
// HTTPS by default: when TLS is on and no certificate is configured, the
// gateway makes its own at first start — an EC P-256 key and a self-signed
// X.509 certificate (10 years) whose SubjectAltName lists the host name,
// "localhost" and every local IP address — and re-uses it afterwards. The
// key file is written 0600.
//
// Thread-safety: call from start-up only.
#pragma once

#include <string>
#include <vector>

#include "vigil/status.h"

namespace vigil::auth {

struct CertPaths {
  std::string cert_file, key_file;
  bool generated = false;  // true when this call made them
};

// Re-uses dir/tls-cert.pem + dir/tls-key.pem if both exist, else creates
// them. `extra_names` are added to the SAN (DNS names or IP literals).
Result<CertPaths> ensure_self_signed(const std::string& dir, const std::vector<std::string>& extra_names = {});

// SHA-256 fingerprint of a PEM certificate ("AB:CD:…"), for the log line
// users compare with what their browser shows.
Result<std::string> cert_fingerprint(const std::string& cert_file);

}  // namespace vigil::auth
