// SPDX-License-Identifier: Apache-2.0
#include "app/backup_archive.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vigil::app {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'V', 'I', 'G', 'I', 'L', 'B', 'K', '\0'};
constexpr std::uint8_t kFormat = 1;
constexpr std::uint8_t kFlagEncrypted = 1;
constexpr std::size_t kSaltLen = 16, kNonceLen = 12, kTagLen = 16, kKeyLen = 32;
constexpr std::uint8_t kLog2N = 15, kR = 8, kP = 1;  // scrypt: 32 MiB, ~0.1 s
constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxRecords = 256;
constexpr std::size_t kBuf = 1 << 16;

struct EvpCtx {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  ~EvpCtx() { EVP_CIPHER_CTX_free(c); }
};
struct MdCtx {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(c); }
};

Result<std::array<unsigned char, kKeyLen>> derive_key(const std::string& pass, const unsigned char* salt,
                                                      std::uint8_t log2_n, std::uint8_t r, std::uint8_t p) {
  // Bounded so a hostile header cannot make a restore spend gigabytes or
  // minutes (at most 64 MiB: N = 2^16, r = 8).
  if (log2_n < 10 || log2_n > 16 || r == 0 || r > 8 || p == 0 || p > 2)
    return Status::Corruption("archive: implausible key-derivation parameters");
  std::array<unsigned char, kKeyLen> key{};
  if (EVP_PBE_scrypt(pass.data(), pass.size(), salt, kSaltLen, std::uint64_t{1} << log2_n, r, p,
                     std::uint64_t{160} << 20, key.data(), key.size()) != 1)
    return Status::Internal("archive: scrypt failed");
  return key;
}

// Lets a reader tell a wrong passphrase at once from a damaged body (which
// only the GCM tag at the end can reveal).
std::array<unsigned char, 16> key_check(const std::array<unsigned char, kKeyLen>& key) {
  static const char kLabel[] = "vigil backup key check";
  unsigned char d[32];
  unsigned int dl = 0;
  MdCtx md;
  EVP_DigestInit_ex(md.c, EVP_sha256(), nullptr);
  EVP_DigestUpdate(md.c, kLabel, sizeof kLabel - 1);
  EVP_DigestUpdate(md.c, key.data(), key.size());
  EVP_DigestFinal_ex(md.c, d, &dl);
  std::array<unsigned char, 16> out{};
  std::memcpy(out.data(), d, out.size());
  return out;
}

void put_le(std::string& b, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

// ---------------------------------------------------------------- writer

struct ArchiveWriter::Impl {
  std::string path;
  FILE* f = nullptr;
  bool finished = false;
  bool encrypted = false;
  EvpCtx cipher;
  MdCtx md;
  std::size_t records = 0;

  Status raw_write(const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f) != n) {
      int e = errno;
      return Status::IoError("backup: cannot write " + path + ": " + std::strerror(e));
    }
    return Status::Ok();
  }
  // Body bytes: hashed (plain) or encrypted, then written.
  Status body(const void* p, std::size_t n) {
    if (!encrypted) {
      EVP_DigestUpdate(md.c, p, n);
      return raw_write(p, n);
    }
    std::vector<unsigned char> out(n + 16);
    int len = 0;
    if (EVP_EncryptUpdate(cipher.c, out.data(), &len, static_cast<const unsigned char*>(p), static_cast<int>(n)) != 1)
      return Status::Internal("backup: encryption failed");
    return raw_write(out.data(), static_cast<std::size_t>(len));
  }
  Status record_head(const std::string& name, std::uint64_t size) {
    if (name.empty() || name.size() > kMaxName) return Status::InvalidArgument("backup: bad entry name " + name);
    if (++records > kMaxRecords) return Status::ResourceExhausted("backup: too many entries");
    std::string h;
    put_le(h, 1, 1);
    put_le(h, name.size(), 2);
    h += name;
    put_le(h, size, 8);
    return body(h.data(), h.size());
  }
};

ArchiveWriter::ArchiveWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ArchiveWriter::~ArchiveWriter() {
  if (impl_->f) std::fclose(impl_->f);
  if (!impl_->finished) {
    std::error_code ec;
    fs::remove(impl_->path, ec);
  }
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(const std::string& path, const std::string& passphrase) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    return Status::IoError("backup: cannot create " + path + ": " + std::strerror(e));
  }
  impl->f = ::fdopen(fd, "wb");
  if (!impl->f) {
    ::close(fd);
    return Status::IoError("backup: cannot open " + path);
  }
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter(std::move(impl)));
  Impl& i = *w->impl_;
  std::string header(kMagic, sizeof kMagic);
  put_le(header, kFormat, 1);
  i.encrypted = !passphrase.empty();
  put_le(header, i.encrypted ? kFlagEncrypted : 0, 1);
  if (i.encrypted) {
    unsigned char salt[kSaltLen], nonce[kNonceLen];
    if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(nonce, sizeof nonce) != 1)
      return Status::Internal("backup: no random bytes");
    header.append(reinterpret_cast<char*>(salt), sizeof salt);
    put_le(header, kLog2N, 1);
    put_le(header, kR, 1);
    put_le(header, kP, 1);
    header.append(reinterpret_cast<char*>(nonce), sizeof nonce);
    auto key = derive_key(passphrase, salt, kLog2N, kR, kP);
    if (!key) return key.status();
    auto check = key_check(*key);
    header.append(reinterpret_cast<const char*>(check.data()), check.size());
    int len = 0;
    if (EVP_EncryptInit_ex(i.cipher.c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(i.cipher.c, EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_EncryptInit_ex(i.cipher.c, nullptr, nullptr, key->data(), nonce) != 1 ||
        EVP_EncryptUpdate(i.cipher.c, nullptr, &len, reinterpret_cast<const unsigned char*>(header.data()),
                          static_cast<int>(header.size())) != 1)
      return Status::Internal("backup: cannot start AES-256-GCM");
  } else {
    EVP_DigestInit_ex(i.md.c, EVP_sha256(), nullptr);
  }
  VIGIL_RETURN_IF_ERROR(i.raw_write(header.data(), header.size()));
  return w;
}

Status ArchiveWriter::add_bytes(const std::string& name, const std::string& data) {
  VIGIL_RETURN_IF_ERROR(impl_->record_head(name, data.size()));
  return impl_->body(data.data(), data.size());
}

Status ArchiveWriter::add_file(const std::string& name, const std::string& source_path) {
  FILE* in = std::fopen(source_path.c_str(), "rb");
  if (!in) {
    int e = errno;
    return Status::IoError("backup: cannot read " + source_path + ": " + std::strerror(e));
  }
  struct Close {
    FILE* f;
    ~Close() { std::fclose(f); }
  } close{in};
  std::error_code ec;
  const auto size = fs::file_size(source_path, ec);
  if (ec) return Status::IoError("backup: cannot size " + source_path + ": " + ec.message());
  VIGIL_RETURN_IF_ERROR(impl_->record_head(name, size));
  std::vector<char> buf(kBuf);
  std::uint64_t left = size;
  while (left > 0) {
    std::size_t n = std::fread(buf.data(), 1, std::min<std::uint64_t>(left, buf.size()), in);
    if (n == 0) return Status::IoError("backup: " + source_path + " changed while it was copied");
    VIGIL_RETURN_IF_ERROR(impl_->body(buf.data(), n));
    left -= n;
  }
  return Status::Ok();
}

Status ArchiveWriter::finish() {
  Impl& i = *impl_;
  const unsigned char end = 0;
  VIGIL_RETURN_IF_ERROR(i.body(&end, 1));
  if (i.encrypted) {
    unsigned char tail[16];
    int len = 0;
    unsigned char tag[kTagLen];
    if (EVP_EncryptFinal_ex(i.cipher.c, tail, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(i.cipher.c, EVP_CTRL_GCM_GET_TAG, kTagLen, tag) != 1)
      return Status::Internal("backup: encryption failed");
    VIGIL_RETURN_IF_ERROR(i.raw_write(tail, static_cast<std::size_t>(len)));
    VIGIL_RETURN_IF_ERROR(i.raw_write(tag, kTagLen));
  } else {
    unsigned char digest[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(i.md.c, digest, &dl);
    VIGIL_RETURN_IF_ERROR(i.raw_write(digest, dl));
  }
  if (std::fflush(i.f) != 0 || ::fsync(::fileno(i.f)) != 0) {
    int e = errno;
    return Status::IoError("backup: cannot write " + i.path + ": " + std::strerror(e));
  }
  int rc = std::fclose(i.f);
  i.f = nullptr;
  if (rc != 0) return Status::IoError("backup: cannot close " + i.path);
  i.finished = true;
  return Status::Ok();
}

// ---------------------------------------------------------------- reader

namespace {

class BodyReader {
 public:
  BodyReader(FILE* f, std::uint64_t body_len, EVP_CIPHER_CTX* dec, EVP_MD_CTX* md)
      : f_(f), left_(body_len), dec_(dec), md_(md) {}
  // Exactly n plaintext bytes, or false (the body ended: truncated).
  bool read(unsigned char* out, std::size_t n) {
    if (n > left_) return false;
    if (std::fread(out, 1, n, f_) != n) return false;
    left_ -= n;
    if (dec_) {
      int len = 0;
      std::vector<unsigned char> tmp(out, out + n);
      if (EVP_DecryptUpdate(dec_, out, &len, tmp.data(), static_cast<int>(n)) != 1 || len != static_cast<int>(n))
        return false;
    } else {
      EVP_DigestUpdate(md_, out, n);
    }
    return true;
  }
  std::uint64_t left() const { return left_; }

 private:
  FILE* f_;
  std::uint64_t left_;
  EVP_CIPHER_CTX* dec_;
  EVP_MD_CTX* md_;
};

bool safe_name(const std::string& n) {
  if (n.empty() || n.size() > kMaxName || n == "." || n == "..") return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) return false;
  return n[0] != '.';
}

}  // namespace

Result<bool> archive_is_encrypted(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  unsigned char h[10];
  const bool got = std::fread(h, 1, sizeof h, f) == sizeof h;
  std::fclose(f);
  if (!got || std::memcmp(h, kMagic, sizeof kMagic) != 0) return Status::Corruption(path + " is not a vigil backup");
  return (h[9] & kFlagEncrypted) != 0;
}

Result<std::vector<ArchiveEntry>> read_archive(const std::string& path, const std::string& passphrase,
                                               const std::string& dest_dir) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  struct Close {
    FILE* f;
    ~Close() { std::fclose(f); }
  } close{f};
  std::vector<ArchiveEntry> entries;
  bool ok = false;
  struct Cleanup {  // nothing half-read stays behind
    std::vector<ArchiveEntry>& e;
    bool& ok;
    ~Cleanup() {
      if (ok) return;
      std::error_code ec;
      for (auto& x : e) fs::remove(x.path, ec);
    }
  } cleanup{entries, ok};

  std::error_code ec;
  const std::uint64_t total = fs::file_size(path, ec);
  if (ec) return Status::IoError("cannot size " + path);
  unsigned char h[10];
  if (std::fread(h, 1, sizeof h, f) != sizeof h || std::memcmp(h, kMagic, sizeof kMagic) != 0)
    return Status::Corruption(path + " is not a vigil backup (bad magic)");
  if (h[8] != kFormat)
    return Status::InvalidArgument(path + ": backup format " + std::to_string(h[8]) +
                                   " is newer than this vigil reads (1); upgrade vigil");
  const bool encrypted = (h[9] & kFlagEncrypted) != 0;
  std::string header(reinterpret_cast<char*>(h), sizeof h);
  EvpCtx dec;
  MdCtx md;
  std::size_t trailer = 32;
  if (encrypted) {
    if (passphrase.empty()) return Status::InvalidArgument(path + " is encrypted: give the passphrase (--passphrase-file)");
    unsigned char p[kSaltLen + 3 + kNonceLen + 16];
    if (std::fread(p, 1, sizeof p, f) != sizeof p) return Status::Corruption(path + ": truncated header");
    header.append(reinterpret_cast<char*>(p), sizeof p);
    auto key = derive_key(passphrase, p, p[kSaltLen], p[kSaltLen + 1], p[kSaltLen + 2]);
    if (!key) return key.status().Annotate(path);
    if (std::memcmp(key_check(*key).data(), p + kSaltLen + 3 + kNonceLen, 16) != 0)
      return Status::PermissionDenied(path + ": wrong passphrase");
    int len = 0;
    if (EVP_DecryptInit_ex(dec.c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(dec.c, EVP_CTRL_GCM_SET_IVLEN, kNonceLen, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec.c, nullptr, nullptr, key->data(), p + kSaltLen + 3) != 1 ||
        EVP_DecryptUpdate(dec.c, nullptr, &len, reinterpret_cast<const unsigned char*>(header.data()),
                          static_cast<int>(header.size())) != 1)
      return Status::Internal("cannot start AES-256-GCM");
    trailer = kTagLen;
  } else {
    EVP_DigestInit_ex(md.c, EVP_sha256(), nullptr);
  }
  if (total < header.size() + trailer + 1) return Status::Corruption(path + ": truncated (no body)");
  BodyReader body(f, total - header.size() - trailer, encrypted ? dec.c : nullptr, encrypted ? nullptr : md.c);

  std::vector<unsigned char> buf(kBuf);
  for (std::size_t rec = 1;; ++rec) {
    const std::string where = path + ": record " + std::to_string(rec);
    unsigned char kind;
    if (!body.read(&kind, 1)) return Status::Corruption(where + ": truncated");
    if (kind == 0) break;
    if (kind != 1 || rec > kMaxRecords) return Status::Corruption(where + ": unknown record kind (tampered or wrong passphrase)");
    unsigned char nl[2];
    if (!body.read(nl, 2)) return Status::Corruption(where + ": truncated");
    const auto name_len = static_cast<std::size_t>(get_le(nl, 2));
    if (name_len == 0 || name_len > kMaxName) return Status::Corruption(where + ": bad name length (tampered or wrong passphrase)");
    std::string name(name_len, '\0');
    if (!body.read(reinterpret_cast<unsigned char*>(name.data()), name_len)) return Status::Corruption(where + ": truncated");
    if (!safe_name(name)) return Status::Corruption(where + ": unsafe entry name (tampered or wrong passphrase)");
    unsigned char sz[8];
    if (!body.read(sz, 8)) return Status::Corruption(where + " (" + name + "): truncated");
    const std::uint64_t size = get_le(sz, 8);
    if (size > body.left()) return Status::Corruption(where + " (" + name + "): truncated (needs " + std::to_string(size) + " bytes)");
    for (const auto& e : entries)
      if (e.name == name) return Status::Corruption(where + ": duplicate entry " + name);
    ArchiveEntry e{name, (fs::path(dest_dir) / name).string(), size};
    int fd = ::open(e.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot create " + e.path + ": " + std::strerror(errno));
    entries.push_back(e);
    std::uint64_t left = size;
    while (left > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
      if (!body.read(buf.data(), n)) {
        ::close(fd);
        return Status::Corruption(where + " (" + name + "): truncated");
      }
      if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) {
        int err = errno;
        ::close(fd);
        return Status::IoError("cannot write " + e.path + ": " + std::strerror(err));
      }
      left -= n;
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) return Status::IoError("cannot write " + e.path);
  }
  if (body.left() != 0) return Status::Corruption(path + ": bytes after the end record (tampered)");
  unsigned char t[32];
  if (std::fread(t, 1, trailer, f) != trailer) return Status::Corruption(path + ": truncated trailer");
  if (encrypted) {
    unsigned char out[16];
    int len = 0;
    if (EVP_CIPHER_CTX_ctrl(dec.c, EVP_CTRL_GCM_SET_TAG, kTagLen, t) != 1 || EVP_DecryptFinal_ex(dec.c, out, &len) != 1)
      return Status::PermissionDenied(path + ": wrong passphrase or tampered backup (authentication failed)");
  } else {
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md.c, d, &dl);
    if (std::memcmp(d, t, 32) != 0) return Status::Corruption(path + ": checksum mismatch (damaged or tampered backup)");
  }
  if (entries.empty() || entries[0].name != "manifest.json") return Status::Corruption(path + ": no manifest");
  ok = true;
  return entries;
}

}  // namespace vigil::app
