// SPDX-License-Identifier: Apache-2.0
// The libcurl Sender: SMTP (with STARTTLS) and webhook POSTs.
#include <curl/curl.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "notify/internal.h"
#include "notify/sender.h"

namespace vigil::notify {
namespace {

constexpr long kConnectTimeoutS = 5;
constexpr long kTotalTimeoutS = 20;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;

std::string one_line(std::string s) {
  std::replace_if(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return s;
}

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

std::string b64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  std::size_t i = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  for (; i + 2 < s.size(); i += 3) {
    std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    o += t[(v >> 18) & 63]; o += t[(v >> 12) & 63]; o += t[(v >> 6) & 63]; o += t[v & 63];
  }
  if (s.size() - i == 1) {
    std::uint32_t v = b[i] << 16;
    o += t[(v >> 18) & 63]; o += t[(v >> 12) & 63]; o += "==";
  } else if (s.size() - i == 2) {
    std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    o += t[(v >> 18) & 63]; o += t[(v >> 12) & 63]; o += t[(v >> 6) & 63]; o += '=';
  }
  return o;
}

std::string b64_lines(const std::string& s) {
  std::string e = b64(s), o;
  for (std::size_t i = 0; i < e.size(); i += 76) o += e.substr(i, 76) + "\r\n";
  return o;
}

std::string header_text(const std::string& s) {
  std::string v = one_line(s);
  if (ascii(v)) return v;
  return "=?UTF-8?B?" + b64(v) + "?=";
}

std::string rfc5322_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string random_hex(int n) {
  std::vector<std::uint8_t> b(static_cast<std::size_t>(n));
  if (RAND_bytes(b.data(), n) != 1)
    for (auto& x : b) x = static_cast<std::uint8_t>(std::rand());
  return detail::hex(b);
}

struct Upload {
  const std::string* data;
  std::size_t pos = 0;
};
std::size_t read_cb(char* buf, std::size_t size, std::size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  std::size_t len = std::min(size * n, u->data->size() - u->pos);
  std::memcpy(buf, u->data->data() + u->pos, len);
  u->pos += len;
  return len;
}
std::size_t write_cb(char* p, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  std::size_t len = size * n;
  if (s->size() < kMaxResponseBytes) s->append(p, std::min(len, kMaxResponseBytes - s->size()));
  return len;  // read and drop the rest
}

using Easy = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Slist = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

Status curl_error(const char* what, CURLcode rc, const char* errbuf) {
  std::string m = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  return Status::Unavailable(std::string(what) + ": " + m);
}

class CurlSender final : public Sender {
 public:
  CurlSender() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Status send_email(const SmtpSettings& s, const EmailMessage& m) override {
    if (s.host.empty()) return Status::FailedPrecondition("smtp: notifications.smtp.host is not set");
    if (m.to.empty()) return Status::InvalidArgument("smtp: no recipients");
    Easy c(curl_easy_init(), &curl_easy_cleanup);
    if (!c) return Status::Internal("smtp: curl_easy_init failed");
    char err[CURL_ERROR_SIZE] = {0};
    const std::string url = std::string(s.port == 465 ? "smtps://" : "smtp://") + s.host + ":" +
                            std::to_string(s.port);
    const std::string from = s.from.empty() ? "vigil@localhost" : one_line(s.from);
    const std::string mail_from = "<" + from + ">";
    Slist rcpt(nullptr, &curl_slist_free_all);
    for (const auto& t : m.to) {
      curl_slist* n = curl_slist_append(rcpt.get(), ("<" + one_line(t) + ">").c_str());
      if (!n) return Status::Internal("smtp: out of memory");
      rcpt.release();
      rcpt.reset(n);
    }
    const std::string body = build_mime(s, m, rfc5322_now(), "vigil-" + random_hex(12));
    Upload up{&body};
    curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS);
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, kTotalTimeoutS);
    curl_easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (s.starttls == "required") curl_easy_setopt(c.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    else if (s.starttls == "on") curl_easy_setopt(c.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
    else curl_easy_setopt(c.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_NONE));
    if (!s.ca_file.empty()) curl_easy_setopt(c.get(), CURLOPT_CAINFO, s.ca_file.c_str());
    if (!s.username.empty()) {
      curl_easy_setopt(c.get(), CURLOPT_USERNAME, s.username.c_str());
      curl_easy_setopt(c.get(), CURLOPT_PASSWORD, s.password.c_str());
    }
    curl_easy_setopt(c.get(), CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c.get(), CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c.get(), CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c.get(), CURLOPT_READDATA, &up);
    curl_easy_setopt(c.get(), CURLOPT_UPLOAD, 1L);
    CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK) return curl_error("smtp", rc, err);
    return Status::Ok();
  }

  Status post(const WebhookRequest& r) override {
    Easy c(curl_easy_init(), &curl_easy_cleanup);
    if (!c) return Status::Internal("webhook: curl_easy_init failed");
    char err[CURL_ERROR_SIZE] = {0};
    Slist headers(nullptr, &curl_slist_free_all);
    bool has_type = false;
    auto add = [&](const std::string& line) -> bool {
      curl_slist* n = curl_slist_append(headers.get(), line.c_str());
      if (!n) return false;
      headers.release();
      headers.reset(n);
      return true;
    };
    for (const auto& [k, v] : r.headers) {
      std::string lk = k;
      std::transform(lk.begin(), lk.end(), lk.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (lk == "content-type") has_type = true;
      if (!add(one_line(k) + ": " + one_line(v))) return Status::Internal("webhook: out of memory");
    }
    if (!has_type && !add("Content-Type: application/json")) return Status::Internal("webhook: out of memory");
    if (!add("Expect:")) return Status::Internal("webhook: out of memory");
    std::string response;
    curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c.get(), CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS);
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, kTotalTimeoutS);
    curl_easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "vigil-notify/1");
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &response);
    if (!r.ca_file.empty()) curl_easy_setopt(c.get(), CURLOPT_CAINFO, r.ca_file.c_str());
    if (!r.verify_tls) {
      curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK) return curl_error("webhook", rc, err);
    long code = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) return Status::Unavailable("webhook: HTTP " + std::to_string(code));
    return Status::Ok();
  }
};

}  // namespace

std::string build_mime(const SmtpSettings& s, const EmailMessage& m, const std::string& date_rfc5322,
                       const std::string& boundary) {
  const std::string from = s.from.empty() ? "vigil@localhost" : one_line(s.from);
  std::string to;
  for (const auto& t : m.to) to += (to.empty() ? "" : ", ") + one_line(t);
  auto at = from.find('@');
  const std::string domain = at == std::string::npos ? "vigil" : from.substr(at + 1);
  std::string o;
  o += "Date: " + date_rfc5322 + "\r\n";
  o += "From: " + from + "\r\n";
  o += "To: " + to + "\r\n";
  o += "Subject: " + header_text(m.subject) + "\r\n";
  o += "Message-ID: <" + boundary + "@" + domain + ">\r\n";
  o += "MIME-Version: 1.0\r\n";
  o += "Auto-Submitted: auto-generated\r\n";
  o += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  o += "--" + boundary + "\r\n";
  o += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  o += b64_lines(m.text);
  o += "--" + boundary + "\r\n";
  o += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  o += b64_lines(m.html);
  o += "--" + boundary + "--\r\n";
  return o;
}

std::unique_ptr<Sender> make_curl_sender() { return std::make_unique<CurlSender>(); }

}  // namespace vigil::notify
