// SPDX-License-Identifier: Apache-2.0
//
// `vigil storage report`, `vigil backup`, `vigil restore` (docs/storage.md).
//
// report and backup only read the database (a read-only connection, no
// lock), so they run beside a live `vigil serve`. restore replaces the
// database: refused (exit 3) while a gateway holds it; it verifies the whole
// backup and the restored database before anything is replaced, and keeps
// the replaced database beside it.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "config/config.h"
#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::app {

// Prints the storage report of the database at db_path as JSON.
int storage_report_command(const std::string& db_path, std::ostream& out, std::ostream& err);

struct BackupOptions {
  std::string out;              // the backup file to create (must not exist)
  std::string passphrase_file;  // empty (and no VIGIL_BACKUP_PASSPHRASE) = not encrypted
};
// The backup itself (also used by the gateway's scheduled backup): the
// database snapshot, the configuration file and the TLS/secret files the
// configuration names, into one archive; written to "<out>.partial" and
// renamed when complete, so a failure (a full disk) leaves nothing behind.
// `passphrase` empty = plain.
Status write_backup(const Config& config, const std::string& out, const std::string& passphrase,
                    std::string* summary = nullptr);
int backup_command(const Config& config, const BackupOptions& o, std::ostream& out, std::ostream& err);

struct RestoreOptions {
  std::string file;
  std::string passphrase_file;
};
int restore_command(const Config& config, const RestoreOptions& o, std::ostream& out, std::ostream& err);

struct ExportOptions {
  std::string out;  // "-" = stdout
  std::optional<long long> site_id, asset_id, position_id;
  std::string metric;
  std::string from, to;     // ms since the epoch or ISO 8601 (UTC unless it has an offset)
  std::string format = "csv";  // csv | jsonl
  bool gzip = false;
};
// Writes the points to o.out (via "<out>.partial", renamed when complete:
// a full disk leaves no partial file). Reads one snapshot through a
// read-only connection, so it runs beside a live gateway.
int export_command(const Config& config, const ExportOptions& o, std::ostream& out, std::ostream& err);


// The passphrase from a file (first line) or $VIGIL_BACKUP_PASSPHRASE.
Result<std::string> read_passphrase(const std::string& file);

}  // namespace vigil::app
