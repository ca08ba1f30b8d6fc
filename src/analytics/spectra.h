// SPDX-License-Identifier: Apache-2.0
//
// What a vibration analyst asks of a position's spectra, beyond the newest
// display spectra of the `spectra` table (pipeline.h, recent_spectra):
//
//  - a spectrum at full resolution, recomputed from a stored raw waveform
//    (Store::waveform; the newest storage.waveforms_per_position are kept):
//    bins[k] at k·df, df = fs/n;
//  - the velocity spectrum (mm/s, peak) of an acceleration spectrum (g, peak),
//    v(f) = a(f)·g₀ / (2πf), zero below a low-frequency cut so that 1/f does
//    not turn the high-pass skirt and DC into huge "velocities";
//  - the baseline spectrum: the mean display spectrum (accel, envelope) of
//    the measurements taken while the position's vibration model learned,
//    kept in the analytics-owned `baseline_spectra` table. It restarts when
//    the model learns again (re-learn, maintenance close-out) and is frozen
//    (`complete`) once the model has learned;
//  - shaft-harmonic and bearing-defect markers with their resolvability at a
//    given bin width: a marker can be named ("at 2×") only when the bin width
//    is below half the distance to its nearest neighbouring marker (and to
//    0 Hz); otherwise it is unresolved and must not be named.
//
// Thread-safety: pure functions, and Store reads (any thread).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analytics/pipeline.h"
#include "analytics/position.h"
#include "dsp/features.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

namespace vigil::analytics {

// Standard gravity, m/s² per g.
inline constexpr double kStandardGravity = 9.80665;

// Velocity amplitude (mm/s) of an acceleration amplitude spectrum (g): bin k
// lies at f = f0_hz + (k + offset)·df_hz, where offset is 0 for FFT bins
// (full resolution) and 0.5 for max-hold display bins (which cover
// [k·df, (k+1)·df)). Bins below cut_hz (and at 0 Hz) are 0.
// REQUIRES: df_hz > 0, cut_hz >= 0.
std::vector<float> accel_to_velocity(std::span<const float> accel_g, double df_hz, double f0_hz, double cut_hz,
                                     double offset = 0.0);

// The default low-frequency cut of a velocity spectrum, as ISO 20816 bands
// velocity: 2 Hz for machines below 600 rpm, else 10 Hz (rpm 0 = unknown: 10).
double velocity_cut_hz(double shaft_rpm);

struct SpectrumMarker {
  std::string label;   // "1×", "2×", "BPFO", "2×BPFO"
  std::string family;  // "shaft" | "BPFO" | "BPFI" | "BSF" | "FTF"
  int order = 1;       // harmonic number
  double hz = 0;
  // Distance to the nearest other marker (or to 0 Hz), and whether the bin
  // width resolves it: df < gap / 2.
  double gap_hz = 0;
  bool resolved = false;
};

inline constexpr int kMaxShaftHarmonics = 10;
inline constexpr int kMaxDefectHarmonics = 3;

// Markers of a machine for a spectrum of `kind` ("accel", "velocity",
// "envelope") up to max_hz, sorted by frequency: shaft harmonics 1×…10× for
// accel/velocity (1×–3× for envelope) when the speed is known, and each
// bearing defect frequency with its harmonics (1–3×; FTF only its
// fundamental) when the geometry is known. Resolvability is set for df_hz
// (see mark_resolvable). Empty when the speed is unknown.
std::vector<SpectrumMarker> defect_markers(const MachineInfo& m, const std::string& kind, double max_hz, double df_hz);

// Sets gap_hz and resolved of each marker for bin width df_hz: the nearest
// other marker (any frequency, also outside a zoom band) or 0 Hz, and
// resolved = df_hz < gap_hz / 2. Two markers at one frequency (gap 0) are
// never resolved. Sorts the markers by frequency.
void mark_resolvable(std::vector<SpectrumMarker>& markers, double df_hz);

// A spectrum at full resolution from a raw waveform: bins[k] at k·df.
struct FullSpectrum {
  Id waveform_id = 0;
  Id position_id = 0;
  TimestampMs ts = 0;
  double sample_rate_hz = 0;
  int samples = 0;                    // per axis
  int axis = 0;                       // the axis shown (the one with most velocity)
  double df_hz = 0;                   // fs / samples
  std::vector<float> accel;           // acceleration amplitude, g peak, up to fs/2
  std::vector<float> envelope;        // envelope amplitude, g, up to 2 kHz
};

// Waveforms longer than this (per axis) are not recomputed (bounds the
// memory and time a request can cost).
inline constexpr std::size_t kMaxWaveformSamples = 1u << 20;

// Recomputes both spectra of a waveform with the machine's envelope band
// (envelope_band_for). kInvalidArgument for fewer than 64 or more than
// kMaxWaveformSamples samples per axis, or a non-positive sample rate.
Result<FullSpectrum> full_spectrum(const Waveform& w, const MachineInfo& m);

// A stored waveform of a position: the one with id `waveform_id` when given
// (nullopt unless it belongs to the position), else the newest at or before
// `at` (nullopt: none that old is kept).
Result<std::optional<Waveform>> find_waveform(Store& store, Id position_id, std::optional<Id> waveform_id,
                                              TimestampMs at);

// The stored (display) spectrum of a position and kind nearest at or before
// `at`; with a measurement id, that measurement's (when it is the
// position's).
Result<std::optional<StoredSpectrum>> find_spectrum(Store& store, Id position_id, const std::string& kind,
                                                       std::optional<Id> measurement_id, TimestampMs at);

// ---- the baseline spectrum ----
struct BaselineSpectrum {
  Id position_id = 0;
  std::string kind;  // "accel" | "envelope"
  double df_hz = 0;
  int count = 0;     // spectra averaged
  TimestampMs from_ts = 0, to_ts = 0;
  bool complete = false;  // the vibration model has learned: no longer changes
  std::vector<float> bins;  // mean display amplitude (g), bins[k] covers [k·df, (k+1)·df)
};

// The analytics' migration that creates baseline_spectra (Pipeline::migrate).
extern const char* const kBaselineSpectraSchema;

// Called by the pipeline in its spectra transaction for each measurement:
// while `learning` (the vibration model initializing and the machine
// running) the spectrum joins the running mean, starting a new one when the
// stored baseline is complete or of another resolution; once not learning, a
// baseline being recorded is marked complete.
Status update_baseline_spectrum(sql::Db& db, Id position_id, const std::string& kind, TimestampMs ts,
                                bool learning, const dsp::ReducedSpectrum& s);

Result<std::optional<BaselineSpectrum>> baseline_spectrum(Store& store, Id position_id, const std::string& kind);

}  // namespace vigil::analytics
