// SPDX-License-Identifier: Apache-2.0
//
// `vigil firmware keygen|sign|inspect` (the offline tools of the vendor
// signing key and .vgfw images, notes/dfu-protocol.md). Each writes its
// result to `out`, one clear line naming the cause to `err` on failure, and
// returns the exit code: 0 ok, 1 a failure (file, key, image), 2 a bad
// argument (board, version). inspect returns 1 when --pub is given and the
// signature is invalid (the JSON is printed all the same).
// Thread-safety: none needed (command-line use).
#pragma once

#include <ostream>
#include <string>

namespace vigil::firmware {

// Writes KEY (0600) and KEY's public key beside it (".pem" → ".pub.pem",
// else "<KEY>.pub.pem"); prints the public key's path. Refuses to overwrite.
int keygen_command(const std::string& key_path, std::ostream& out, std::ostream& err);
int sign_command(const std::string& key_path, const std::string& in_path, const std::string& out_path,
                 const std::string& version, const std::string& board, std::ostream& out, std::ostream& err);
int inspect_command(const std::string& image_path, const std::string& pub_path, std::ostream& out,
                    std::ostream& err);

// The public key path keygen writes for `key_path`.
std::string public_key_path(const std::string& key_path);

}  // namespace vigil::firmware
