// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: ble comes before http in the module order and does not
// link it, so http's headers are not on its include path.
#include "http/api.h"
int vigil_probe_later_module() { return 0; }
