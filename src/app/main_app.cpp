// SPDX-License-Identifier: Apache-2.0
#include "app/main_app.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "analytics/backtest.h"
#include "app/admin_commands.h"
#include "app/gateway.h"
#include "app/history_import.h"
#include "app/sensor_import.h"
#include "app/storage_commands.h"
#include "app/store_options.h"
#include "auth/cli.h"
#include "config/config.h"
#include "firmware/cli.h"
#include "core/log.h"
#include "protocol/decode_command.h"
#include "rules/backtest.h"
#include "vigil/store.h"

namespace vigil::app {
namespace {

// One clear line for the user, non-zero exit: the contract for every
// start-up failure (bad config, port in use, unwritable database).
int fail(const std::string& what, const Status& s) {
  std::cerr << "vigil " << what << ": " << s.message() << std::endl;
  return 1;
}

Result<Config> config_or_defaults(const std::string& path) {
  if (path.empty()) return Config{};
  return load_config(path);
}

int run_demo(const std::string& config_path, int port, const std::string& data_dir, double speed,
             const std::string& address) {
  auto cfg = config_or_defaults(config_path);
  if (!cfg) return fail("demo", cfg.status());
  Config c = std::move(*cfg);
  c.storage.new_database = true;  // a fresh plant every time (below)
  namespace fs = std::filesystem;
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* xdg = std::getenv("XDG_STATE_HOME");
    const char* home = std::getenv("HOME");
    fs::path base = xdg && *xdg ? fs::path(xdg) : (home && *home ? fs::path(home) / ".local/state" : fs::path("/tmp"));
    dir = (base / "vigil-demo").string();
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("demo", Status::IoError("cannot create data directory " + dir + ": " + ec.message()));
  // A demo always starts a fresh plant: old demo data would not match the new clock.
  fs::path db = fs::path(dir) / "demo.db";
  if (auto holder = Store::owner(db.string()))  // never delete a database another process has open
    return fail("demo", Status::FailedPrecondition((holder->label.empty() ? std::string("another process") : holder->label) +
                                                   " (pid " + std::to_string(holder->pid) + ") is using " + db.string() +
                                                   "; stop it or pass another --data-dir"));
  if (fs::exists(db, ec))
    std::cerr << "vigil demo: starting a fresh plant: replacing the previous demo database " << db.string() << "\n";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
  c.storage.path = db.string();
  c.http.address = address;
  c.http.port = port;
  c.http.tls = false;
  if (speed > 0) c.demo.time_factor = speed;
  if (c.gateway.id == GatewayConfig{}.id) c.gateway.id = "vigil-demo";
  if (c.gateway.name == GatewayConfig{}.name) c.gateway.name = "vigil demo plant";
  auto gw = Gateway::create(std::move(c), Mode::kDemo);
  if (!gw) return fail("demo", gw.status());
  std::cerr << "vigil demo: dashboard at http://" << (address == "0.0.0.0" ? "127.0.0.1" : address) << ":" << port
            << "/  (simulated plant, data in " << dir << ", Ctrl-C to stop)" << std::endl;
  return (*gw)->run();
}

}  // namespace

int main(int argc, char** argv) {
  // Log lines go to stderr, never into a command's output (TOKEN=$(vigil
  // token create ...)); commands show warnings and errors only. serve and
  // demo set the configured level.
  (void)log::setup("warn");
  CLI::App app{"vigil — edge machine condition monitoring gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VIGIL_VERSION);
  int rc = 0;

  std::string config_path;
  bool new_database = false;
  auto* serve = app.add_subcommand("serve", "Run the gateway with a configuration file");
  serve->add_option("--config,-c", config_path, "configuration file (JSON with comments)")->required();
  serve->add_flag("--new-database", new_database,
                  "start with an empty database although one existed at storage.path (it is missing: "
                  "without this flag vigil refuses to start)");
  serve->callback([&] {
    auto cfg = load_config(config_path);
    if (!cfg) {
      rc = fail("serve", cfg.status());
      return;
    }
    cfg->storage.new_database = new_database;
    auto gw = Gateway::create(std::move(*cfg), Mode::kServe);
    if (!gw) {
      rc = fail("serve", gw.status());
      return;
    }
    rc = (*gw)->run();
  });

  int demo_port = 8080;
  std::string demo_dir, demo_config, demo_address = "127.0.0.1";
  double demo_speed = 0;
  auto* demo = app.add_subcommand("demo", "Run a simulated plant with the dashboard (no hardware needed; starts a fresh demo database each time)");
  demo->add_option("--port,-p", demo_port, "HTTP port")->default_val(8080)->check(CLI::Range(0, 65535));
  demo->add_option("--address", demo_address, "listen address")->default_val("127.0.0.1");
  demo->add_option("--data-dir", demo_dir, "where the demo database lives (default ~/.local/state/vigil-demo); its demo.db is "
                  "deleted and recreated at every start");
  demo->add_option("--speed", demo_speed, "simulated seconds per wall-clock second (default: demo.time_factor, 600)")
      ->check(CLI::Range(1.0, 100000.0));
  demo->add_option("--config,-c", demo_config, "optional configuration file for demo/analytics settings");
  demo->callback([&] { rc = run_demo(demo_config, demo_port, demo_dir, demo_speed, demo_address); });

  analytics::BacktestOptions bt;
  int learn = -1;
  auto* backtest = app.add_subcommand("backtest", "Run the analytics pipeline offline over recorded data");
  auto* wf = backtest->add_option("--waveforms", bt.waveforms, "waveform dataset manifest.json");
  auto* csv = backtest->add_option("--csv", bt.csv, "CSV of timestamp,value[,value…]");
  wf->excludes(csv);
  backtest->add_option("--out,-o", bt.out, "output CSV")->required();
  backtest->add_option("--learn", learn, "learn the baseline from the first N measurements")->check(CLI::Range(1, 100000000));
  backtest->add_option("--config,-c", bt.config, "configuration file for analytics settings");
  long stop_after = -1;
  backtest->add_option("--state", bt.state,
                       "SQLite file keeping the learned state and progress: a stopped or killed run continues "
                       "from it when started again with the same --state");
  backtest->add_option("--stop-after", stop_after, "with --state: stop once N rows (snapshots) are done")
      ->check(CLI::Range(0L, 1000000000000L));
  rules::BacktestOptions rbt;
  auto* rules_opt = backtest->add_option("--rules", rbt.rules,
                                         "with --csv: run these rules (JSON) instead of the analytics; "
                                         "writes timestamp,rule,event rows of fires");
  backtest->add_option("--timezone", rbt.timezone, "with --rules: the site's time zone for calendar windows")
      ->needs(rules_opt);
  rules_opt->excludes(wf);
  backtest->callback([&] {
    if (!rbt.rules.empty()) {
      if (bt.csv.empty()) {
        std::cerr << "vigil backtest: --rules needs --csv FILE" << std::endl;
        rc = 2;
        return;
      }
      rbt.csv = bt.csv;
      rbt.out = bt.out;
      rc = rules::run_backtest(rbt, std::cout, std::cerr);
      return;
    }
    if (bt.waveforms.empty() && bt.csv.empty()) {
      std::cerr << "vigil backtest: give --waveforms MANIFEST.json or --csv FILE" << std::endl;
      rc = 2;
      return;
    }
    if (learn > 0) bt.learn = learn;
    if (stop_after >= 0) bt.stop_after = stop_after;
    rc = analytics::run_backtest(bt, std::cout, std::cerr);
  });

  protocol::DecodeOptions dec;
  auto* decode = app.add_subcommand("decode", "Decode one BLE advertisement (BTHome v2 / vigil frame) to JSON");
  decode->add_option("hex", dec.hex, "service data bytes as hex")->required();
  decode->add_option("--key", dec.key_hex, "AES-128 key (32 hex digits) for encrypted frames");
  decode->add_option("--address", dec.address, "sender MAC address (needed with --key)");
  decode->callback([&] { rc = protocol::run_decode(dec, std::cout, std::cerr); });

  // Sensor firmware images (notes/dfu-protocol.md, docs/firmware.md): the
  // vendor key and signed .vgfw files, offline; no database involved.
  auto* fw = app.add_subcommand("firmware", "Sensor firmware images: vendor key, signing, inspection");
  fw->require_subcommand(1);
  std::string fw_key, fw_in, fw_out, fw_version, fw_board, fw_image, fw_pub;
  auto* fkeygen = fw->add_subcommand("keygen", "Write a new Ed25519 vendor signing key (0600) and its public key beside it");
  fkeygen->add_option("--out", fw_key, "private key file to write (KEY.pem; the public key goes to KEY.pub.pem)")->required();
  fkeygen->callback([&] { rc = firmware::keygen_command(fw_key, std::cout, std::cerr); });
  auto* fsign = fw->add_subcommand("sign", "Wrap and sign an application image as a .vgfw file");
  fsign->add_option("--key", fw_key, "the vendor's Ed25519 private key (PEM)")->required();
  fsign->add_option("--in", fw_in, "the application image (binary)")->required();
  fsign->add_option("--out", fw_out, "the .vgfw file to write")->required();
  fsign->add_option("--version", fw_version, "firmware version MAJOR.MINOR.PATCH (each 0..255)")->required();
  fsign->add_option("--board", fw_board, "nrf52840 | host | 0xHEX board id")->required();
  fsign->callback([&] { rc = firmware::sign_command(fw_key, fw_in, fw_out, fw_version, fw_board, std::cout, std::cerr); });
  auto* finspect = fw->add_subcommand("inspect", "Print a .vgfw file's header as JSON, checking its signature with --pub");
  finspect->add_option("image", fw_image, "the .vgfw file")->required();
  finspect->add_option("--pub", fw_pub, "the vendor's public key (PEM) to check the signature against");
  finspect->callback([&] { rc = firmware::inspect_command(fw_image, fw_pub, std::cout, std::cerr); });

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([&] { std::cout << "vigil " << VIGIL_VERSION << std::endl; });

  auto* sensor = app.add_subcommand("sensor", "Commission and list sensors");
  sensor->require_subcommand(1);
  SensorAddOptions sa;
  long long position = -1;
  std::string sensor_config;
  auto* sadd = sensor->add_subcommand("add", "Commission a sensor (while serve runs: refused, exit 3; use the dashboard)");
  sadd->add_option("--address", sa.address, "sensor MAC address")->required();
  sadd->add_option("--key", sa.key_hex, "AES-128 bindkey, 32 hex digits");
  sadd->add_option("--position", position, "asset position id to assign it to");
  sadd->add_option("--name", sa.name, "a name for people");
  sadd->add_option("--format", sa.format, "bthome | vigil")->check(CLI::IsMember({"bthome", "vigil"}));
  sadd->add_option("--config,-c", sensor_config, "configuration file")->required();
  sadd->callback([&] {
    auto cfg = load_config(sensor_config);
    if (!cfg) {
      rc = fail("sensor add", cfg.status());
      return;
    }
    if (position >= 0) sa.position_id = position;
    rc = sensor_add(*cfg, sa, std::cout, std::cerr);
  });
  auto* slist = sensor->add_subcommand("list", "List commissioned sensors as JSON");
  slist->add_option("--config,-c", sensor_config, "configuration file")->required();
  slist->callback([&] {
    auto cfg = load_config(sensor_config);
    if (!cfg) {
      rc = fail("sensor list", cfg.status());
      return;
    }
    rc = sensor_list(*cfg, std::cout, std::cerr);
  });
  SensorImportOptions si;
  auto* simport = sensor->add_subcommand(
      "import", "Commission sensors in bulk from a CSV (address,key,position); nothing is written if a row is bad "
                "(while serve runs: refused, exit 3; use POST /api/v1/sensors/import)");
  simport->add_option("file", si.file, "CSV file with the header address,key,position")->required();
  simport->add_option("--config,-c", sensor_config, "configuration file")->required();
  simport->add_flag("--dry-run", si.dry_run, "only say what would change (new, recommissioned, unchanged)");
  simport->add_flag("--json", si.json, "print the result as JSON");
  simport->callback([&] {
    auto cfg = load_config(sensor_config);
    if (!cfg) {
      rc = fail("sensor import", cfg.status());
      return;
    }
    rc = sensor_import(*cfg, si, std::cout, std::cerr);
  });

  // Storage: the report and the backup only read the database (they run
  // beside a live gateway); restore replaces it and refuses while one runs.
  auto* storage = app.add_subcommand("storage", "Inspect the database's storage");
  storage->require_subcommand(1);
  std::string report_db, report_config;
  auto* sreport = storage->add_subcommand(
      "report", "Print bytes per point and per waveform, bytes written, days until the disk is full (JSON)");
  auto* report_db_opt = sreport->add_option("--db", report_db, "database file");
  sreport->add_option("--config,-c", report_config, "configuration file (its storage.path)")->excludes(report_db_opt);
  sreport->callback([&] {
    if (report_db.empty()) {
      if (report_config.empty()) {
        std::cerr << "vigil storage report: give --db PATH or --config FILE" << std::endl;
        rc = 2;
        return;
      }
      auto cfg = load_config(report_config);
      if (!cfg) {
        rc = fail("storage report", cfg.status());
        return;
      }
      report_db = cfg->storage.path;
    }
    rc = storage_report_command(report_db, std::cout, std::cerr);
  });
  BackupOptions bko;
  std::string backup_config;
  auto* backup = app.add_subcommand("backup", "Write one backup file: database snapshot, configuration, TLS material "
                                              "(works while the gateway runs)");
  backup->add_option("--config,-c", backup_config, "configuration file")->required();
  backup->add_option("--out,-o", bko.out, "backup file to create")->required();
  backup->add_option("--passphrase-file", bko.passphrase_file,
                     "encrypt with the passphrase in this file (AES-256-GCM, scrypt); "
                     "or set VIGIL_BACKUP_PASSPHRASE");
  backup->callback([&] {
    auto cfg = load_config(backup_config);
    if (!cfg) {
      rc = fail("backup", cfg.status());
      return;
    }
    rc = backup_command(*cfg, bko, std::cout, std::cerr);
  });
  RestoreOptions rso;
  std::string restore_config;
  auto* restore = app.add_subcommand("restore", "Bring a gateway back from a backup file (refused while serve runs)");
  restore->add_option("file", rso.file, "backup file")->required();
  restore->add_option("--config,-c", restore_config, "configuration file of this box (where the database goes)")
      ->required();
  restore->add_option("--passphrase-file", rso.passphrase_file, "the passphrase of an encrypted backup");
  restore->callback([&] {
    auto cfg = load_config(restore_config);
    if (!cfg) {
      rc = fail("restore", cfg.status());
      return;
    }
    rc = restore_command(*cfg, rso, std::cout, std::cerr);
  });

  ExportOptions exo;
  std::string export_config;
  long long ex_site = -1, ex_asset = -1, ex_position = -1;
  auto* exportc = app.add_subcommand("export", "Export stored points as CSV or JSON Lines (works while the gateway runs)");
  exportc->add_option("--config,-c", export_config, "configuration file")->required();
  exportc->add_option("--out,-o", exo.out, "file to create, or - for stdout")->required();
  exportc->add_option("--site", ex_site, "only this site (id)");
  exportc->add_option("--asset", ex_asset, "only this asset (id)");
  exportc->add_option("--position", ex_position, "only this position (id)");
  exportc->add_option("--metric", exo.metric, "only this metric (velocity_rms_mm_s, temperature_c, …)");
  exportc->add_option("--from", exo.from, "first time: ms since the epoch or ISO 8601 (2026-11-01T00:00:00Z)");
  exportc->add_option("--to", exo.to, "last time, as --from");
  exportc->add_option("--format", exo.format, "csv | jsonl")->check(CLI::IsMember({"csv", "jsonl"}));
  exportc->add_flag("--gzip", exo.gzip, "gzip the output");
  exportc->callback([&] {
    auto cfg = load_config(export_config);
    if (!cfg) {
      rc = fail("export", cfg.status());
      return;
    }
    if (ex_site >= 0) exo.site_id = ex_site;
    if (ex_asset >= 0) exo.asset_id = ex_asset;
    if (ex_position >= 0) exo.position_id = ex_position;
    rc = export_command(*cfg, exo, std::cout, std::cerr);
  });

  ImportOptions imo;
  std::string import_config;
  auto* importc = app.add_subcommand("import", "Import history: a CSV of readings or an Amazon Monitron export "
                                               "(refused while serve runs; bad lines import nothing)");
  importc->add_option("file", imo.file, "the file to import")->required();
  importc->add_option("--config,-c", import_config, "configuration file")->required();
  importc->add_option("--format", imo.format, "csv | monitron")->check(CLI::IsMember({"csv", "monitron"}));
  importc->add_flag("--dry-run", imo.dry_run, "check every line and say what would be imported; write nothing");
  importc->callback([&] {
    auto cfg = load_config(import_config);
    if (!cfg) {
      rc = fail("import", cfg.status());
      return;
    }
    rc = import_command(*cfg, imo, std::cout, std::cerr);
  });

  // Accounts: work on the configured database; while serve owns it they
  // refuse (exit 3) and say where to do it instead.
  std::string acct_config, acct_role = "viewer", user_name, token_name;
  auto* user = app.add_subcommand("user", "Manage dashboard users");
  user->require_subcommand(1);
  auto* uadd = user->add_subcommand("add", "Add a user; the password is read from stdin");
  uadd->add_option("name", user_name, "user name")->required();
  uadd->add_option("--role", acct_role, "admin | technician | viewer")->required();
  uadd->add_option("--config,-c", acct_config, "configuration file")->required();
  uadd->callback([&] {
    auto cfg = load_config(acct_config);
    if (!cfg) {
      rc = fail("user add", cfg.status());
      return;
    }
    if (auto refused = refuse_while_served("user add", cfg->storage.path,
                                           "add users in the dashboard (Settings › Users) or with POST /api/v1/users",
                                           std::cerr)) {
      rc = *refused;
      return;
    }
    rc = auth::user_add_command(store_options(cfg->storage), user_name, acct_role, std::cin, std::cout, std::cerr);
  });
  auto* token = app.add_subcommand("token", "Manage API bearer tokens");
  token->require_subcommand(1);
  auto* tcreate = token->add_subcommand("create", "Create a bearer token and print it (shown once)");
  tcreate->add_option("--role", acct_role, "admin | technician | viewer")->required();
  tcreate->add_option("--name", token_name, "what the token is for");
  tcreate->add_option("--config,-c", acct_config, "configuration file")->required();
  tcreate->callback([&] {
    auto cfg = load_config(acct_config);
    if (!cfg) {
      rc = fail("token create", cfg.status());
      return;
    }
    if (auto refused = refuse_while_served("token create", cfg->storage.path,
                                           "create tokens in the dashboard (Settings › Tokens) or with POST /api/v1/tokens",
                                           std::cerr)) {
      rc = *refused;
      return;
    }
    rc = auth::token_create_command(store_options(cfg->storage), acct_role, token_name, std::cout, std::cerr);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}

}  // namespace vigil::app
