// SPDX-License-Identifier: Apache-2.0
#include "firmware/firmware_service.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <openssl/evp.h>

namespace vigil::firmware {
namespace {

Result<std::vector<StoredImage>> read_images(sql::Db& db, std::optional<Id> id) {
  auto q = db.prepare(id ? "SELECT id, board, version, sha256, size, uploaded_by, uploaded_at FROM firmware_images WHERE id = ?"
                         : "SELECT id, board, version, sha256, size, uploaded_by, uploaded_at FROM firmware_images ORDER BY id");
  if (!q) return q.status();
  if (id) (*q)->bind(1, *id);
  std::vector<StoredImage> out;
  while (true) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    auto& s = **q;
    out.push_back({s.i64(0), static_cast<std::uint32_t>(s.i64(1)), static_cast<std::uint32_t>(s.i64(2)), s.text(3),
                   s.i64(4), s.text(5), s.i64(6)});
  }
  return out;
}

}  // namespace

Status check_threshold(const std::string& t) {
  const bool pct = !t.empty() && t.back() == '%';
  std::string num = pct ? t.substr(0, t.size() - 1) : t;
  char* end = nullptr;
  double v = num.empty() ? NAN : std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || !std::isfinite(v))
    return Status::InvalidArgument("failure_threshold: expected a count (3) or a percentage (\"10%\")");
  if (pct ? (v <= 0 || v > 100) : (v < 1 || v != std::floor(v) || v > 1e6))
    return Status::InvalidArgument(pct ? "failure_threshold: a percentage must be in (0, 100]"
                                       : "failure_threshold: a count must be a whole number ≥ 1");
  return Status::Ok();
}

bool threshold_crossed(const std::string& t, int failed, int total) {
  if (!check_threshold(t).ok() || failed <= 0) return false;
  if (t.back() == '%') return total > 0 && 100.0 * failed / total >= std::strtod(t.c_str(), nullptr);
  return failed >= std::strtol(t.c_str(), nullptr, 10);
}

FirmwareService::FirmwareService(Store& store, const Clock& clock, DfuTransport& transport, FirmwareOptions options)
    : store_(store), clock_(clock), transport_(transport), options_(std::move(options)) {}

Status FirmwareService::migrate(Store& store) {
  return store.migrate("firmware", {R"sql(
CREATE TABLE firmware_images(
  id INTEGER PRIMARY KEY,
  board INTEGER NOT NULL,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  blob BLOB NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL);
CREATE TABLE firmware_rollouts(
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES firmware_images(id),
  tag TEXT,
  percent REAL,
  wave_size INTEGER NOT NULL,
  failure_threshold TEXT NOT NULL,
  force INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE firmware_rollout_targets(
  rollout_id INTEGER NOT NULL REFERENCES firmware_rollouts(id),
  sensor_id INTEGER NOT NULL,
  address TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  bytes_sent INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER,
  finished_at INTEGER,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(rollout_id, sensor_id));
)sql"});
}

Result<std::unique_ptr<FirmwareService>> FirmwareService::open(Store& store, const Clock& clock,
                                                               DfuTransport& transport, FirmwareOptions options) {
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("firmware"));
  std::unique_ptr<FirmwareService> svc(new FirmwareService(store, clock, transport, std::move(options)));
  VIGIL_RETURN_IF_ERROR(svc->requeue_in_flight());
  return svc;
}

Status FirmwareService::requeue_in_flight() {
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "UPDATE firmware_rollout_targets SET state = 'queued', reason = 'requeued after a restart', updated_at = ? "
        "WHERE state IN ('transferring', 'verifying', 'test_boot')");
    if (!q) return q.status();
    return (*q)->bind(1, clock_.now_ms()).run();
  });
}

Result<StoredImage> FirmwareService::upload_image(std::span<const std::uint8_t> bytes, const std::string& actor) {
  auto info = parse_image(bytes);
  if (!info) return info.status();
  if (!known_board(info->board_id))
    return Status::InvalidArgument("other board: " + board_name(info->board_id) + " is not a board this gateway updates (nrf52840, host)");
  if (options_.signing_public_key_pem.empty())
    return Status::FailedPrecondition("no vendor signing key configured (firmware.signing_public_key_file)");
  VIGIL_RETURN_IF_ERROR(verify_signature(bytes, options_.signing_public_key_pem));
  // The file's SHA-256 identifies an upload (the header's covers only the
  // payload, which two boards or versions may share).
  std::array<std::uint8_t, 32> digest{};
  unsigned int dlen = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &dlen, EVP_sha256(), nullptr) != 1)
    return Status::Internal("SHA-256 of the image failed");
  ImageInfo file_hash;
  file_hash.sha256 = digest;
  StoredImage img{0, info->board_id, info->version, file_hash.sha256_hex(), static_cast<std::int64_t>(bytes.size()),
                  actor, clock_.now_ms()};
  auto st = store_.write_txn([&](sql::Db& db) -> Status {
    auto dup = db.prepare("SELECT id FROM firmware_images WHERE sha256 = ?");
    if (!dup) return dup.status();
    (*dup)->bind(1, img.sha256);
    auto row = (*dup)->step();
    if (!row) return row.status();
    if (*row) return Status::AlreadyExists("this image (sha256 " + img.sha256 + ") is already stored as image " +
                                           std::to_string((*dup)->i64(0)));
    auto q = db.prepare(
        "INSERT INTO firmware_images(board, version, sha256, size, blob, uploaded_by, uploaded_at) VALUES (?,?,?,?,?,?,?)");
    if (!q) return q.status();
    (*q)->bind(1, static_cast<std::int64_t>(img.board_id)).bind(2, static_cast<std::int64_t>(img.version)).bind(3, img.sha256);
    (*q)->bind(4, img.size).bind_blob(5, bytes.data(), bytes.size()).bind(6, actor).bind(7, img.uploaded_at);
    VIGIL_RETURN_IF_ERROR((*q)->run());
    img.id = db.last_insert_id();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return img;
}

Result<std::vector<StoredImage>> FirmwareService::images() {
  std::vector<StoredImage> out;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto r = read_images(db, std::nullopt);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<StoredImage> FirmwareService::image(Id id) {
  std::vector<StoredImage> out;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto r = read_images(db, id);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.empty()) return Status::NotFound("no firmware image " + std::to_string(id));
  return out.front();
}

Status FirmwareService::delete_image(Id id) {
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto used = db.prepare("SELECT id FROM firmware_rollouts WHERE image_id = ? LIMIT 1");
    if (!used) return used.status();
    (*used)->bind(1, id);
    auto row = (*used)->step();
    if (!row) return row.status();
    if (*row) return Status::FailedPrecondition("image " + std::to_string(id) + " is used by rollout " +
                                                std::to_string((*used)->i64(0)));
    auto q = db.prepare("DELETE FROM firmware_images WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, id).run());
    if (db.changes() == 0) return Status::NotFound("no firmware image " + std::to_string(id));
    return Status::Ok();
  });
}

}  // namespace vigil::firmware
