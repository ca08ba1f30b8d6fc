// SPDX-License-Identifier: Apache-2.0
//
// The backup file: one archive holding a database snapshot, the
// configuration and the TLS material a gateway needs to come back.
//
// Layout (all integers little-endian; docs/storage.md has the same table):
//   "VIGILBK\0"                      8 bytes magic
//   u8 format = 1, u8 flags           bit 0: encrypted
//   [encrypted] salt[16], u8 log2_n, u8 r, u8 p, nonce[12],
//               key check[16] = SHA-256("vigil backup key check" || key)[0:16]
//   body: records, each
//     u8 kind (1 = file, 0 = end), u16 name length, name, u64 size, bytes
//   trailer: plain → SHA-256 of the body (32 bytes);
//            encrypted → the AES-256-GCM tag (16 bytes) over the body, with
//            the header as associated data; the key is scrypt(passphrase).
// The first record is "manifest.json". A reader treats every byte as
// untrusted: names are checked, sizes bounded by the file, and nothing is
// used until the trailer verified (truncation, tampering and a wrong
// passphrase all fail there).
//
// Thread-safety: one writer or reader per object.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "vigil/status.h"

namespace vigil::app {

class ArchiveWriter {
 public:
  // Creates `path` (must not exist) for writing; passphrase empty = plain.
  static Result<std::unique_ptr<ArchiveWriter>> create(const std::string& path, const std::string& passphrase);
  ~ArchiveWriter();  // an unfinished archive is deleted
  Status add_bytes(const std::string& name, const std::string& data);
  Status add_file(const std::string& name, const std::string& source_path);
  // Writes the end record and the trailer, fsyncs and closes.
  Status finish();

 private:
  struct Impl;
  explicit ArchiveWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ArchiveEntry {
  std::string name;
  std::string path;  // where the reader put its bytes (inside dest_dir)
  std::uint64_t size = 0;
};

// Reads the archive at `path` into files under `dest_dir` (which must exist;
// entry names become file names there) and verifies the trailer. On any
// error the files written are removed and the status names the place
// ("backup.vgb: truncated in record 3 (vigil.db)", "wrong passphrase or
// tampered archive").
Result<std::vector<ArchiveEntry>> read_archive(const std::string& path, const std::string& passphrase,
                                               const std::string& dest_dir);

// True when the file starts with the magic and says it is encrypted.
Result<bool> archive_is_encrypted(const std::string& path);

}  // namespace vigil::app
