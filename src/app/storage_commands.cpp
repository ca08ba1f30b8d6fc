// SPDX-License-Identifier: Apache-2.0
#include "app/storage_commands.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "app/admin_commands.h"
#include "app/backup_archive.h"
#include "app/time_arg.h"
#include "vigil/clock.h"
#include "vigil/store.h"
#include "vigil/store_tools.h"

namespace vigil::app {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr const char* kDbEntry = "vigil.db";

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  EVP_DigestInit_ex(c, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(c, buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char d[32];
  unsigned int dl = 0;
  EVP_DigestFinal_ex(c, d, &dl);
  EVP_MD_CTX_free(c);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < dl; ++i) {
    s.push_back(hex[d[i] >> 4]);
    s.push_back(hex[d[i] & 15]);
  }
  return s;
}

// The files a gateway needs besides its database, by role, where this
// configuration says they are. Secrets included: encrypt backups that leave
// the box (--passphrase-file).
std::vector<std::pair<std::string, std::string>> gateway_files(const Config& c) {
  std::vector<std::pair<std::string, std::string>> f;
  auto add = [&](const std::string& role, const std::string& path) {
    std::error_code ec;
    if (!path.empty() && fs::is_regular_file(path, ec)) f.emplace_back(role, fs::absolute(path).string());
  };
  add("config", c.source_path);
  const fs::path data_dir = fs::absolute(fs::path(c.storage.path)).parent_path();
  add("http_cert", c.http.cert_file.empty() ? (data_dir / "tls-cert.pem").string() : c.http.cert_file);
  add("http_key", c.http.key_file.empty() ? (data_dir / "tls-key.pem").string() : c.http.key_file);
  add("uplink_ca", c.uplink.ca_file);
  add("uplink_cert", c.uplink.cert_file);
  add("uplink_key", c.uplink.key_file);
  add("smtp_password", c.notifications.smtp.password_file);
  add("smtp_ca", c.notifications.smtp.ca_file);
  add("plant_command_key", c.plant.command_key_file);
  return f;
}

// Where a restored file of `role` goes on this box: this configuration's
// path for it, else where it was on the box backed up.
std::string target_for(const Config& c, const std::string& role, const std::string& original) {
  const fs::path data_dir = fs::absolute(fs::path(c.storage.path)).parent_path();
  if (role == "config") return c.source_path.empty() ? original : c.source_path;
  if (role == "http_cert") return c.http.cert_file.empty() ? (data_dir / "tls-cert.pem").string() : c.http.cert_file;
  if (role == "http_key") return c.http.key_file.empty() ? (data_dir / "tls-key.pem").string() : c.http.key_file;
  if (role == "uplink_ca" && !c.uplink.ca_file.empty()) return c.uplink.ca_file;
  if (role == "uplink_cert" && !c.uplink.cert_file.empty()) return c.uplink.cert_file;
  if (role == "uplink_key" && !c.uplink.key_file.empty()) return c.uplink.key_file;
  if (role == "smtp_password" && !c.notifications.smtp.password_file.empty()) return c.notifications.smtp.password_file;
  if (role == "smtp_ca" && !c.notifications.smtp.ca_file.empty()) return c.notifications.smtp.ca_file;
  if (role == "plant_command_key" && !c.plant.command_key_file.empty()) return c.plant.command_key_file;
  return original;
}

// "1.2.10" > "1.2.9": numeric components, missing ones are 0.
int compare_versions(const std::string& a, const std::string& b) {
  std::istringstream ia(a), ib(b);
  for (int i = 0; i < 4; ++i) {
    long x = 0, y = 0;
    std::string pa, pb;
    if (std::getline(ia, pa, '.')) x = std::strtol(pa.c_str(), nullptr, 10);
    if (std::getline(ib, pb, '.')) y = std::strtol(pb.c_str(), nullptr, 10);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

json report_json(const StorageReport& r) {
  auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
  return {{"series", r.series},
          {"points", r.points},
          {"chunk_points", r.chunk_points},
          {"log_points", r.log_points},
          {"chunks", r.chunks},
          {"chunk_bytes", r.chunk_bytes},
          {"rollup_bytes", r.rollup_bytes},
          {"log_bytes", r.log_bytes},
          {"bytes_per_point", r.bytes_per_point},
          {"waveforms", r.waveforms},
          {"waveform_bytes", r.waveform_bytes},
          {"waveform_raw_bytes", r.waveform_raw_bytes},
          {"bytes_per_waveform", r.bytes_per_waveform},
          {"measurements", r.measurements},
          {"old_format_rows", r.old_format_rows},
          {"db_file_bytes", r.db_file_bytes},
          {"wal_file_bytes", r.wal_file_bytes},
          {"page_size", r.page_size},
          {"free_pages", r.free_pages},
          {"oldest_ts", opt(r.oldest_ts)},
          {"newest_ts", opt(r.newest_ts)},
          {"disk_total_bytes", r.disk_total_bytes},
          {"disk_free_bytes", r.disk_free_bytes},
          {"growth_bytes_per_day", r.growth_bytes_per_day},
          {"days_until_full", opt(r.days_until_full)},
          {"exact_sizes", r.exact_sizes}};
}

// Bytes a running gateway has written to disk since it started, per day
// (/proc/PID/io; readable by the same user or root): flash wear.
void add_write_rate(json& j, const std::string& db_path) {
  auto holder = Store::owner(db_path);
  if (!holder || holder->pid <= 0) return;
  std::ifstream io("/proc/" + std::to_string(holder->pid) + "/io");
  std::string key;
  long long written = -1;
  while (io >> key) {
    long long v;
    io >> v;
    if (key == "write_bytes:") written = v;
  }
  std::error_code ec;
  auto started = fs::last_write_time("/proc/" + std::to_string(holder->pid) + "/cmdline", ec);
  if (written < 0 || ec) return;
  const double secs = std::chrono::duration<double>(fs::file_time_type::clock::now() - started).count();
  j["gateway_pid"] = holder->pid;
  j["gateway_write_bytes"] = written;
  if (secs >= 60) j["gateway_write_bytes_per_day"] = static_cast<double>(written) * 86400.0 / secs;
}

}  // namespace

int storage_report_command(const std::string& db_path, std::ostream& out, std::ostream& err) {
  auto r = storage_report(db_path);
  if (!r) {
    err << "vigil storage report: " << r.status().message() << "\n";
    return 1;
  }
  json j = report_json(*r);
  j["db"] = db_path;
  add_write_rate(j, db_path);
  out << j.dump(2) << "\n";
  return 0;
}

Result<std::string> read_passphrase(const std::string& file) {
  if (file.empty()) {
    const char* env = std::getenv("VIGIL_BACKUP_PASSPHRASE");
    return std::string(env ? env : "");
  }
  std::ifstream in(file);
  if (!in) return Status::NotFound("cannot read the passphrase file " + file);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return Status::InvalidArgument("the passphrase file " + file + " is empty");
  return line;
}

Status write_backup(const Config& config, const std::string& out, const std::string& passphrase, std::string* summary) {
  std::error_code ec;
  if (fs::exists(out, ec)) return Status::AlreadyExists(out + " exists; choose another --out");
  const std::string partial = out + ".partial";
  const std::string snapshot = out + ".db-snapshot";
  fs::remove(partial, ec);
  fs::remove(snapshot, ec);
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::error_code e;
      fs::remove(a, e);
      fs::remove(b, e);
    }
  } cleanup{partial, snapshot};

  VIGIL_RETURN_IF_ERROR(backup_database(config.storage.path, snapshot));
  VIGIL_RETURN_IF_ERROR(check_database(snapshot).Annotate("the snapshot"));
  auto versions = schema_versions(snapshot);
  if (!versions) return versions.status();
  json schema = json::object();
  for (auto& [m, v] : *versions) schema[m] = v;
  json files = json::array();
  auto extra = gateway_files(config);
  for (std::size_t i = 0; i < extra.size(); ++i)
    files.push_back({{"entry", "file-" + std::to_string(i)}, {"role", extra[i].first}, {"path", extra[i].second},
                     {"sha256", file_sha256(extra[i].second)}});
  json manifest = {{"format", 1},
                   {"vigil_version", VIGIL_VERSION},
                   {"created_at", SystemClock::instance().now_ms()},
                   {"gateway_id", config.gateway.id},
                   {"database", {{"entry", kDbEntry}, {"source", config.storage.path}, {"schema", schema},
                                 {"sha256", file_sha256(snapshot)}}},
                   {"files", files},
                   {"encrypted", !passphrase.empty()}};
  auto w = ArchiveWriter::create(partial, passphrase);
  if (!w) return w.status();
  VIGIL_RETURN_IF_ERROR((*w)->add_bytes("manifest.json", manifest.dump(2)));
  VIGIL_RETURN_IF_ERROR((*w)->add_file(kDbEntry, snapshot));
  for (std::size_t i = 0; i < extra.size(); ++i)
    VIGIL_RETURN_IF_ERROR((*w)->add_file("file-" + std::to_string(i), extra[i].second));
  VIGIL_RETURN_IF_ERROR((*w)->finish());
  fs::rename(partial, out, ec);
  if (ec) return Status::IoError("cannot rename " + partial + " to " + out + ": " + ec.message());
  if (summary) {
    *summary = "backup written: " + out + " (" + std::to_string(fs::file_size(out, ec)) + " bytes; database " +
               std::to_string(fs::file_size(snapshot, ec)) + " bytes, " + std::to_string(extra.size()) +
               " configuration/TLS files" + (passphrase.empty() ? ", not encrypted)" : ", encrypted)");
  }
  return Status::Ok();
}

int backup_command(const Config& config, const BackupOptions& o, std::ostream& out, std::ostream& err) {
  auto pass = read_passphrase(o.passphrase_file);
  if (!pass) {
    err << "vigil backup: " << pass.status().message() << "\n";
    return 2;
  }
  std::string summary;
  if (Status s = write_backup(config, o.out, *pass, &summary); !s.ok()) {
    err << "vigil backup: " << s.message() << "\n";
    return 1;
  }
  out << summary << "\n";
  return 0;
}

int restore_command(const Config& config, const RestoreOptions& o, std::ostream& out, std::ostream& err) {
  const std::string& db = config.storage.path;
  if (auto rc = refuse_while_served("restore", db, "a restore replaces the database", err)) return *rc;
  auto pass = read_passphrase(o.passphrase_file);
  if (!pass) {
    err << "vigil restore: " << pass.status().message() << "\n";
    return 2;
  }
  const fs::path dir = fs::absolute(fs::path(db)).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Staged beside the database: the final rename stays on one file system.
  const fs::path stage = dir / (".vigil-restore-" + std::to_string(::getpid()));
  fs::remove_all(stage, ec);
  fs::create_directories(stage, ec);
  if (ec) {
    err << "vigil restore: cannot create " << stage.string() << ": " << ec.message() << "\n";
    return 1;
  }
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(p, e);
    }
  } cleanup{stage};
  auto fail = [&](const Status& s) {
    err << "vigil restore: " << s.message() << "; nothing was changed\n";
    return 1;
  };

  auto entries = read_archive(o.file, *pass, stage.string());
  if (!entries) return fail(entries.status());
  json manifest;
  try {
    std::ifstream in((*entries)[0].path);
    manifest = json::parse(in);
  } catch (const std::exception& e) {
    return fail(Status::Corruption(o.file + ": unreadable manifest: " + e.what()));
  }
  const std::string their_version = manifest.value("vigil_version", std::string("?"));
  if (compare_versions(their_version, VIGIL_VERSION) > 0)
    return fail(Status::FailedPrecondition(o.file + " was made by vigil " + their_version + ", newer than this vigil (" +
                                           VIGIL_VERSION + "); upgrade vigil first"));
  const std::string staged_db = (stage / kDbEntry).string();
  if (!fs::exists(staged_db, ec)) return fail(Status::Corruption(o.file + ": no database in the backup"));
  if (Status s = check_database(staged_db); !s.ok()) return fail(s);
  auto versions = schema_versions(staged_db);
  if (!versions) return fail(versions.status());
  for (auto& [m, v] : *versions)
    if (m == "core" && v > known_core_schema_version())
      return fail(Status::FailedPrecondition(o.file + ": its database schema (core v" + std::to_string(v) +
                                             ") is newer than this vigil reads; upgrade vigil first"));

  // Run as root for a service that runs as its own user: the restored file
  // belongs to whoever owns the data directory, as the replaced one did.
  struct stat dst {};
  if (::geteuid() == 0 && ::stat(dir.c_str(), &dst) == 0 && ::chown(staged_db.c_str(), dst.st_uid, dst.st_gid) != 0)
    err << "vigil restore: warning: cannot give " << db << " to the data directory's owner\n";
  auto kept = replace_database(db, staged_db, "vigil restore");
  if (!kept) return fail(kept.status());
  out << "database restored to " << db << " (from vigil " << their_version << ", gateway "
      << manifest.value("gateway_id", std::string("?")) << ")\n";
  if (!kept->empty()) out << "the previous database is kept as " << *kept << "\n";

  // Configuration and TLS files: put where missing; never overwrite a
  // different file of this box (written beside it as .restored instead).
  for (const auto& f : manifest.value("files", json::array())) {
    const std::string entry = f.value("entry", std::string());
    const std::string role = f.value("role", std::string());
    const fs::path src = stage / entry;
    if (entry.empty() || entry.find('/') != std::string::npos || !fs::exists(src, ec)) continue;
    const std::string target = target_for(config, role, f.value("path", std::string()));
    if (target.empty()) continue;
    const bool secret = role.find("key") != std::string::npos || role == "smtp_password";
    std::string dest = target;
    if (fs::exists(target, ec)) {
      if (file_sha256(target) == file_sha256(src.string())) {
        out << role << ": " << target << " unchanged\n";
        continue;
      }
      dest = target + ".restored";
    }
    fs::create_directories(fs::path(dest).parent_path(), ec);
    fs::remove(dest, ec);
    fs::copy_file(src, dest, ec);
    if (ec) {
      err << "vigil restore: " << role << ": cannot write " << dest << ": " << ec.message() << "\n";
      continue;
    }
    fs::permissions(dest, secret ? fs::perms::owner_read | fs::perms::owner_write
                                 : fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                       fs::perms::others_read,
                    ec);
    if (dest == target)
      out << role << ": restored " << target << "\n";
    else
      out << role << ": this box has a different " << target << "; the backup's copy is " << dest << "\n";
  }
  return 0;
}

int export_command(const Config& config, const ExportOptions& o, std::ostream& out, std::ostream& err) {
  ExportFilter f;
  if (o.site_id) f.site_id = *o.site_id;
  if (o.asset_id) f.asset_id = *o.asset_id;
  if (o.position_id) f.position_id = *o.position_id;
  f.metric = o.metric;
  if (!o.from.empty()) {
    auto t = parse_time_arg(o.from);
    if (!t) {
      err << "vigil export: --from '" << o.from << "' is not a time (ms, or ISO 8601 like 2026-11-01T00:00:00Z)\n";
      return 2;
    }
    f.from = *t;
  }
  if (!o.to.empty()) {
    auto t = parse_time_arg(o.to);
    if (!t) {
      err << "vigil export: --to '" << o.to << "' is not a time (ms, or ISO 8601 like 2026-11-01T00:00:00Z)\n";
      return 2;
    }
    f.to = *t;
  }
  if (f.to < f.from) {
    err << "vigil export: --to is before --from\n";
    return 2;
  }
  const ExportFormat fmt = o.format == "jsonl" ? ExportFormat::kJsonLines : ExportFormat::kCsv;
  const bool to_stdout = o.out == "-";
  const std::string partial = o.out + ".partial";
  std::error_code ec;
  if (!to_stdout && fs::exists(o.out, ec)) {
    err << "vigil export: " << o.out << " exists; choose another --out\n";
    return 1;
  }
  gzFile gz = nullptr;
  FILE* plain = nullptr;
  if (to_stdout) {
    plain = stdout;
    if (o.gzip) gz = gzdopen(::dup(::fileno(stdout)), "wb6");
  } else if (o.gzip) {
    gz = gzopen(partial.c_str(), "wb6");
  } else {
    plain = std::fopen(partial.c_str(), "wb");
  }
  if ((o.gzip && !gz) || (!o.gzip && !plain)) {
    err << "vigil export: cannot create " << (to_stdout ? std::string("stdout") : partial) << "\n";
    return 1;
  }
  std::string buf = export_header(fmt);
  std::int64_t rows = 0;
  auto write_out = [&]() -> Status {
    if (buf.empty()) return Status::Ok();
    const bool ok = o.gzip ? gzwrite(gz, buf.data(), static_cast<unsigned>(buf.size())) == static_cast<int>(buf.size())
                           : std::fwrite(buf.data(), 1, buf.size(), plain) == buf.size();
    buf.clear();
    return ok ? Status::Ok() : Status::IoError("cannot write " + (to_stdout ? std::string("stdout") : partial) +
                                               " (disk full?)");
  };
  Status st = export_points(config.storage.path, f, [&](const ExportRow& r) -> Status {
    append_export_row(buf, r, fmt);
    ++rows;
    return buf.size() >= (1 << 16) ? write_out() : Status::Ok();
  });
  if (st.ok()) st = write_out();
  bool closed_ok = true;
  if (gz) closed_ok = gzclose(gz) == Z_OK;
  if (plain && !to_stdout) closed_ok = (std::fflush(plain) == 0 && ::fsync(::fileno(plain)) == 0) & (std::fclose(plain) == 0);
  if (st.ok() && !closed_ok) st = Status::IoError("cannot finish " + partial + " (disk full?)");
  if (!st.ok()) {
    if (!to_stdout) fs::remove(partial, ec);
    err << "vigil export: " << st.message() << "\n";
    return 1;
  }
  if (!to_stdout) {
    fs::rename(partial, o.out, ec);
    if (ec) {
      fs::remove(partial, ec);
      err << "vigil export: cannot rename " << partial << ": " << ec.message() << "\n";
      return 1;
    }
    out << "exported " << rows << " points to " << o.out << "\n";
  }
  return 0;
}

}  // namespace vigil::app
