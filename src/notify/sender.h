// SPDX-License-Identifier: Apache-2.0
//
// Sender: the seam between the notifier and the outside world (an SMTP relay,
// webhook receivers). make_curl_sender() is the real one (libcurl); unit tests
// use a fake. A Sender only transports: what to send, when, and how often to
// retry is the Notifier's business.
//
// Contract of the real sender (CurlSender):
//   - every transfer has a connect timeout of 5 s and a total timeout of 20 s;
//   - send_email: smtp://host:port (smtps:// when port is 465), STARTTLS per
//     SmtpSettings::starttls ("off": none, "on": CURLUSESSL_TRY, "required":
//     CURLUSESSL_ALL), AUTH with username/password when a username is set,
//     ca_file as the trust anchor when set; the message is MIME
//     multipart/alternative (text + HTML, UTF-8, base64). CR/LF in headers
//     (subject, addresses) are replaced by spaces: no header injection.
//   - post: HTTP(S) POST of r.body (Content-Type: application/json unless
//     r.headers names one) with r.headers; no redirects are followed, only
//     http/https are spoken; ca_file / verify_tls as given. A non-2xx answer
//     is kUnavailable naming the status ("HTTP 503"); transport failures are
//     kUnavailable with libcurl's message.
//
// Thread-safety: a CurlSender may be used from several threads at once (every
// call makes its own easy handle); the notifier calls it from its worker only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vigil/status.h"

namespace vigil::notify {

// The SMTP relay: config section notifications.smtp (the password comes from
// notifications.smtp.password_file; the gateway reads it).
struct SmtpSettings {
  std::string host;
  int port = 25;
  std::string starttls = "on";  // off | on | required
  std::string username, password, from;
  std::string ca_file;
};

struct EmailMessage {
  std::vector<std::string> to;
  std::string subject, text, html;
};

struct WebhookRequest {
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string ca_file;
  bool verify_tls = true;
};

class Sender {
 public:
  virtual ~Sender() = default;
  virtual Status send_email(const SmtpSettings& s, const EmailMessage& m) = 0;
  virtual Status post(const WebhookRequest& r) = 0;  // non-2xx → error naming the status
};

// The libcurl sender (see the header comment). Calls curl_global_init once.
std::unique_ptr<Sender> make_curl_sender();

// The MIME text send_email transmits (exposed for tests): headers From, To,
// Subject (RFC 2047 when not ASCII), Date (from `date_rfc5322`), Message-ID,
// MIME-Version and a multipart/alternative body.
std::string build_mime(const SmtpSettings& s, const EmailMessage& m, const std::string& date_rfc5322,
                       const std::string& boundary);

}  // namespace vigil::notify
