// SPDX-License-Identifier: Apache-2.0
// Control for the boundary probes: vigil_ble links vigil_protocol, so a
// public protocol header compiles here.
#include "protocol/decoder.h"
int vigil_probe_allowed() { return 0; }
