// SPDX-License-Identifier: Apache-2.0
// Placeholder until the decoder lands (issue 3).
#include "protocol/decode_command.h"

#include <ostream>

namespace vigil::protocol {

int run_decode(const DecodeOptions&, std::ostream&, std::ostream& err) {
  err << "vigil decode: not built yet\n";
  return 2;
}

}  // namespace vigil::protocol
