// SPDX-License-Identifier: Apache-2.0
//
// The encryption counter: strictly increasing under one key, across reboots.
//
// Persistent storage holds R, "every counter below R may have been used".
// init() reads R (0 if absent), starts at R and first persists R + block;
// next() persists the following block before it hands out its first counter.
// A reset at any moment therefore skips at most one block, never repeats.
// At 2^32 − 1 the counter is exhausted: next() fails until a new key is
// provisioned (reset_for_new_key()), because CCM must never reuse a nonce.
#pragma once

#include <cstdint>

#include "vigil_fw/hal.h"

namespace vigil_fw {

class FrameCounter {
 public:
  FrameCounter(Storage& storage, std::uint32_t block) : storage_(storage), block_(block ? block : 1) {}
  bool init();
  // The next counter value; false if storage failed or counters are exhausted.
  bool next(std::uint32_t* out);
  // New key: counters start again at 0.
  bool reset_for_new_key();
  std::uint32_t peek() const { return next_; }
  std::uint32_t reserved() const { return reserved_; }

 private:
  bool reserve_from(std::uint32_t from);
  Storage& storage_;
  std::uint32_t block_;
  std::uint32_t next_ = 0;
  std::uint32_t reserved_ = 0;  // persisted: counters < reserved_ are ours to use
  bool ready_ = false;
};

}  // namespace vigil_fw
