// SPDX-License-Identifier: Apache-2.0
#include "firmware/cli.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "firmware/image.h"
#include "vigil/status.h"

namespace vigil::firmware {
namespace {

// Files are bounded: a key is a few hundred bytes, an image at most the slot.
constexpr std::size_t kMaxFile = 1 << 20;

Result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IoError(std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
  std::string s;
  s.resize(kMaxFile + 1);
  f.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(f.gcount()));
  if (s.size() > kMaxFile) return Status::InvalidArgument(std::string(what) + " " + path + " is larger than 1 MiB");
  return s;
}

Status write_new_file(const std::string& path, const std::string& data, mode_t mode, bool exclusive) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), mode);
  if (fd < 0)
    return Status::IoError("cannot write " + path + ": " +
                           (errno == EEXIST ? std::string("it exists (not overwritten)") : std::strerror(errno)));
  ::fchmod(fd, mode);  // the umask must not widen or narrow what was asked
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Status::IoError("cannot write " + path + ": " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

int fail(const char* cmd, const Status& s, std::ostream& err, int code = 1) {
  err << "vigil firmware " << cmd << ": " << s.message() << std::endl;
  return code;
}

}  // namespace

std::string public_key_path(const std::string& key_path) {
  const std::string ext = ".pem";
  if (key_path.size() > ext.size() && key_path.compare(key_path.size() - ext.size(), ext.size(), ext) == 0)
    return key_path.substr(0, key_path.size() - ext.size()) + ".pub.pem";
  return key_path + ".pub.pem";
}

int keygen_command(const std::string& key_path, std::ostream& out, std::ostream& err) {
  auto kp = generate_keypair();
  if (!kp) return fail("keygen", kp.status(), err);
  const std::string pub = public_key_path(key_path);
  if (::access(key_path.c_str(), F_OK) == 0)
    return fail("keygen", Status::IoError("cannot write " + key_path + ": it exists (not overwritten)"), err);
  if (::access(pub.c_str(), F_OK) == 0)
    return fail("keygen", Status::IoError("cannot write " + pub + ": it exists (not overwritten)"), err);
  if (auto s = write_new_file(key_path, kp->private_pem, 0600, true); !s.ok()) return fail("keygen", s, err);
  if (auto s = write_new_file(pub, kp->public_pem, 0644, true); !s.ok()) {
    ::unlink(key_path.c_str());  // no private key without its public half
    return fail("keygen", s, err);
  }
  out << pub << std::endl;
  return 0;
}

int sign_command(const std::string& key_path, const std::string& in_path, const std::string& out_path,
                 const std::string& version, const std::string& board, std::ostream& out, std::ostream& err) {
  auto b = parse_board(board);
  if (!b) return fail("sign", b.status(), err, 2);
  auto v = parse_version(version);
  if (!v) return fail("sign", v.status(), err, 2);
  auto key = read_file(key_path, "key");
  if (!key) return fail("sign", key.status(), err);
  auto app = read_file(in_path, "application image");
  if (!app) return fail("sign", app.status(), err);
  std::vector<std::uint8_t> payload(app->begin(), app->end());
  auto img = build_image(*b, *v, payload, *key);
  if (!img) return fail("sign", img.status().Annotate(key_path + " / " + in_path), err);
  std::string data(img->begin(), img->end());
  if (auto s = write_new_file(out_path, data, 0644, false); !s.ok()) return fail("sign", s, err);
  auto info = parse_image(*img);
  out << "wrote " << out_path << " (" << board_name(*b) << " " << version_string(*v) << ", " << img->size()
      << " bytes, sha256 " << (info ? info->sha256_hex() : std::string("?")) << ")" << std::endl;
  return 0;
}

int inspect_command(const std::string& image_path, const std::string& pub_path, std::ostream& out,
                    std::ostream& err) {
  auto data = read_file(image_path, "image");
  if (!data) return fail("inspect", data.status(), err);
  std::vector<std::uint8_t> bytes(data->begin(), data->end());
  auto info = parse_image(bytes);
  if (!info) return fail("inspect", info.status().Annotate(image_path), err);
  std::string signature = "unchecked";
  std::string why;
  if (!pub_path.empty()) {
    auto pub = read_file(pub_path, "public key");
    if (!pub) return fail("inspect", pub.status(), err);
    auto s = verify_signature(bytes, *pub);
    if (s.code() == Status::Code::kInvalidArgument && s.message().rfind("unsigned", 0) != 0)
      return fail("inspect", s.Annotate(pub_path), err);  // the key, not the image
    signature = s.ok() ? "valid" : "invalid";
    why = s.ok() ? "" : s.message();
  }
  nlohmann::json j = {{"board", board_name(info->board_id)},
                      {"board_id", info->board_id},
                      {"version", version_string(info->version)},
                      {"size", bytes.size()},
                      {"payload_size", info->payload_size},
                      {"crc", [&] {
                         char buf[16];
                         std::snprintf(buf, sizeof buf, "0x%08x", info->payload_crc32);
                         return std::string(buf);
                       }()},
                      {"sha256", info->sha256_hex()},
                      {"file_sha256", [&] {  // what the gateway lists as the stored image's sha256
                         ImageInfo whole;
                         unsigned int n = 0;
                         EVP_Digest(bytes.data(), bytes.size(), whole.sha256.data(), &n, EVP_sha256(), nullptr);
                         return whole.sha256_hex();
                       }()},
                      {"signature", signature}};
  if (!why.empty()) j["signature_error"] = why;
  out << j.dump(2) << std::endl;
  return signature == "invalid" ? 1 : 0;
}

}  // namespace vigil::firmware
