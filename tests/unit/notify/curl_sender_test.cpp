// SPDX-License-Identifier: Apache-2.0
// The real sender against real peers (tests/unit/notify/peer.py): an aiosmtpd
// server that requires STARTTLS and AUTH, and a small HTTP receiver. Skipped
// (with a warning) where python3-aiosmtpd or the openssl tool is missing.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "notify/sender.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using namespace vigil::notify;
using nlohmann::json;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool have_tools() {
  return std::system("/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1") == 0 &&
         std::system("openssl version >/dev/null 2>&1") == 0;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<json> lines(const std::filesystem::path& p) {
  std::vector<json> out;
  std::ifstream f(p);
  std::string l;
  while (std::getline(f, l))
    if (!l.empty()) out.push_back(json::parse(l));
  return out;
}

// The peers, started for one test and stopped (by their pid) at its end.
struct Peers {
  TempDir dir;
  pid_t pid = -1;
  int stdin_fd = -1;
  int smtp_port = 0, http_port = 0;

  bool start() {
    const std::string d = dir.path.string();
    const std::string gen = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                            "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" + d + "/key.pem' -out '" +
                            d + "/cert.pem' >/dev/null 2>&1";
    if (std::system(gen.c_str()) != 0) return false;
    int fds[2];
    if (pipe(fds) != 0) return false;
    const std::string script = std::string(VIGIL_SOURCE_DIR) + "/tests/unit/notify/peer.py";
    const std::string log = d + "/peer.log";  // the peers' own complaints (a refused handshake) go here
    pid = fork();
    if (pid == 0) {
      int lf = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (lf >= 0) {
        dup2(lf, 1);
        dup2(lf, 2);
        close(lf);
      }
      dup2(fds[0], 0);
      close(fds[0]);
      close(fds[1]);
      execl(kPython, kPython, script.c_str(), d.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[0]);
    stdin_fd = fds[1];
    // Wait (not a timed assertion: a slow machine just waits longer) for the ports.
    for (int i = 0; i < 600; ++i) {
      if (std::filesystem::exists(dir.path / "ports")) {
        std::istringstream s(slurp(dir.path / "ports"));
        s >> smtp_port >> http_port;
        return smtp_port > 0 && http_port > 0;
      }
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  ~Peers() {
    if (stdin_fd >= 0) close(stdin_fd);  // the script exits when its stdin closes
    if (pid > 0) {
      for (int i = 0; i < 100; ++i) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      kill(pid, SIGKILL);
      int st = 0;
      waitpid(pid, &st, 0);
    }
  }
  SmtpSettings smtp(const std::string& starttls) const {
    SmtpSettings s;
    s.host = "127.0.0.1";
    s.port = smtp_port;
    s.starttls = starttls;
    s.username = "vigil";
    s.password = "pw";
    s.from = "vigil@plant.example";
    s.ca_file = (dir.path / "cert.pem").string();
    return s;
  }
};

}  // namespace

TEST_CASE("CurlSender delivers mail over STARTTLS with AUTH and posts webhooks to a real receiver",
          "[notify][curl]") {
  if (!have_tools()) {
    WARN("python3-aiosmtpd or openssl missing: CurlSender test skipped");
    return;
  }
  Peers p;
  REQUIRE(p.start());
  auto sender = make_curl_sender();

  EmailMessage m;
  m.to = {"ops@plant.example", "boss@plant.example"};
  m.subject = "[vigil WARNING] Pump 1 \xE2\x80\x94 bearing";
  m.text = "Asset: Pump 1\nAcknowledge: https://gw/ack/abc\n";
  m.html = "<p>Asset: Pump 1</p>";
  Status s = sender->send_email(p.smtp("required"), m);
  REQUIRE(s.ToString() == "ok");
  auto mails = lines(p.dir.path / "mail.jsonl");
  REQUIRE(mails.size() == 1);
  CHECK(mails[0]["tls"] == true);
  CHECK(mails[0]["from"] == "vigil@plant.example");
  CHECK(mails[0]["to"] == json({"ops@plant.example", "boss@plant.example"}));
  const std::string data = mails[0]["data"];
  CHECK(data.find("Subject: =?UTF-8?B?") != std::string::npos);
  CHECK(data.find("multipart/alternative") != std::string::npos);

  // "on" upgrades too when the server offers STARTTLS.
  REQUIRE(sender->send_email(p.smtp("on"), m).ok());
  mails = lines(p.dir.path / "mail.jsonl");
  REQUIRE(mails.size() == 2);
  CHECK(mails[1]["tls"] == true);

  // "off" speaks plain SMTP, which this server refuses; an untrusted
  // certificate is refused by the client.
  CHECK(!sender->send_email(p.smtp("off"), m).ok());
  auto untrusted = p.smtp("required");
  untrusted.ca_file = (p.dir.path / "key.pem").string();  // not a CA bundle
  CHECK(!sender->send_email(untrusted, m).ok());
  CHECK(lines(p.dir.path / "mail.jsonl").size() == 2);

  WebhookRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(p.http_port) + "/ok";
  r.headers = {{"X-Team", "maintenance"}};
  r.body = R"({"alert": {"id": 7}})";
  REQUIRE(sender->post(r).ok());
  r.url = "http://127.0.0.1:" + std::to_string(p.http_port) + "/fail";
  Status f = sender->post(r);
  CHECK(f.code() == Status::Code::kUnavailable);
  CHECK(f.message() == "webhook: HTTP 503");
  auto reqs = lines(p.dir.path / "http.jsonl");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0]["body"] == r.body);
  CHECK(reqs[0]["headers"]["X-Team"] == "maintenance");
  CHECK(reqs[0]["headers"]["Content-Type"] == "application/json");

  // Nobody listening: a prompt transport error, not a hang.
  r.url = "http://127.0.0.1:1/ok";
  CHECK(sender->post(r).code() == Status::Code::kUnavailable);
}
