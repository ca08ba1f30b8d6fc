// SPDX-License-Identifier: Apache-2.0
#include "auth/self_signed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

namespace vigil::auth {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

std::vector<std::string> local_addresses() {
  std::set<std::string> out = {"127.0.0.1", "::1"};
  ifaddrs* ifa = nullptr;
  if (getifaddrs(&ifa) != 0) return {out.begin(), out.end()};
  for (ifaddrs* i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;  // needs a zone id; useless in a SAN
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    } else {
      continue;
    }
    out.insert(buf);
  }
  freeifaddrs(ifa);
  return {out.begin(), out.end()};
}

bool is_ip(const std::string& s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
}

Status write_pem(const std::string& path, bool private_key, EVP_PKEY* key, X509* cert) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, private_key ? 0600 : 0644);
  if (fd < 0) return Status::IoError("cannot write " + tmp);
  FILE* f = fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    return Status::IoError("cannot write " + tmp);
  }
  int ok = private_key ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) : PEM_write_X509(f, cert);
  if (std::fclose(f) != 0 || ok != 1) return Status::IoError("cannot write " + tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Result<CertPaths> ensure_self_signed(const std::string& dir, const std::vector<std::string>& extra_names) {
  namespace fs = std::filesystem;
  CertPaths p{(fs::path(dir) / "tls-cert.pem").string(), (fs::path(dir) / "tls-key.pem").string(), false};
  std::error_code ec;
  if (fs::exists(p.cert_file, ec) && fs::exists(p.key_file, ec)) return p;
  fs::create_directories(dir, ec);

  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("tls: cannot generate an EC P-256 key");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());

  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string cn = host[0] ? host : "vigil";
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("vigil gateway"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::set<std::string> dns = {cn, "localhost"};
  std::set<std::string> ips;
  for (auto& a : local_addresses()) ips.insert(a);
  for (auto& n : extra_names) (is_ip(n) ? ips : dns).insert(n);
  std::string san;
  for (auto& d : dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (auto& i : ips) san += ",IP:" + i;

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> exts[] = {{NID_subject_alt_name, san},
                                              {NID_basic_constraints, "critical,CA:FALSE"},
                                              {NID_key_usage, "critical,digitalSignature"},
                                              {NID_ext_key_usage, "serverAuth"}};
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!e) return Status::Internal("tls: bad certificate extension " + value);
    X509_add_ext(cert.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Status::Internal("tls: cannot sign the certificate");
  VIGIL_RETURN_IF_ERROR(write_pem(p.key_file, true, key.get(), nullptr));
  VIGIL_RETURN_IF_ERROR(write_pem(p.cert_file, false, nullptr, cert.get()));
  p.generated = true;
  return p;
}

Result<std::string> cert_fingerprint(const std::string& cert_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (!f) return Status::IoError("cannot read " + cert_file);
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) return Status::InvalidArgument(cert_file + " is not a PEM certificate");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &n);
  std::string out;
  char b[4];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02X", md[i]);
    if (i) out += ':';
    out += b;
  }
  return out;
}

}  // namespace vigil::auth
