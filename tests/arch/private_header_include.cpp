// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: http links the store, but store_impl.h is the store's
// private header.
#include "store/store_impl.h"
int vigil_probe_private_header() { return 0; }
