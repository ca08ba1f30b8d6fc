// SPDX-License-Identifier: Apache-2.0
//
// The OpenAPI 3 document for /api/v1. Written as data next to the handlers;
// tests/unit/http/openapi_test.cpp checks it against the real Router (every
// route documented, every documented route served, responses match).
#include <nlohmann/json.hpp>

#include "http/api.h"

namespace vigil::http {
namespace {

using json = nlohmann::json;

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }
json arr(json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
json str() { return {{"type", "string"}}; }
json integer() { return {{"type", "integer"}}; }
json number() { return {{"type", "number"}}; }
json boolean() { return {{"type", "boolean"}}; }
json nullable(json s) {
  s["nullable"] = true;
  return s;
}
json obj(json props, std::vector<std::string> required = {}) {
  json j = {{"type", "object"}, {"properties", std::move(props)}};
  if (!required.empty()) j["required"] = required;
  return j;
}
// An asset's envelope (demodulation) band, as responses show it and POST
// /assets takes it.
json envelope_band() {
  json j = nullable(arr(number()));
  j["minItems"] = 2;
  j["maxItems"] = 2;
  j["description"] = "Envelope (demodulation) band [lo, hi] in Hz around the housing or sensor resonance, "
                     "100 <= lo < hi <= 50000; null = automatic (fs/8 .. 0.4 fs). At analysis hi is capped "
                     "at 0.45 x the sample rate; a band left empty falls back to automatic";
  return j;
}

json bearing() {
  return obj({{"rolling_elements", integer()}, {"element_diameter_mm", number()},
              {"pitch_diameter_mm", number()}, {"contact_angle_deg", number()}});
}

json state() {
  return {{"type", "string"},
          {"enum", {"unknown", "initializing", "healthy", "warning", "alarm", "not_running"}}};
}

// The fleet's triage state of a position or asset: the worst of the
// analytics' state and active alerts, plus no_data, not_running, learning.
json triage_state() {
  json j = {{"type", "string"},
            {"enum", {"alarm", "warning", "no_data", "not_running", "learning", "healthy", "unknown"}}};
  j["description"] = "worst first: alarm > warning > no_data > not_running > learning > healthy > unknown; "
                     "never healthy while an alert on it is active";
  return j;
}
json severity_rank() {
  json j = integer();
  j["description"] = "sort key of triage_state: alarm 6, warning 5, no_data 4, not_running 3, learning 2, "
                     "healthy 1, unknown 0";
  return j;
}
json learning_progress() {
  json j = nullable(obj({{"learned_hours", number()}, {"learning_hours", number()}, {"remaining_hours", number()}},
                        {"learned_hours", "learning_hours", "remaining_hours"}));
  j["description"] = "while a learned model learns by time (the slowest model): hours of running data learned, "
                     "planned, left; null otherwise";
  return j;
}

json schemas() {
  json s;
  s["Problem"] = obj({{"type", str()}, {"title", str()}, {"status", integer()}, {"code", str()}, {"detail", str()}},
                     {"type", "title", "status", "code", "detail"});
  // Served with 503 (same body) when status is not "ok".
  s["Health"] = obj({{"status", {{"type", "string"}, {"enum", {"ok", "degraded", "error"}}}},
                     {"version", str()},
                     {"gateway", obj({{"id", str()}, {"name", str()}})},
                     {"demo", boolean()},
                     {"uptime_s", integer()},
                     {"time", str()},
                     {"store", {{"type", "object"}}},
                     {"components", {{"type", "object"}}},
                     {"checks", obj({{"integrity", obj({{"ok", boolean()}, {"status", str()}}, {"ok", "status"})},
                                     {"database_file", obj({{"ok", boolean()}, {"status", str()}}, {"ok", "status"})},
                                     {"disk", obj({{"ok", boolean()}, {"full", boolean()}}, {"ok"})},
                                     {"clock", obj({{"ok", boolean()}, {"behind_ms", integer()}}, {"ok", "behind_ms"})}},
                                    {"integrity", "database_file", "disk", "clock"})},
                     {"failing", arr(str())}},
                    {"status", "version", "gateway", "store", "components", "checks", "failing"});
  s["Site"] = obj({{"id", integer()}, {"name", str()}, {"timezone", str()}}, {"id", "name", "timezone"});
  s["Position"] = obj({{"id", integer()}, {"asset_id", integer()}, {"name", str()}, {"type", str()},
                       {"state", state()}, {"latest", {{"type", "object"}}},
                       {"model_state", state()},
                       {"triage_state", triage_state()},
                       {"severity_rank", severity_rank()},
                       {"active_alerts", integer()},
                       {"alert_severity", nullable({{"type", "string"}, {"enum", {"warning", "alarm"}}})},
                       {"learning", learning_progress()},
                       {"last_seen", nullable(str())},
                       {"last_seen_ts", nullable(integer())},
                       {"tags", {{"type", "object"}, {"additionalProperties", str()}}}},  // in GET /assets/{id}
                      {"id", "asset_id", "name", "type", "state", "latest"});
  s["Position"]["description"] = "state: the worst of the analytics' state (model_state) and the active alerts on "
                                 "the position; no_data when the newest reading is older than 3 of its usual "
                                 "intervals (last_seen)";
  s["Asset"] = obj({{"id", integer()},
                    {"site_id", integer()},
                    {"name", str()},
                    {"machine_class", str()},
                    {"shaft_rpm", number()},
                    {"bearing", bearing()},
                    {"envelope_band_hz", envelope_band()},
                    {"state", state()},
                    {"open_alerts", integer()},
                    {"triage_state", triage_state()},
                    {"severity_rank", severity_rank()},
                    {"learning", learning_progress()},
                    {"last_seen", nullable(str())},
                    {"positions", arr(ref("Position"))},
                    // GET /assets/{id} only: the asset's tags, and its positions' (Position.tags).
                    {"tags", {{"type", "object"}, {"additionalProperties", str()}}}},
                   {"id", "site_id", "name", "machine_class", "shaft_rpm", "envelope_band_hz", "state",
                    "open_alerts", "positions"});
  s["AssetInput"] = obj({{"site_id", integer()},
                         {"name", str()},
                         {"machine_class", str()},
                         {"shaft_rpm", number()},
                         {"bearing", bearing()},
                         {"envelope_band_hz", envelope_band()}},
                        {"site_id", "name"});
  s["Fleet"] = obj({{"time", str()},
                    {"now", integer()},
                    {"open_alerts", integer()},
                    {"asset_states", {{"type", "object"}}},
                    {"triage_counts", {{"type", "object"}, {"additionalProperties", integer()},
                                       {"description", "assets per triage_state"}}},
                    {"sites", arr(obj({{"id", integer()}, {"name", str()}, {"timezone", str()},
                                       {"triage_state", triage_state()}, {"severity_rank", severity_rank()},
                                       {"assets", arr(ref("Asset"))}},
                                      {"id", "name", "assets"}))}},
                   {"time", "now", "sites", "asset_states", "open_alerts"});
  // GET /api/v1/plant (docs/plant.md): gateways of this plant, from their
  // retained state documents on the uplink broker.
  s["Plant"] = obj(
      {{"plant_id", nullable(str())},
       {"gateway_id", str()},
       {"connected", boolean()},
       {"commands", boolean()},
       {"gateways",
        arr(obj({{"id", str()},
                 {"name", nullable(str())},
                 {"online", boolean()},
                 {"stale", boolean()},
                 {"self", boolean()},
                 {"last_seen", nullable(str())},
                 {"url", nullable(str())},
                 {"version", nullable(str())},
                 {"open_alerts", nullable(integer())},
                 {"last_measurement", nullable(str())},
                 {"truncated", boolean()},
                 {"assets", arr(obj({{"id", integer()}, {"name", nullable(str())}, {"site", nullable(str())},
                                     {"state", nullable(str())}, {"triage_state", nullable(str())},
                                     {"open_alerts", integer()}, {"last_seen", nullable(str())},
                                     {"positions", arr({{"type", "object"}})}}))}},
                {"id", "online", "assets"}))}},
      {"plant_id", "gateway_id", "gateways"});
  s["SeriesInfo"] = obj({{"id", integer()}, {"metric", str()}, {"unit", str()}, {"sensor_id", integer()},
                         {"latest", obj({{"ts", integer()}, {"value", number()}})}},
                        {"id", "metric", "unit", "sensor_id"});
  s["PositionHealth"] = obj({{"position_id", integer()}, {"state", state()},
                             {"models", arr(obj({{"model", str()},
                                                 {"pointwise", str()},
                                                 {"persistent", str()},
                                                 {"since", {{"type", "string"},
                                                            {"description", "when the state last changed (ISO 8601)"}}},
                                                 {"learning", {{"type", "string"},
                                                               {"description", "present while the model initializes: "
                                                                               "its progress and what learning still "
                                                                               "waits for (e.g. a feature still moving)"}}},
                                                 {"learned_hours", number()},
                                                 {"learning_hours", number()}},
                                                {"model"}))},
                             {"baseline", {{"type", "object"},
                                           {"description", "metric → learned normal range (median ± sigma robust "
                                                           "standard deviations, raw units); empty while learning"},
                                           {"additionalProperties", ref("BaselineBand")}}}},
                            {"state", "models", "baseline"});
  s["Relearn"] = obj({{"position_id", integer()}, {"state", str()}}, {"position_id", "state"});
  s["BaselineBand"] = obj({{"model", str()}, {"median", number()}, {"lo", number()}, {"hi", number()},
                           {"sigma", number()}},
                          {"model", "median", "lo", "hi"});
  s["SeriesData"] = obj({{"series_id", integer()}, {"from", integer()}, {"to", integer()}, {"ts", arr(integer())},
                         {"min", arr(number())}, {"max", arr(number())}, {"mean", arr(number())},
                         {"count", arr(integer())}},
                        {"series_id", "from", "to", "ts", "min", "max", "mean", "count"});
  s["Sensor"] = obj({{"id", integer()},
                     {"address", str()},
                     {"name", str()},
                     {"format", str()},
                     {"position_id", nullable(integer())},
                     {"commissioned_at", str()},
                     {"decommissioned", boolean()},
                     {"last_seen", nullable(str())},
                     {"battery_pct", nullable(number())},
                     {"rssi_dbm", nullable(number())},
                     {"heard_via", nullable(str())},
                     {"heard_at", nullable(str())},
                     {"frames_lost", nullable(integer())},
                     {"loss_ratio", nullable(number())},
                     {"latest", {{"type", "object"}}}},
                    {"id", "address", "name", "format", "position_id", "commissioned_at", "last_seen", "latest"});
  // BLE module (served when ble.enabled): live health from the scanner, or
  // the persisted row for a sensor the scanner does not hold.
  s["SensorHealth"] = obj({{"sensor_id", integer()},
                           {"address", str()},
                           {"name", str()},
                           {"position_id", nullable(integer())},
                           {"decommissioned", boolean()},
                           {"last_seen", nullable(str())},
                           {"rssi_dbm", nullable(number())},
                           {"heard_via", nullable(str())},
                           {"battery_pct", nullable(number())},
                           {"advert_rate_per_min", number()},
                           {"expected_interval_s", nullable(number())},
                           {"adverts", integer()},
                           {"frames_accepted", integer()},
                           {"readings_rejected", integer()},
                           {"counter_resets", integer()},
                           {"frames_lost", integer()},
                           {"loss_ratio", nullable(number())},
                           {"frames_rejected", {{"type", "object"}, {"description", "rejection reason → count"}}},
                           {"waveforms", integer()},
                           {"waveform_failures", integer()},
                           {"last_waveform", nullable(str())},
                           {"last_error", str()}},
                          {"sensor_id", "address", "last_seen", "frames_accepted", "frames_rejected"});
  s["BleHealth"] = obj({{"status", {{"type", "string"},
                                    {"enum", {"starting", "no_dbus", "bluez_unavailable", "no_adapter",
                                              "adapter_off", "scanning", "discovery_failed"}}}},
                        {"ok", boolean()},
                        {"message", str()},
                        {"adapter", str()},
                        {"discovering", boolean()},
                        {"devices_known", integer()},
                        {"devices_heard", integer()},
                        {"discovered", integer()},
                        {"commissioned", integer()},
                        {"commissioned_heard", integer()},
                        {"adverts_total", integer()},
                        {"frames_accepted", integer()},
                        {"frames_rejected", {{"type", "object"}, {"description", "rejection reason → count"}}},
                        {"events_dropped", integer()},
                        {"discovery_restarts", integer()},
                        {"bluez_restarts", integer()},
                        {"devices_removed", integer()},
                        {"last_advert", nullable(str())},
                        {"sensors", arr(ref("SensorHealth"))}},
                       {"status", "ok", "commissioned", "sensors"});
  s["SensorCommissioned"] = obj({{"id", integer()}, {"address", str()}, {"name", str()}, {"format", str()},
                                 {"position_id", nullable(integer())}, {"has_key", boolean()}},
                                {"id", "address", "has_key"});
  s["Alert"] = obj({{"id", integer()},
                    {"asset_id", nullable(integer())},
                    {"position_id", nullable(integer())},
                    {"model", str()},
                    {"severity", str()},
                    {"status", {{"type", "string"}, {"enum", {"open", "acknowledged", "muted", "closed"}}}},
                    {"opened_at", str()},
                    {"updated_at", str()},
                    {"closed_at", nullable(str())},
                    {"title", str()},
                    {"explanation", str()},
                    {"measurement_id", nullable(integer())},
                    {"failure_mode", nullable(str())},
                    {"failure_cause", nullable(str())},
                    {"action_taken", nullable(str())},
                    {"closed_by", nullable(str())},
                    {"notes", {{"type", "object"}}},
                    {"asset_name", str()},
                    {"position_name", str()},
                    {"family", {{"type", "string"},
                                {"description", "one alert per position and family: vibration (vibrationISO, "
                                                "vibrationML), temperature (temperatureML); other models are "
                                                "their own family"}}},
                    {"flagged_by", arr(str())},
                    {"value", nullable(obj({{"kind", nullable({{"type", "string"},
                                                               {"enum", {"velocity_mm_s", "anomaly_score"}}})},
                                            {"opening", nullable(number())},
                                            {"current", nullable(number())},
                                            {"change", nullable(number())},
                                            {"trend", nullable({{"type", "string"},
                                                                {"enum", {"rising", "falling", "steady"}}})}}))}},
                   {"id", "model", "severity", "status", "opened_at", "updated_at", "title", "explanation"});
  s["CloseoutCodes"] = obj({{"failure_mode", arr(str())}, {"failure_cause", arr(str())},
                            {"action_taken", arr(str())}, {"models", arr(str())}, {"feedback", arr(str())}},
                           {"failure_mode", "failure_cause", "action_taken", "models", "feedback"});
  s["Measurement"] = obj({{"id", integer()}, {"position_id", integer()}, {"ts", integer()}, {"time", str()},
                          {"features", {{"type", "object"}}}, {"score", nullable(number())}, {"state", state()},
                          {"explanation", str()}, {"waveform_id", nullable(integer())}},
                         {"id", "position_id", "ts", "features", "state", "explanation"});
  // bins[i] is the amplitude at f0_hz + i·df_hz (full resolution: the FFT
  // bin; display or reduced: the max-hold group starting there).
  s["SpectrumMarker"] = obj({{"label", str()}, {"family", str()}, {"order", integer()}, {"hz", number()},
                             {"gap_hz", number()}, {"resolved", boolean()}, {"amplitude", nullable(number())}},
                            {"label", "family", "order", "hz", "gap_hz", "resolved", "amplitude"});
  s["Spectrum"] = obj({{"measurement_id", nullable(integer())}, {"waveform_id", nullable(integer())},
                       {"ts", integer()}, {"time", str()},
                       {"kind", {{"type", "string"}, {"enum", {"accel", "velocity", "envelope"}}}},
                       {"unit", {{"type", "string"}, {"enum", {"g", "mm/s"}}}}, {"amplitude", str()},
                       {"resolution", {{"type", "string"}, {"enum", {"full", "display"}}}},
                       {"baseline", boolean()}, {"df_hz", number()}, {"resolution_hz", number()},
                       {"f0_hz", number()}, {"reduced", boolean()}, {"bins", arr(number())},
                       {"shaft_rpm", nullable(number())}, {"shaft_hz", nullable(number())},
                       {"markers", arr(ref("SpectrumMarker"))}, {"cut_hz", number()},
                       {"sample_rate_hz", number()}, {"samples", integer()},
                       {"baseline_count", integer()}, {"baseline_from", str()}, {"baseline_to", str()},
                       {"baseline_complete", boolean()}},
                      {"measurement_id", "ts", "kind", "unit", "resolution", "df_hz", "f0_hz", "bins", "markers"});
  s["User"] = obj({{"id", integer()}, {"name", str()}, {"role", str()}, {"created_at", str()}},
                  {"id", "name", "role", "created_at"});
  s["Token"] = obj({{"id", integer()}, {"name", str()}, {"role", str()}, {"created_at", str()}, {"created_by", str()},
                    {"last_used_at", nullable(str())}, {"revoked", boolean()}, {"token", str()}},
                   {"id", "name", "role", "created_at", "revoked"});
  s["AuthSession"] = obj({{"auth_enabled", boolean()}, {"setup_required", boolean()}, {"demo", boolean()},
                          {"user", nullable(obj({{"name", str()}, {"role", str()}, {"kind", str()}}))}},
                         {"auth_enabled", "setup_required", "user"});
  s["SignedIn"] = obj({{"user", ref("User")}, {"csrf", str()}}, {"user", "csrf"});
  s["System"] = obj({{"version", str()}, {"gateway", {{"type", "object"}}}, {"demo", boolean()}, {"time", str()},
                     {"uptime_s", integer()}, {"store", {{"type", "object"}}}, {"live", {{"type", "object"}}},
                     {"components", {{"type", "object"}}}, {"you", {{"type", "object"}}},
                     // The package's record of the last upgrade (packaging/debian/postinst).
                     {"last_upgrade", nullable(obj({{"from", str()}, {"to", str()}, {"at", str()}, {"backup", str()},
                                                    {"backup_ok", boolean()}, {"error", str()}}))}},
                    {"version", "store", "components", "you"});
  s["AuditEntry"] = obj({{"id", integer()}, {"time", str()}, {"actor", str()}, {"action", str()}, {"target", str()},
                         {"detail", str()}},
                        {"id", "time", "actor", "action"});
  s["MachineClass"] = obj({{"name", str()},
                           {"ab", number()},
                           {"bc", number()},
                           {"cd", number()},
                           {"source", {{"type", "string"}, {"enum", {"builtin", "config", "user"}}}},
                           {"overrides", nullable({{"type", "string"}, {"enum", {"builtin", "config"}}})}},
                          {"name", "ab", "bc", "cd", "source", "overrides"});
  s["MachineClassLimits"] = obj({{"ab", number()}, {"bc", number()}, {"cd", number()}}, {"ab", "bc", "cd"});
  s["MachineClassLimits"]["description"] =
      "Velocity RMS (mm/s) where zones A, B and C end: 0 < ab < bc < cd <= 1000";
  s["MachineClassDeleted"] = obj({{"deleted", str()}, {"restored", nullable(ref("MachineClass"))}},
                                 {"deleted", "restored"});
  s["Result"] = {{"type", "object"}};
  s["Credentials"] = obj({{"name", str()}, {"password", str()}}, {"name", "password"});
  s["SetupRequest"] = obj({{"name", str()}, {"password", str()}, {"setup_code", str()}},
                          {"name", "password", "setup_code"});
  s["SetupRequest"]["description"] =
      "setup_code: the one-time code the gateway logs at start while no user exists";
  s["UserRole"] = obj({{"role", {{"type", "string"}, {"enum", {"admin", "technician", "viewer"}}}}}, {"role"});
  s["CloseAlert"] = obj({{"failure_mode", str()}, {"failure_cause", str()}, {"action_taken", str()},
                         {"models", arr(str())}, {"feedback", {{"type", "string"}, {"enum", {"confirmed", "false_alarm", "unsure"}}}},
                         {"notes", str()},
                         {"confirm_relearn", {{"type", "boolean"},
                                              {"description", "re-learn a model that is itself in warning or "
                                                              "alarm anyway; without it such a closure is refused "
                                                              "(409 relearn_needs_confirmation)"}}}},
                        {"failure_mode", "failure_cause", "action_taken"});
  s["CloseoutPreview"] = obj({{"alert_id", integer()},
                              {"action_taken", str()},
                              {"relearn", arr(obj({{"model", str()}, {"state", str()}}, {"model", "state"}))},
                              {"absorb", arr(str())},
                              {"needs_confirmation", boolean()}},
                             {"relearn", "absorb", "needs_confirmation"});
  s["AlertEvent"] = obj({{"id", integer()}, {"ts", integer()}, {"event", str()}, {"actor", str()},
                         {"severity", str()}, {"note", str()}},
                        {"id", "ts", "event", "actor"});
  json condition = obj({{"metric", str()},
                        {"op", {{"type", "string"}, {"enum", {"above", "below", "rate_above", "rate_below", "no_data",
                                                              "state_held", "increase_above"}}}},
                        {"value", number()}, {"hysteresis", number()}, {"for_s", number()}, {"per_s", number()},
                        {"window", {{"type", "string"}, {"enum", {"day", "week", "month"}}}},
                        {"position_id", integer()}},
                       {"metric", "op"});
  s["Rule"] = obj({{"id", integer()}, {"name", str()}, {"enabled", boolean()},
                   {"severity", {{"type", "string"}, {"enum", {"warning", "alarm"}}}},
                   {"scope", obj({{"position_id", integer()}, {"asset_id", integer()}, {"site_id", integer()}})},
                   {"conditions", arr(condition)}, {"message", str()}},
                  {"name", "severity", "conditions"});
  s["RulePreviewRequest"] = obj({{"rule", ref("Rule")}, {"from", integer()}, {"to", integer()}}, {"rule"});
  s["RulePreview"] = obj({{"fires", integer()}, {"from", integer()}, {"to", integer()},
                          {"times", arr(obj({{"ts", integer()}, {"asset_id", integer()}, {"position_id", integer()},
                                             {"explanation", str()}}))}},
                         {"fires", "times"});
  s["Channel"] = obj({{"id", integer()}, {"name", str()}, {"type", {{"type", "string"}, {"enum", {"email", "webhook"}}}},
                      {"enabled", boolean()}, {"rate_per_minute", integer()},
                      {"email", obj({{"to", arr(str())}})},
                      {"webhook", obj({{"url", str()}, {"headers", {{"type", "object"}}}, {"secret", str()},
                                       {"secret_set", boolean()}, {"body_template", str()}, {"ca_file", str()},
                                       {"verify_tls", boolean()}})}},
                     {"name", "type"});
  s["Channel"]["description"] = "webhook.secret and header values are write-only: answers carry secret_set and redacted headers";
  s["Route"] = obj({{"id", integer()}, {"name", str()}, {"severities", arr(str())}, {"site_ids", arr(integer())},
                    {"asset_ids", arr(integer())}, {"events", arr(str())}, {"channels", arr(integer())},
                    {"quiet_hours", obj({{"from", str()}, {"to", str()}, {"timezone", str()}, {"alarms_too", boolean()}})},
                    {"escalate_after_min", integer()}, {"escalate_to", arr(integer())}},
                   {"name", "channels"});
  s["Delivery"] = obj({{"id", integer()}, {"channel_id", integer()}, {"alert_id", integer()}, {"event", str()},
                       {"kind", {{"type", "string"}, {"enum", {"notification", "escalation", "test"}}}},
                       {"status", {{"type", "string"}, {"enum", {"pending", "retrying", "sent", "failed"}}}},
                       {"attempts", integer()}, {"created_at", integer()}, {"next_attempt_at", integer()},
                       {"sent_at", integer()}, {"last_error", str()}},
                      {"id", "channel_id", "kind", "status", "attempts"});
  s["TestQueued"] = obj({{"delivery_id", integer()}}, {"delivery_id"});
  // ---- the fleet lifecycle (api_catalog.cpp) ----
  s["Rename"] = obj({{"name", str()}}, {"name"});
  // Tags: key=value, at most 32, keys [A-Za-z0-9_.-] and values ≤ 64 bytes.
  const json tags = {{"type", "object"}, {"additionalProperties", str()}, {"maxProperties", 32}};
  s["AssetPatch"] = obj({{"name", str()}, {"site_id", integer()}, {"tags", tags}});
  s["AssetPatch"]["description"] = "name renames in place (same id; 409 when a sibling has it); site_id moves the "
                                   "asset with its positions and history to another site; tags replaces its tags";
  s["PositionPatch"] = obj({{"name", str()}, {"tags", tags}});
  s["PositionPatch"]["description"] = "name renames in place (same id); tags replaces its tags";
  s["SensorPatch"] = obj({{"tags", tags}}, {"tags"});
  s["SensorTagged"] = obj({{"id", integer()}, {"address", str()}, {"position_id", nullable(integer())},
                           {"decommissioned", boolean()}, {"tags", tags}},
                          {"id", "address", "tags"});
  s["FleetSearch"] = obj(
      {{"q", str()},
       {"count", integer()},
       {"truncated", boolean()},
       {"sensors", arr(obj({{"id", integer()}, {"address", str()}, {"name", str()},
                            {"position_id", nullable(integer())}, {"position", nullable(str())},
                            {"asset_id", nullable(integer())}, {"asset", nullable(str())},
                            {"battery_pct", nullable(number())}, {"firmware", nullable(str())},
                            {"last_data", nullable(str())}, {"tags", tags}},
                           {"id", "address", "tags"}))}},
      {"q", "count", "truncated", "sensors"});
  s["FleetSearch"]["description"] =
      "sensors matching every term of q (space-separated, AND): battery<20, firmware<1.3, no_data>2h, "
      "criticality=A, line!=2 (tags of the sensor, its position or its asset); operators < <= > >= = !=; "
      "at most 16 terms, 512 bytes; a malformed term: 400 bad_query naming it (field q, term)";
  s["CatalogNode"] = obj({{"id", integer()}, {"name", str()}, {"archived", boolean()}, {"site_id", integer()},
                          {"asset_id", integer()}, {"timezone", str()}, {"machine_class", str()}, {"type", str()},
                          {"purged", boolean()}, {"tags", tags}},
                         {"id", "name", "archived"});
  s["CatalogNode"]["description"] = "a site, asset or position; purged: true (and nothing else but id and name) "
                                    "after DELETE with mode=purge";
  s["SensorState"] = obj({{"id", integer()}, {"address", str()}, {"name", str()}, {"format", str()},
                          {"position_id", nullable(integer())}, {"commissioned_at", str()},
                          {"decommissioned", boolean()}, {"decommissioned_at", nullable(str())},
                          {"has_key", boolean()}},
                         {"id", "address", "position_id", "decommissioned"});
  s["SensorReplace"] = obj({{"address", str()}, {"key", str()}}, {"address"});
  s["SensorReplaced"] = obj({{"old", ref("SensorState")}, {"new", ref("SensorState")}}, {"old", "new"});
  s["SensorMove"] = obj({{"position_id", integer()}}, {"position_id"});
  s["SensorReassign"] = obj({{"gateway", str()}, {"position_id", integer()}, {"name", str()}}, {"gateway"});
  s["PlantCommandRequest"] = obj({{"gateway", str()}, {"method", {{"type", "string"}, {"enum", {"GET", "POST", "PATCH"}}}},
                                  {"path", str()}, {"body", {{"type", "object"}}}},
                                 {"gateway", "path"});
  s["PlantCommand"] = obj({{"id", str()},
                           {"to", str()},
                           {"method", str()},
                           {"path", str()},
                           {"actor", str()},
                           {"sent_at", integer()},
                           {"state", {{"type", "string"}, {"enum", {"pending", "applied", "failed", "no_answer"}}}},
                           {"status", integer()},
                           {"result", {{"description", "the owner's answer body"}}},
                           {"answered_at", integer()}},
                          {"id", "to", "state"});
  s["PlantCommands"] = obj({{"enabled", boolean()}, {"commands", arr(ref("PlantCommand"))}}, {"enabled", "commands"});
  s["SensorImport"] = obj(
      {{"dry_run", boolean()},
       {"applied", boolean()},
       {"counts", obj({{"new", integer()}, {"recommissioned", integer()}, {"unchanged", integer()}})},
       {"rows", arr(obj({{"line", integer()}, {"address", str()}, {"position_id", integer()},
                         {"action", {{"type", "string"}, {"enum", {"new", "recommissioned", "unchanged"}}}},
                         {"sensor_id", nullable(integer())}},
                        {"line", "address", "position_id", "action"}))},
       {"errors", arr(obj({{"line", integer()}, {"field", str()}, {"message", str()}}, {"line", "field", "message"}))}},
      {"dry_run", "applied", "counts", "rows", "errors"});
  s["SensorImport"]["description"] =
      "Per row what the import would do (dry_run) or did. With any bad row the answer is 422 (code bad_rows, "
      "field csv) carrying these same fields: errors name each bad line, nothing is written";
  // Sensor firmware (api_firmware.h, docs/firmware.md).
  s["FirmwareImage"] = obj({{"id", integer()}, {"board", str()}, {"version", str()}, {"sha256", str()},
                            {"size", integer()}, {"uploaded_by", str()}, {"uploaded_at", str()}},
                           {"id", "board", "version", "sha256", "size", "uploaded_by", "uploaded_at"});
  s["FirmwareImageDeleted"] = obj({{"deleted", integer()}}, {"deleted"});
  s["FirmwareRolloutRequest"] = obj(
      {{"image_id", integer()},
       {"tag", nullable(str())},
       {"percent", nullable(number())},
       {"wave_size", integer()},
       {"failure_threshold", {{"description", "a count (3) or a percentage (\"10%\")"}}},
       {"force", boolean()}},
      {"image_id", "wave_size", "failure_threshold"});
  s["FirmwareRolloutTarget"] = obj(
      {{"sensor_id", integer()},
       {"address", str()},
       {"wave", integer()},
       {"state", {{"type", "string"},
                  {"enum", {"queued", "transferring", "verifying", "test_boot", "confirmed", "failed", "reverted"}}}},
       {"reason", str()},
       {"attempts", integer()},
       {"bytes_sent", integer()},
       {"started_at", nullable(str())},
       {"finished_at", nullable(str())},
       {"updated_at", str()}},
      {"sensor_id", "address", "wave", "state", "reason", "attempts", "bytes_sent"});
  s["FirmwareRollout"] = obj(
      {{"id", integer()},
       {"image_id", integer()},
       {"tag", nullable(str())},
       {"percent", nullable(number())},
       {"wave_size", integer()},
       {"failure_threshold", str()},
       {"force", boolean()},
       {"state", {{"type", "string"}, {"enum", {"running", "paused", "stopped", "completed", "failed"}}}},
       {"reason", str()},
       {"created_by", str()},
       {"created_at", str()},
       {"updated_at", str()},
       {"counts", {{"type", "object"}, {"additionalProperties", integer()}}},
       {"targets", arr(ref("FirmwareRolloutTarget"))}},
      {"id", "image_id", "wave_size", "failure_threshold", "state", "targets"});
  return s;
}

struct Op {
  const char* method;
  const char* path;
  const char* summary;
  const char* role;  // "" = open
  json response;     // schema of the 200/201 body (JSON), or a media type string
  int status = 200;
  const char* request = nullptr;  // request body schema name
  const char* media = "application/json";
  // Registered by another module when it runs (x-vigil-module), e.g. "ble"
  // only with ble.enabled; nullptr = always served by the http module.
  const char* module = nullptr;
};

std::vector<Op> operations() {
  return {
      {"GET", "/api/v1/health", "Liveness and component status (no authentication)", "", ref("Health")},
      {"GET", "/api/v1/openapi.json", "This document", "", {{"type", "object"}}},
      {"GET", "/metrics", "Prometheus metrics (text exposition format)", "", str(), 200, nullptr, "text/plain"},
      {"GET", "/api/v1/fleet", "Sites, assets and positions with states, open alerts and latest readings", "viewer", ref("Fleet")},
      {"GET", "/api/v1/plant", "Every gateway of this plant (plant.id) with its assets' states, open alerts and last measurement; offline ones greyed by last_seen", "viewer", ref("Plant")},
      {"GET", "/api/v1/sites", "List sites", "viewer", arr(ref("Site"))},
      {"PATCH", "/api/v1/sites/{id}", "Rename a site in place (same id; 409 already_exists when another site has the name)", "admin", ref("CatalogNode"), 200, "Rename"},
      {"DELETE", "/api/v1/sites/{id}", "Archive a site with its assets and positions (mode=archive, the default: hidden, history kept and readable, sensors on it decommissioned) or delete it with all its history (mode=purge&confirm=<its name>)", "admin", ref("CatalogNode")},
      {"PATCH", "/api/v1/assets/{id}", "Rename an asset in place (same id) and/or move it to another site (site_id)", "admin", ref("CatalogNode"), 200, "AssetPatch"},
      {"DELETE", "/api/v1/assets/{id}", "Archive an asset with its positions (mode=archive, default) or purge it (mode=purge&confirm=<its name>)", "admin", ref("CatalogNode")},
      {"PATCH", "/api/v1/positions/{id}", "Rename a position in place (same id) and/or replace its tags", "admin", ref("CatalogNode"), 200, "PositionPatch"},
      {"PATCH", "/api/v1/sensors/{id}", "Replace a sensor's tags (key=value, at most 32)", "admin", ref("SensorTagged"), 200, "SensorPatch"},
      {"GET", "/api/v1/fleet/search", "Search the fleet's sensors: q=battery<20 firmware<1.3 no_data>2h criticality=A line=2 (AND); limit (1..10000, default 1000)", "viewer", ref("FleetSearch")},
      {"DELETE", "/api/v1/positions/{id}", "Archive a position (mode=archive, default) or purge it with its series, measurements and waveforms (mode=purge&confirm=<its name>)", "admin", ref("CatalogNode")},
      {"POST", "/api/v1/sensors/{id}/decommission", "Decommission a sensor: its readings are ignored from now on (counted as vigil_ingest_rejected_total{reason=\"decommissioned\"}); its history stays", "admin", ref("SensorState")},
      {"POST", "/api/v1/sensors/{id}/replace", "Put another sensor (address, key) on this sensor's position: the old one is decommissioned, the position keeps its history", "admin", ref("SensorReplaced"), 200, "SensorReplace"},
      {"POST", "/api/v1/sensors/{id}/move", "Move a sensor to another position: its past stays with the old position, new readings go to the new one", "admin", ref("SensorState"), 200, "SensorMove"},
      {"POST", "/api/v1/sensors/{id}/reassign", "Re-assign a sensor of this gateway to a position of another gateway of the plant: its address and key go sealed to that gateway, which commissions it; then it is decommissioned here (needs plant.command_key_file)", "admin", ref("PlantCommand"), 202, "SensorReassign"},
      {"POST", "/api/v1/plant/commands", "Ask a gateway of the plant to apply a sensor-lifecycle call (sealed with the plant's command key; the owner applies it with its own checks and audit)", "admin", ref("PlantCommand"), 202, "PlantCommandRequest"},
      {"GET", "/api/v1/plant/commands", "Commands sent from this gateway, newest first, with their outcome", "admin", ref("PlantCommands")},
      {"GET", "/api/v1/plant/commands/{id}", "One command sent from this gateway and its outcome", "admin", ref("PlantCommand")},
      {"POST", "/api/v1/sensors/import", "Commission sensors in bulk from CSV (text/csv; header address,key,position; optional name, format; at most 5000 rows, 1 MiB); dry_run=1 only reports new / recommissioned / unchanged; any bad row: 422 listing each by line, nothing written", "admin", ref("SensorImport")},
      {"POST", "/api/v1/sites", "Create or rename a site", "admin", ref("Site"), 201, "Result"},
      {"GET", "/api/v1/assets", "List assets (filter: site_id)", "viewer", arr(ref("Asset"))},
      {"POST", "/api/v1/assets", "Create or update an asset (class, speed, bearing geometry, envelope band)", "admin", ref("Result"), 201, "AssetInput"},
      {"GET", "/api/v1/assets/{id}", "One asset with its positions", "viewer", ref("Asset")},
      {"GET", "/api/v1/machine-classes", "ISO zone classes (built-in, configured, user) with their limits and source", "viewer", arr(ref("MachineClass"))},
      {"PUT", "/api/v1/machine-classes/{name}", "Create (201) or replace (200) a user machine class; it overrides a configured or built-in one of that name", "admin", ref("MachineClass"), 200, "MachineClassLimits"},
      {"DELETE", "/api/v1/machine-classes/{name}", "Delete a user class, restoring the one it overrode (409 class_read_only, class_in_use)", "admin", ref("MachineClassDeleted")},
      {"GET", "/api/v1/positions", "List positions (filter: asset_id)", "viewer", arr(ref("Position"))},
      {"POST", "/api/v1/positions", "Create a position on an asset", "admin", ref("Result"), 201, "Result"},
      {"GET", "/api/v1/positions/{id}/series", "Time series of a position", "viewer", arr(ref("SeriesInfo"))},
      {"GET", "/api/v1/positions/{id}/health", "Per-model health state of a position", "viewer", ref("PositionHealth")},
      {"POST", "/api/v1/positions/{id}/relearn", "Re-learn: every learned model of the position forgets its baseline and learns again from its next measurement (audited; 202 queued, 503 analytics off or busy)", "technician", ref("Relearn"), 202},
      {"GET", "/api/v1/positions/{id}/measurements", "Measurements (features, score, explanation); from, to, limit", "viewer", arr(ref("Measurement"))},
      {"GET", "/api/v1/export", "Stored points as CSV (header timestamp,ts_ms,site,asset,position,sensor,metric,unit,value) or JSON Lines (format=csv|jsonl), filtered by site, asset, position (ids), metric, from/to (epoch ms); gzip=1 for application/gzip (one gzip member, flushed per chunk). Streamed from one consistent snapshot with Transfer-Encoding: chunked (Connection: close; a body cut short lacks the last chunk); X-Vigil-Export-Points and X-Vigil-Estimated-Points give the exact number of points the body holds, for a progress bar; Content-Disposition names the file. At most 50,000,000 points (413 too_large: narrow the range or use `vigil export`); at most 2 exports at a time (429 too_many_exports with Retry-After; 503 overloaded when no worker is free); 400 bad parameters, 404 unknown site/asset/position", "viewer", str(), 200, nullptr, "text/csv"},
      {"GET", "/api/v1/export/estimate", "How many series and (at most, counting whole chunks) points an export with the same filters would hold, and the most points one export may hold ({series, points, limit})", "viewer", obj({{"series", integer()}, {"points", integer()}, {"limit", integer()}})},
      {"GET", "/api/v1/positions/{id}/waveforms", "The position's stored raw waveforms, newest first, without samples (id, ts, sample_rate_hz, axes, samples_per_axis); limit 1..1000", "viewer", arr(obj({{"id", integer()}, {"ts", str()}, {"ts_ms", integer()}, {"sample_rate_hz", number()}, {"axes", integer()}, {"samples_per_axis", integer()}}))},
      {"GET", "/api/v1/positions/{id}/waveforms/{wid}", "One stored waveform as a download: format=wav (16-bit PCM, the counts as recorded, one channel per axis) or format=csv (t_s and each axis in g); 404 unknown", "viewer", str(), 200, nullptr, "audio/wav"},
      {"GET", "/api/v1/storage", "The storage report (as `vigil storage report`): points, bytes per point, waveforms, bytes per waveform and raw int16 bytes, file and WAL size, disk free, growth per day, days until full; cached for a minute", "viewer", obj({{"points", integer()}, {"bytes_per_point", number()}, {"waveforms", integer()}, {"bytes_per_waveform", number()}, {"db_file_bytes", integer()}, {"disk_free_bytes", integer()}, {"days_until_full", nullable(number())}})},
      {"GET", "/api/v1/positions/{id}/spectra", "Spectra of a position. kind=accel|velocity|envelope (velocity: the acceleration spectrum integrated, mm/s peak, a/(2πf), 0 below cut_hz, default 10 Hz or 2 Hz below 600 rpm). Without selection: the newest `limit` (1..200) display spectra, newest first. One spectrum at full resolution (recomputed from the stored waveform; `resolution` says display when it is no longer kept) with at (epoch ms: the newest at or before), measurement_id, waveform_id, from_hz/to_hz (zoom band) or resolution=full; baseline=1: the mean spectrum of the learning period. max_bins (16..16384, default 8192) bounds the bins (a wider band is max-hold reduced: reduced=true). Markers (shaft 1×–10×, bearing defects 1–3×) are resolved when df_hz < gap_hz/2. 400 malformed, 422 conflicting parameters (limit>1 with a selection, to_hz<=from_hz, from_hz above the spectrum), 404 unknown position or measurement", "viewer", arr(ref("Spectrum"))},
      {"GET", "/api/v1/series/{id}", "Range query downsampled to `points` min/max/mean buckets; format=csv exports (raw=1 for raw points)", "viewer", ref("SeriesData")},
      {"GET", "/api/v1/sensors", "Commissioned sensors with last seen, battery, RSSI and latest values", "viewer", arr(ref("Sensor"))},
      {"POST", "/api/v1/sensors", "Commission a sensor by address, key and position", "admin", ref("SensorCommissioned"), 201, "Result"},
      {"GET", "/api/v1/sensors/discovered", "Sensors heard but not commissioned", "viewer", arr({{"type", "object"}})},
      {"GET", "/api/v1/sensors/{id}/health", "BLE health of one sensor: last seen, RSSI, battery, frames accepted and rejected by reason (BLE enabled)", "viewer", ref("SensorHealth"), 200, nullptr, "application/json", "ble"},
      {"GET", "/api/v1/ble/health", "BLE scanner status and every commissioned sensor's health (BLE enabled)", "viewer", ref("BleHealth"), 200, nullptr, "application/json", "ble"},
      {"GET", "/api/v1/events", "Server-Sent Events: reading, state, alert", "viewer", str(), 200, nullptr, "text/event-stream"},
      {"GET", "/api/v1/closeout-codes", "Failure mode, cause, action, model and feedback code lists", "viewer", ref("CloseoutCodes")},
      {"GET", "/api/v1/alerts", "Alerts (filters: status, severity, asset_id, position_id, since, limit; sort=newest|worst; format=csv)", "viewer", arr(ref("Alert"))},
      {"GET", "/api/v1/alerts/{id}", "One alert", "viewer", ref("Alert")},
      {"GET", "/api/v1/alerts/{id}/closeout-preview", "What closing with action_taken (and failure_mode) would re-learn or absorb", "viewer", ref("CloseoutPreview")},
      {"POST", "/api/v1/alerts/{id}/acknowledge", "Acknowledge (maintenance planned)", "technician", ref("Alert")},
      {"POST", "/api/v1/alerts/{id}/mute", "Mute an alert", "technician", ref("Alert")},
      {"POST", "/api/v1/alerts/{id}/unmute", "Unmute an alert", "technician", ref("Alert")},
      {"POST", "/api/v1/alerts/{id}/close", "Close with failure mode, cause, action and feedback", "technician", ref("Alert"), 200, "CloseAlert"},
      {"GET", "/api/v1/alerts/{id}/events", "The alert's timeline: opened, escalated, acknowledged, muted, closed, with actor and note", "viewer", arr(ref("AlertEvent"))},
      {"GET", "/api/v1/rules", "Rules on any metric of any position, asset or site (docs/notifications.md)", "viewer", arr(ref("Rule"))},
      {"POST", "/api/v1/rules", "Create a rule (422 names the field of a malformed one)", "technician", ref("Rule"), 201, "Rule"},
      {"POST", "/api/v1/rules/preview", "Run a rule over stored history (default the last 7 days): when it would have fired", "viewer", ref("RulePreview"), 200, "RulePreviewRequest"},
      {"GET", "/api/v1/rules/{id}", "One rule", "viewer", ref("Rule")},
      {"PUT", "/api/v1/rules/{id}", "Replace a rule (its pending durations start afresh)", "technician", ref("Rule"), 200, "Rule"},
      {"DELETE", "/api/v1/rules/{id}", "Delete a rule", "technician", str(), 204},
      {"GET", "/api/v1/notifications/channels", "Email and webhook channels (secrets redacted)", "viewer", arr(ref("Channel"))},
      {"POST", "/api/v1/notifications/channels", "Create a channel", "admin", ref("Channel"), 201, "Channel"},
      {"GET", "/api/v1/notifications/channels/{id}", "One channel (secrets redacted)", "viewer", ref("Channel")},
      {"PUT", "/api/v1/notifications/channels/{id}", "Replace a channel; a secret or header value left out keeps its stored value", "admin", ref("Channel"), 200, "Channel"},
      {"DELETE", "/api/v1/notifications/channels/{id}", "Delete a channel", "admin", str(), 204},
      {"POST", "/api/v1/notifications/channels/{id}/test", "Queue a test message; its delivery appears in the delivery log", "admin", ref("TestQueued"), 202},
      {"GET", "/api/v1/notifications/routes", "Routing by severity, site and asset; quiet hours; escalation", "viewer", arr(ref("Route"))},
      {"POST", "/api/v1/notifications/routes", "Create a route", "admin", ref("Route"), 201, "Route"},
      {"PUT", "/api/v1/notifications/routes/{id}", "Replace a route", "admin", ref("Route"), 200, "Route"},
      {"DELETE", "/api/v1/notifications/routes/{id}", "Delete a route", "admin", str(), 204},
      {"GET", "/api/v1/notifications/deliveries", "Delivery log, newest first (status, channel_id, alert_id, limit)", "viewer", arr(ref("Delivery"))},
      {"GET", "/ack/{token}", "Acknowledge link from a notification: a page with the alert and one button (the token is the credential)", "", str(), 200, nullptr, "text/html"},
      {"POST", "/ack/{token}", "Acknowledge through a link: once, before it expires; audited as link:<recipient>", "", str(), 200, nullptr, "text/html"},
      {"GET", "/api/v1/auth/session", "Who am I; whether first-start setup is needed (no authentication)", "", ref("AuthSession")},
      {"POST", "/api/v1/auth/setup", "Create the first admin with the setup code from the gateway's log (only while no user exists; 403 bad_setup_code, 409 already_set_up, 429/503 with Retry-After) and sign in", "", ref("SignedIn"), 201, "SetupRequest"},
      {"POST", "/api/v1/auth/login", "Sign in: sets the session and CSRF cookies", "", ref("SignedIn"), 200, "Credentials"},
      {"POST", "/api/v1/auth/logout", "Sign out", "viewer", ref("Result")},
      {"GET", "/api/v1/users", "List users", "admin", arr(ref("User"))},
      {"POST", "/api/v1/users", "Add a user (name, password, role)", "admin", ref("User"), 201, "Result"},
      {"DELETE", "/api/v1/users/{id}", "Delete a user; ends their sessions and revokes the API tokens they made", "admin", ref("Result")},
      {"PATCH", "/api/v1/users/{id}", "Change a user's role; a demotion ends their sessions and revokes their tokens above the new role (409 last_admin)", "admin", ref("User"), 200, "UserRole"},
      {"POST", "/api/v1/users/{id}/password", "Set a password (admins: anyone's; others: their own)", "viewer", ref("Result"), 200, "Result"},
      {"GET", "/api/v1/tokens", "List API tokens (never the secrets)", "admin", arr(ref("Token"))},
      {"POST", "/api/v1/tokens", "Create an API token; the secret is returned once", "admin", ref("Token"), 201, "Result"},
      {"DELETE", "/api/v1/tokens/{id}", "Revoke an API token", "admin", ref("Result")},
      {"GET", "/api/v1/system", "System status: version, store, live clients, components (uplink, BLE)", "viewer", ref("System")},
      {"GET", "/api/v1/audit", "Audit log, newest first", "admin", arr(ref("AuditEntry"))},
      // Sensor firmware (the firmware module; tests/unit/http/firmware_api_test.cpp).
      {"POST", "/api/v1/firmware/images", "Upload a signed .vgfw image (application/octet-stream, at most 128 KiB); 422 names the cause (unsigned, wrong signature, other board, truncated, too large), 409 a duplicate or no firmware.signing_public_key_file", "admin", ref("FirmwareImage"), 201, nullptr, "application/json", "firmware"},
      {"GET", "/api/v1/firmware/images", "Stored firmware images", "viewer", arr(ref("FirmwareImage")), 200, nullptr, "application/json", "firmware"},
      {"GET", "/api/v1/firmware/images/{id}", "One firmware image", "viewer", ref("FirmwareImage"), 200, nullptr, "application/json", "firmware"},
      {"DELETE", "/api/v1/firmware/images/{id}", "Delete an image no rollout names (409 otherwise)", "admin", ref("FirmwareImageDeleted"), 200, nullptr, "application/json", "firmware"},
      {"POST", "/api/v1/firmware/rollouts", "Start a rollout of an image to the sensors of its board (tag key=value, percent), in waves of wave_size, stopped when failures reach failure_threshold; 409 for a downgrade unless force", "admin", ref("FirmwareRollout"), 201, "FirmwareRolloutRequest", "application/json", "firmware"},
      {"GET", "/api/v1/firmware/rollouts", "Rollouts, newest first, with per-sensor progress", "viewer", arr(ref("FirmwareRollout")), 200, nullptr, "application/json", "firmware"},
      {"GET", "/api/v1/firmware/rollouts/{id}", "One rollout with per-sensor progress", "viewer", ref("FirmwareRollout"), 200, nullptr, "application/json", "firmware"},
      {"POST", "/api/v1/firmware/rollouts/{id}/stop", "Stop a running rollout (the sensor in transfer finishes first)", "admin", ref("FirmwareRollout"), 200, nullptr, "application/json", "firmware"},
      {"POST", "/api/v1/firmware/rollouts/{id}/resume", "Resume a stopped rollout", "admin", ref("FirmwareRollout"), 200, nullptr, "application/json", "firmware"},
  };
}

json build() {
  json doc = {{"openapi", "3.0.3"},
              {"info",
               {{"title", "vigil gateway API"},
                {"version", "1"},
                {"description",
                 "Local REST API of a vigil gateway. Authenticate with a session cookie (browser; unsafe methods "
                 "need X-CSRF-Token) or Authorization: Bearer TOKEN. Errors are RFC 9457 problem details with a "
                 "stable `code`. Times are epoch milliseconds (ts) or ISO 8601 UTC (time)."},
                {"license", {{"name", "Apache-2.0"}}}}},
              {"servers", json::array({{{"url", "/"}}})},
              {"paths", json::object()}};
  doc["components"]["schemas"] = schemas();
  doc["components"]["securitySchemes"] = {
      {"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
      {"session", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "vigil_session"}}}};
  const json problem = {{"description", "Problem details"},
                        {"content", {{"application/problem+json", {{"schema", ref("Problem")}}}}}};
  for (const auto& op : operations()) {
    std::string method = op.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json o = {{"summary", op.summary}, {"operationId", method + std::string(op.path)}};
    json params = json::array();
    if (std::string(op.path).find("{id}") != std::string::npos)
      params.push_back({{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", integer()}});
    if (std::string(op.path).find("{name}") != std::string::npos)
      params.push_back({{"name", "name"}, {"in", "path"}, {"required", true},
                        {"schema", {{"type", "string"}, {"pattern", "^[A-Za-z0-9._-]{1,64}$"}}}});
    if (!params.empty()) o["parameters"] = params;
    if (op.module) o["x-vigil-module"] = op.module;
    if (*op.role) {
      o["security"] = json::array({{{"bearer", json::array()}}, {{"session", json::array()}}});
      o["x-vigil-role"] = op.role;
    } else {
      o["security"] = json::array();
    }
    if (op.request)
      o["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", ref(op.request)}}}}}};
    if (std::string(op.path) == "/api/v1/firmware/images" && std::string(op.method) == "POST")
      {
      json binary = {{"type", "string"}, {"format", "binary"}, {"maxLength", 131072}};
      json media = json::object();
      media["application/octet-stream"] = {{"schema", binary}};
      o["requestBody"] = {{"required", true}, {"content", media}};
    }
    if (std::string(op.path) == "/api/v1/sensors/import")
      o["requestBody"] = {{"required", true}, {"content", {{"text/csv", {{"schema", str()}}}}}};
    json ok = {{"description", "Success"}, {"content", {{op.media, {{"schema", op.response}}}}}};
    if (std::string(op.path) == "/api/v1/series/{id}" || std::string(op.path) == "/api/v1/alerts")
      ok["content"]["text/csv"] = {{"schema", str()}};
    o["responses"] = {{std::to_string(op.status), ok}, {"default", problem}};
    if (std::string(op.method) == "PUT") o["responses"]["201"] = ok;  // created rather than replaced
    if (*op.role) o["responses"]["401"] = problem;
    // DELETE of a site, asset or position: archive (default) or purge.
    const std::string path = op.path;
    if (std::string(op.method) == "DELETE" &&
        (path == "/api/v1/sites/{id}" || path == "/api/v1/assets/{id}" || path == "/api/v1/positions/{id}")) {
      o["parameters"].push_back({{"name", "mode"}, {"in", "query"}, {"required", false},
                                 {"schema", {{"type", "string"}, {"enum", {"archive", "purge"}}}}});
      o["parameters"].push_back({{"name", "confirm"}, {"in", "query"}, {"required", false}, {"schema", str()},
                                 {"description", "with mode=purge: the row's exact name (422 field confirm otherwise)"}});
    }
    doc["paths"][op.path][method] = o;
  }
  return doc;
}

}  // namespace

const nlohmann::json& openapi_document() {
  static const json kDoc = build();
  return kDoc;
}

}  // namespace vigil::http
