// SPDX-License-Identifier: Apache-2.0
#include "ble/dfu_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <thread>

namespace vigil::ble {

namespace {

using protocol::DfuError;
using protocol::DfuState;
using protocol::DfuStatus;

// A connection to one device with its characteristics resolved; disconnects
// when it goes out of scope.
class Link {
 public:
  Link(BluezBus& bus, std::string path, const DfuClientOptions& o) : bus_(bus), path_(std::move(path)), o_(o) {}
  ~Link() {
    if (!connected_) return;
    auto s = bus_.disconnect(path_, o_.gatt_timeout);
    if (!s.ok()) spdlog::debug("ble: Disconnect {}: {}", path_, s.message());
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Connects and waits (polling every 250 ms up to resolve_wait) for `needed`.
  Status open(std::initializer_list<const char*> needed) {
    auto cs = bus_.connect(path_, o_.connect_timeout);
    if (!cs.ok() && cs.code() != Status::Code::kAlreadyExists) return cs.Annotate("Connect");
    connected_ = true;
    constexpr auto kPoll = std::chrono::milliseconds(250);
    const auto polls = std::max<std::int64_t>(1, o_.resolve_wait / kPoll);
    for (std::int64_t i = 0; i < polls; ++i) {
      auto objs = bus_.get_managed_objects(o_.gatt_timeout);
      if (!objs) return objs.status();
      for (auto& [cp, c] : objs->characteristics)
        if (cp.rfind(path_ + "/", 0) == 0) chars_[c.uuid] = cp;
      bool all = true;
      for (auto* u : needed) all = all && chars_.count(u);
      if (all) return Status::Ok();
      if (i + 1 < polls) std::this_thread::sleep_for(kPoll);
    }
    return Status::NotFound("the sensor at " + path_ + " has no firmware-update/configuration service");
  }
  Result<ByteVec> read(const char* uuid) { return bus_.read_value(chars_.at(uuid), o_.gatt_timeout); }
  Status write(const char* uuid, const std::vector<std::uint8_t>& v) {
    return bus_.write_value(chars_.at(uuid), v, o_.gatt_timeout);
  }
  Result<DfuStatus> status() {
    auto b = read(protocol::kDfuStatusCharUuid);
    if (!b) return b.status().Annotate("read DFU status");
    return protocol::parse_dfu_status(*b);
  }

 private:
  BluezBus& bus_;
  std::string path_;
  const DfuClientOptions& o_;
  bool connected_ = false;
  std::map<std::string, std::string> chars_;  // uuid → characteristic path
};

Status refused(const DfuStatus& s, const std::string& when) {
  return Status::FailedPrecondition(protocol::dfu_error_name(s.error) + ": the sensor refused the image " + when +
                                    " (state " + protocol::dfu_state_name(s.state) + ")");
}

}  // namespace

Result<DfuStatus> dfu_send(BluezBus& bus, const std::string& path, const DfuImageRef& img, const DfuClientOptions& o,
                           const DfuProgressFn& progress) {
  if (!img.payload || img.header.size() != protocol::kImageHeaderSize || img.tag.size() != protocol::kDfuTagSize)
    return Status::InvalidArgument("dfu_send: a 64-byte header, a payload and a 16-byte tag are required");
  const auto& payload = *img.payload;
  const std::size_t chunk = std::clamp<std::size_t>(o.chunk, 1, protocol::kDfuMaxData);
  Link link(bus, path, o);
  VIGIL_RETURN_IF_ERROR(link.open({protocol::kDfuControlCharUuid, protocol::kDfuDataCharUuid,
                                   protocol::kDfuStatusCharUuid}));
  // A refusal comes back as an ATT error on the control point; the sensor's
  // Status then names the reason (downgrade, wrong_board, …).
  auto control = [&](const std::vector<std::uint8_t>& v, const char* what) -> Status {
    Status w = link.write(protocol::kDfuControlCharUuid, v);
    if (w.ok()) return w;
    auto after = link.status();
    if (after && after->state == DfuState::kError) return refused(*after, std::string("at ") + what);
    return w.Annotate(std::string("DFU ") + what);
  };
  VIGIL_RETURN_IF_ERROR(control(protocol::dfu_start(img.force, img.header, img.tag), "START"));
  auto st = link.status();
  if (!st) return st.status();
  if (st->state == DfuState::kError) return refused(*st, "at START");
  std::size_t off = std::min<std::size_t>(st->received, payload.size());
  if (off) spdlog::info("ble: DFU {}: resuming at byte {} of {}", path, off, payload.size());
  int resyncs = 0;
  std::size_t since_status = 0;
  while (off < payload.size()) {
    const std::size_t n = std::min(chunk, payload.size() - off);
    VIGIL_RETURN_IF_ERROR(link.write(protocol::kDfuDataCharUuid,
                                     protocol::dfu_data(static_cast<std::uint32_t>(off),
                                                        protocol::Bytes(payload.data() + off, n)))
                              .Annotate("DFU data at " + std::to_string(off)));
    off += n;
    if (++since_status < o.status_every && off < payload.size()) continue;
    since_status = 0;
    st = link.status();
    if (!st) return st.status();
    if (st->error == static_cast<std::uint8_t>(DfuError::kBadOffset) || st->received != off) {
      if (++resyncs > o.max_resyncs)
        return Status::Unavailable("DFU: the sensor lost its place " + std::to_string(resyncs) + " times");
      off = std::min<std::size_t>(st->received, payload.size());  // write-without-response lost some
      continue;
    }
    if (st->state == DfuState::kError) return refused(*st, "during the transfer");
    if (progress) progress(off, payload.size());
  }
  VIGIL_RETURN_IF_ERROR(control(protocol::dfu_op(protocol::DfuOp::kVerify), "VERIFY"));
  st = link.status();
  if (!st) return st.status();
  if (st->state != DfuState::kVerified) return refused(*st, "at VERIFY");
  // The sensor reboots on ACTIVATE; the link may drop before the answer.
  auto a = link.write(protocol::kDfuControlCharUuid, protocol::dfu_op(protocol::DfuOp::kActivate));
  if (!a.ok()) spdlog::debug("ble: DFU {}: ACTIVATE: {} (the sensor reboots)", path, a.message());
  return *st;
}

Result<DfuStatus> dfu_status(BluezBus& bus, const std::string& path, const DfuClientOptions& o) {
  Link link(bus, path, o);
  VIGIL_RETURN_IF_ERROR(link.open({protocol::kDfuStatusCharUuid}));
  return link.status();
}

Result<protocol::ReportedConfig> config_apply(BluezBus& bus, const std::string& path,
                                              const protocol::SensorConfig& desired, const DfuClientOptions& o) {
  VIGIL_RETURN_IF_ERROR(protocol::validate_sensor_config(desired));
  Link link(bus, path, o);
  VIGIL_RETURN_IF_ERROR(link.open({protocol::kConfigDesiredCharUuid, protocol::kConfigReportedCharUuid}));
  VIGIL_RETURN_IF_ERROR(link.write(protocol::kConfigDesiredCharUuid, protocol::encode_desired_config(desired))
                            .Annotate("write desired configuration"));
  auto b = link.read(protocol::kConfigReportedCharUuid);
  if (!b) return b.status().Annotate("read reported configuration");
  return protocol::parse_reported_config(*b);
}

}  // namespace vigil::ble
