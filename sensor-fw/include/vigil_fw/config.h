// SPDX-License-Identifier: Apache-2.0
//
// vigil sensor firmware: every compile-time option, with its default and the
// trade-off. Override with -D on the compiler command line (CMake:
// target_compile_definitions) or a port's config header included first.
// Define VIGIL_FW_STRICT_CONFIG to make a missing option a build error (a
// product build then states every choice explicitly).
#pragma once

#ifdef VIGIL_FW_STRICT_CONFIG
#ifndef VIGIL_FW_MEASUREMENT_INTERVAL_S
#error "VIGIL_FW_STRICT_CONFIG: define VIGIL_FW_MEASUREMENT_INTERVAL_S"
#endif
#ifndef VIGIL_FW_SAMPLE_RATE_HZ
#error "VIGIL_FW_STRICT_CONFIG: define VIGIL_FW_SAMPLE_RATE_HZ"
#endif
#ifndef VIGIL_FW_BURST_SAMPLES
#error "VIGIL_FW_STRICT_CONFIG: define VIGIL_FW_BURST_SAMPLES"
#endif
#endif

// Time between measurement cycles, seconds. Default 600 (10 min); allowed
// 10 s .. 86400 (24 h); a runtime value (the configuration service) is
// clamped to this range. Below a minute is for commissioning and diagnosis:
// shorter intervals cost battery roughly linearly (docs/energy-model.md).
#ifndef VIGIL_FW_MEASUREMENT_INTERVAL_S
#define VIGIL_FW_MEASUREMENT_INTERVAL_S 600
#endif
#define VIGIL_FW_INTERVAL_MIN_S 10
#define VIGIL_FW_INTERVAL_MAX_S 86400

// Accelerometer output data rate for a burst, Hz. 6400 covers ISO 20816's
// 10–1000 Hz band with margin and a broadband RMS to ~2.5 kHz; up to 25600
// for bearing work (shorter burst in time for the same RAM).
#ifndef VIGIL_FW_SAMPLE_RATE_HZ
#define VIGIL_FW_SAMPLE_RATE_HZ 6400
#endif
#define VIGIL_FW_SAMPLE_RATE_MAX_HZ 25600

// Samples per axis in a burst. 4096 at 6400 Hz = 0.64 s (6 periods of
// 10 Hz). RAM: 3 axes × 2 bytes × N = 24 KB at 4096.
#ifndef VIGIL_FW_BURST_SAMPLES
#define VIGIL_FW_BURST_SAMPLES 4096
#endif
#define VIGIL_FW_AXES 3

// Samples discarded from the velocity RMS while the band-pass and
// integration filters settle: the first 1/N of the burst (default 1/8 = 80 ms).
#ifndef VIGIL_FW_VELOCITY_SETTLE_DIV
#define VIGIL_FW_VELOCITY_SETTLE_DIV 8
#endif

// ISO 20816 velocity band edges, Hz (2 Hz lower edge for machines < 600 rpm).
#ifndef VIGIL_FW_VELOCITY_HP_HZ
#define VIGIL_FW_VELOCITY_HP_HZ 10.0f
#endif
#ifndef VIGIL_FW_VELOCITY_LP_HZ
#define VIGIL_FW_VELOCITY_LP_HZ 1000.0f
#endif

// Encrypt advertisements (AES-128-CCM, BTHome v2 rules). 1 by default; 0 only
// for bench work: the gateway rejects plain frames from a sensor with a key.
#ifndef VIGIL_FW_ENCRYPT
#define VIGIL_FW_ENCRYPT 1
#endif

// Counters reserved in persistent storage per write. Larger = fewer flash
// writes (wear), more counters skipped after a reset. 1024 frames = ~34 h
// at 5 frames per 10-min cycle; one flash write per block.
#ifndef VIGIL_FW_COUNTER_BLOCK
#define VIGIL_FW_COUNTER_BLOCK 1024
#endif

// Advertising: each frame is advertised for VIGIL_FW_FRAME_ADV_MS at an
// interval of VIGIL_FW_ADV_INTERVAL_MS (events per frame = their ratio).
// Frames go out one after another, never rotated, so counters only rise.
#ifndef VIGIL_FW_ADV_INTERVAL_MS
#define VIGIL_FW_ADV_INTERVAL_MS 100
#endif
#ifndef VIGIL_FW_FRAME_ADV_MS
#define VIGIL_FW_FRAME_ADV_MS 500
#endif

// Manufacturer-data company id of vigil frames. 0xFFFF is the Bluetooth SIG
// value for tests/internal use: a shipping product sets its own assigned id
// (the gateway decoder must be told the same id).
#ifndef VIGIL_FW_COMPANY_ID
#define VIGIL_FW_COMPANY_ID 0xFFFF
#endif

// Largest waveform chunk in one GATT read (ATT MTU 247 − 3 − 6 header bytes).
#ifndef VIGIL_FW_GATT_CHUNK_MAX
#define VIGIL_FW_GATT_CHUNK_MAX 238
#endif

// How often the gateway should pull a waveform, minutes (configuration
// service; stored and reported, the sensor serves the latest burst every
// cycle). 360 = 4 pulls a day, the energy model's assumption.
#ifndef VIGIL_FW_WAVEFORM_INTERVAL_MIN
#define VIGIL_FW_WAVEFORM_INTERVAL_MIN 360
#endif

// Advertising TX power, dBm: one of -20, -16, -12, -8, -4, 0, 4 (the
// configuration service changes it at run time).
#ifndef VIGIL_FW_TX_POWER_DBM
#define VIGIL_FW_TX_POWER_DBM 0
#endif

// Firmware update: boots a test image gets to confirm itself (after its
// self-test) before the bootloader swaps the old image back. 1 = the first
// reset before CONFIRM reverts; more tolerates resets during start-up.
#ifndef VIGIL_FW_DFU_TEST_BOOTS
#define VIGIL_FW_DFU_TEST_BOOTS 1
#endif

// Battery: Li-SOCl2 primary cell (3.6 V nominal, flat curve). Percent is a
// linear map between these voltages under load; coarse by nature.
#ifndef VIGIL_FW_BATTERY_EMPTY_MV
#define VIGIL_FW_BATTERY_EMPTY_MV 3000
#endif
#ifndef VIGIL_FW_BATTERY_FULL_MV
#define VIGIL_FW_BATTERY_FULL_MV 3600
#endif

static_assert(VIGIL_FW_MEASUREMENT_INTERVAL_S >= VIGIL_FW_INTERVAL_MIN_S &&
                  VIGIL_FW_MEASUREMENT_INTERVAL_S <= VIGIL_FW_INTERVAL_MAX_S,
              "VIGIL_FW_MEASUREMENT_INTERVAL_S out of 10..86400");
static_assert(VIGIL_FW_SAMPLE_RATE_HZ <= VIGIL_FW_SAMPLE_RATE_MAX_HZ, "sample rate above 25.6 kHz");
static_assert(VIGIL_FW_SAMPLE_RATE_HZ >= 2 * 1000 * 2, "sample rate too low for the 1000 Hz band edge");
static_assert(VIGIL_FW_BURST_SAMPLES >= 256 && VIGIL_FW_BURST_SAMPLES <= 8192, "burst size out of range");
static_assert(VIGIL_FW_DFU_TEST_BOOTS >= 1 && VIGIL_FW_DFU_TEST_BOOTS <= 10, "test boots out of 1..10");
static_assert(VIGIL_FW_COUNTER_BLOCK >= 1, "counter block must be positive");
