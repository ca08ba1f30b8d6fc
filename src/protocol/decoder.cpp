// SPDX-License-Identifier: Apache-2.0
#include "protocol/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "protocol/bthome.h"
#include "protocol/bytes.h"

namespace vigil::protocol {
namespace {

constexpr std::size_t kCounterSize = 4;
constexpr std::size_t kMaxPayload = 255;  // an AD structure is at most 254 bytes
constexpr std::size_t kMaxDevices = 4096;  // tracked addresses without a key

Nonce make_nonce(const Mac& mac, std::uint16_t id16, std::uint8_t header, std::uint32_t counter) {
  Nonce n{};
  std::memcpy(n.data(), mac.b.data(), 6);
  n[6] = static_cast<std::uint8_t>(id16 & 0xFF);  // UUID / company id in on-air (LE) order
  n[7] = static_cast<std::uint8_t>(id16 >> 8);
  n[8] = header;
  for (int i = 0; i < 4; ++i) n[9 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return n;
}

using detail::le16;
using detail::le32;

Status::Code code_for(Reject r) {
  switch (r) {
    case Reject::kNoKey: return Status::Code::kNotFound;
    case Reject::kBadMic: return Status::Code::kCorruption;
    case Reject::kReplay:
    case Reject::kDowngrade: return Status::Code::kPermissionDenied;
    case Reject::kDuplicate: return Status::Code::kAlreadyExists;
    default: return Status::Code::kInvalidArgument;
  }
}

Status make_status(Status::Code c, std::string m) {
  switch (c) {
    case Status::Code::kNotFound: return Status::NotFound(std::move(m));
    case Status::Code::kCorruption: return Status::Corruption(std::move(m));
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(std::move(m));
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(std::move(m));
    default: return Status::InvalidArgument(std::move(m));
  }
}

constexpr Reject kAllReasons[] = {Reject::kTruncated, Reject::kBadHeader, Reject::kUnknownFormat,
                                  Reject::kNoKey,     Reject::kBadMic,    Reject::kReplay,
                                  Reject::kDuplicate, Reject::kDowngrade};

}  // namespace

Decoder::Decoder(MetricsRegistry* metrics, DecoderOptions options)
    : metrics_(metrics ? metrics : &MetricsRegistry::global()), options_(options) {
  for (Reject r : kAllReasons)
    reject_counters_[static_cast<int>(r)] =
        metrics_->counter("vigil_protocol_rejected_total", "BLE frames rejected by the decoder, by reason",
                          std::string("reason=\"") + to_string(r) + "\"");
  accepted_counter_ = metrics_->counter("vigil_protocol_frames_total", "BLE frames decoded and accepted");
  reset_counter_ = metrics_->counter("vigil_protocol_counter_resets_total",
                                     "Encrypted counters that went back and were accepted as a sensor reset");
}

Decoder::~Decoder() = default;

void Decoder::set_key(const Mac& address, const Key& key) {
  std::lock_guard lk(mu_);
  devices_[address].key = key;
}

void Decoder::remove_key(const Mac& address) {
  std::lock_guard lk(mu_);
  auto it = devices_.find(address);
  if (it != devices_.end()) it->second.key.reset();
}

void Decoder::reset_counter(const Mac& address) {
  std::lock_guard lk(mu_);
  auto it = devices_.find(address);
  if (it != devices_.end()) {
    it->second.last_counter.reset();
    it->second.last_frame.clear();
  }
}

std::optional<DeviceState> Decoder::device(const Mac& address) const {
  std::lock_guard lk(mu_);
  auto it = devices_.find(address);
  if (it == devices_.end()) return std::nullopt;
  return DeviceState{it->second.key.has_value(), it->second.last_counter, it->second.accepted,
                     it->second.rejected};
}

Status Decoder::reject(Reject r, const std::string& detail, Device* dev, Reject* why) {
  reject_counters_[static_cast<int>(r)]->inc();
  if (dev) ++dev->rejected;
  if (why) *why = r;
  return make_status(code_for(r), std::string(to_string(r)) + ": " + detail);
}

Status Decoder::accept_locked(Device& dev, Bytes frame, std::optional<std::uint32_t> counter, DecodedFrame& f,
                              Reject* why) {
  if (counter) {
    if (dev.last_counter && *counter <= *dev.last_counter) {
      if (*counter == *dev.last_counter)
        return reject(Reject::kDuplicate, "counter " + std::to_string(*counter) + " seen already", &dev, why);
      if (*counter < options_.allow_counter_reset_below && *dev.last_counter >= options_.allow_counter_reset_below) {
        f.counter_reset = true;
        reset_counter_->inc();
      } else {
        return reject(Reject::kReplay,
                      "counter " + std::to_string(*counter) + " not after " + std::to_string(*dev.last_counter),
                      &dev, why);
      }
    }
    dev.last_counter = *counter;
  } else {
    if (dev.last_frame.size() == frame.size() && std::equal(frame.begin(), frame.end(), dev.last_frame.begin()))
      return reject(Reject::kDuplicate, "same frame as the previous one", &dev, why);
    dev.last_frame.assign(frame.begin(), frame.end());
  }
  ++dev.accepted;
  accepted_counter_->inc();
  return Status::Ok();
}

Result<DecodedFrame> Decoder::decode_bthome_locked(Bytes data, const Mac& address, TimestampMs now, Reject* why) {
  if (data.empty()) return reject(Reject::kTruncated, "empty BTHome service data", nullptr, why);
  if (data.size() > kMaxPayload) return reject(Reject::kTruncated, "BTHome frame too long", nullptr, why);
  const std::uint8_t info = data[0];
  if ((info & bthome::kVersionMask) != bthome::kVersion2)
    return reject(Reject::kBadHeader, "BTHome version " + std::to_string(info >> 5) + " (want 2)", nullptr, why);

  DecodedFrame f;
  f.format = Format::kBthome;
  f.address = address;
  f.received_at = now;
  f.encrypted = info & bthome::kEncryptedBit;
  f.trigger_based = info & bthome::kTriggerBit;

  auto it = devices_.find(address);
  Device* dev = it == devices_.end() ? nullptr : &it->second;
  std::array<std::uint8_t, kMaxPayload> plain{};
  Bytes objects = data.subspan(1);
  if (f.encrypted) {
    if (data.size() < 1 + kCounterSize + kMicSize)
      return reject(Reject::kTruncated, "encrypted BTHome frame shorter than counter + MIC", dev, why);
    if (!dev || !dev->key) return reject(Reject::kNoKey, "no key for " + address.to_string(), dev, why);
    const std::size_t ct_len = data.size() - 1 - kCounterSize - kMicSize;
    const std::uint32_t counter = le32(&data[1 + ct_len]);
    Nonce nonce = make_nonce(address, kBthomeUuid, info, counter);
    if (!cipher_.decrypt(*dev->key, nonce, data.subspan(1, ct_len), data.subspan(1 + ct_len + kCounterSize, kMicSize),
                         std::span<std::uint8_t>(plain.data(), ct_len)))
      return reject(Reject::kBadMic, "MIC check failed (wrong key or address, or tampered)", dev, why);
    f.counter = counter;
    objects = Bytes(plain.data(), ct_len);
  } else if (dev && dev->key) {
    return reject(Reject::kDowngrade, "plain frame from " + address.to_string() + ", which has a key", dev, why);
  }

  Status st = bthome::parse_objects(objects, f);
  if (!st.ok()) return reject(Reject::kTruncated, st.message(), dev, why);

  if (!dev) {
    // Plain frames from unknown addresses: keep dedupe state for a bounded
    // number of devices only (random addresses must not grow memory).
    if (devices_.size() >= kMaxDevices) {
      accepted_counter_->inc();
      return f;
    }
    dev = &devices_[address];
  }
  VIGIL_RETURN_IF_ERROR(accept_locked(*dev, data, f.counter, f, why));
  return f;
}

Result<DecodedFrame> Decoder::decode_vigil_locked(Bytes data, const Mac& address, TimestampMs now, Reject* why) {
  // data: magic | control | payload [| counter | MIC]
  if (data.size() < 2) return reject(Reject::kTruncated, "vigil frame shorter than its header", nullptr, why);
  if (data[0] != kVigilMagic) return reject(Reject::kUnknownFormat, "manufacturer data without vigil magic", nullptr, why);
  const std::uint8_t ctrl = data[1];
  if ((ctrl >> 4) != kVigilFrameVersion || (ctrl & 0x0E) != 0)
    return reject(Reject::kBadHeader, "vigil frame version " + std::to_string(ctrl >> 4) + " (want 1)", nullptr, why);
  const bool encrypted = ctrl & 0x01;
  const std::size_t want = 2 + vigil_frame::kPayloadSize + (encrypted ? kCounterSize + kMicSize : 0);
  auto it = devices_.find(address);
  Device* dev = it == devices_.end() ? nullptr : &it->second;
  if (data.size() < want)
    return reject(Reject::kTruncated, "vigil frame has " + std::to_string(data.size()) + " bytes, needs " +
                                          std::to_string(want), dev, why);
  if (data.size() > want) return reject(Reject::kBadHeader, "vigil frame longer than version 1 allows", dev, why);

  DecodedFrame f;
  f.format = Format::kVigil;
  f.address = address;
  f.received_at = now;
  f.encrypted = encrypted;
  std::array<std::uint8_t, vigil_frame::kPayloadSize> plain{};
  if (encrypted) {
    if (!dev || !dev->key) return reject(Reject::kNoKey, "no key for " + address.to_string(), dev, why);
    const std::uint32_t counter = le32(&data[2 + vigil_frame::kPayloadSize]);
    Nonce nonce = make_nonce(address, kVigilCompanyId, ctrl, counter);
    if (!cipher_.decrypt(*dev->key, nonce, data.subspan(2, vigil_frame::kPayloadSize),
                         data.subspan(2 + vigil_frame::kPayloadSize + kCounterSize, kMicSize), plain))
      return reject(Reject::kBadMic, "MIC check failed (wrong key or address, or tampered)", dev, why);
    f.counter = counter;
  } else {
    if (dev && dev->key)
      return reject(Reject::kDowngrade, "plain frame from " + address.to_string() + ", which has a key", dev, why);
    std::copy_n(data.begin() + 2, vigil_frame::kPayloadSize, plain.begin());
  }
  auto feat = vigil_frame::parse_payload(plain);
  if (!feat) return reject(Reject::kBadHeader, "vigil frame axis out of range", dev, why);
  static constexpr char kAxisChar[] = {'t', 'x', 'y', 'z'};
  static constexpr const char* kSuffix[] = {"", ".x", ".y", ".z"};
  f.measurement_seq = feat->seq;
  f.axis = kAxisChar[feat->axis];
  const std::string sfx = kSuffix[feat->axis];
  f.values = {{"accel_rms_g" + sfx, feat->accel_rms_g, 0},
              {"velocity_rms_mm_s" + sfx, feat->velocity_rms_mm_s, 0},
              {"accel_peak_g" + sfx, feat->accel_peak_g, 0},
              {"crest_factor" + sfx, feat->crest_factor, 0},
              {"kurtosis" + sfx, feat->kurtosis, 0}};

  if (!dev) {
    // Plain frames from unknown addresses: keep dedupe state for a bounded
    // number of devices only (random addresses must not grow memory).
    if (devices_.size() >= kMaxDevices) {
      accepted_counter_->inc();
      return f;
    }
    dev = &devices_[address];
  }
  VIGIL_RETURN_IF_ERROR(accept_locked(*dev, data, f.counter, f, why));
  return f;
}

Result<DecodedFrame> Decoder::decode_service_data(std::uint16_t uuid16, Bytes data, const Mac& address,
                                                  TimestampMs now, Reject* why) {
  std::lock_guard lk(mu_);
  if (uuid16 != kBthomeUuid)
    return reject(Reject::kUnknownFormat, "service data UUID is not BTHome (0xFCD2)", nullptr, why);
  return decode_bthome_locked(data, address, now, why);
}

Result<DecodedFrame> Decoder::decode_manufacturer_data(std::uint16_t company_id, Bytes data, const Mac& address,
                                                       TimestampMs now, Reject* why) {
  std::lock_guard lk(mu_);
  if (company_id != kVigilCompanyId)
    return reject(Reject::kUnknownFormat, "manufacturer data is not a vigil frame", nullptr, why);
  return decode_vigil_locked(data, address, now, why);
}

Result<DecodedFrame> Decoder::decode_advertising_data(Bytes ad, const Mac& address, TimestampMs now, Reject* why) {
  std::size_t i = 0;
  while (i < ad.size()) {
    const std::size_t len = ad[i];
    if (len == 0) break;  // zero padding ends the significant part
    if (i + 1 + len > ad.size()) {
      std::lock_guard lk(mu_);
      return reject(Reject::kTruncated, "AD structure runs past the end", nullptr, why);
    }
    const std::uint8_t type = ad[i + 1];
    Bytes body = ad.subspan(i + 2, len - 1);
    if (type == 0x16 && body.size() >= 2 && le16(body.data()) == kBthomeUuid)
      return decode_service_data(kBthomeUuid, body.subspan(2), address, now, why);
    if (type == 0xFF && body.size() >= 3 && le16(body.data()) == kVigilCompanyId && body[2] == kVigilMagic)
      return decode_manufacturer_data(kVigilCompanyId, body.subspan(2), address, now, why);
    i += 1 + len;
  }
  std::lock_guard lk(mu_);
  return reject(Reject::kUnknownFormat, "no BTHome or vigil structure in the advertisement", nullptr, why);
}

Result<DecodedFrame> Decoder::decode_any(Bytes data, const Mac& address, TimestampMs now, Reject* why) {
  if (data.size() >= 2 && le16(data.data()) == kBthomeUuid)
    return decode_service_data(kBthomeUuid, data.subspan(2), address, now, why);
  if (data.size() >= 3 && le16(data.data()) == kVigilCompanyId && data[2] == kVigilMagic)
    return decode_manufacturer_data(kVigilCompanyId, data.subspan(2), address, now, why);
  // AD structures whose lengths tile the input exactly, else BTHome service
  // data without the UUID (starts with a v2 device-info byte).
  std::size_t i = 0;
  while (i < data.size() && data[i] != 0) i += 1 + data[i];
  const bool tiles = i == data.size() || (i < data.size() && data[i] == 0);
  if (!tiles && !data.empty() && (data[0] & bthome::kVersionMask) == bthome::kVersion2)
    return decode_service_data(kBthomeUuid, data, address, now, why);
  return decode_advertising_data(data, address, now, why);
}

namespace vigil_frame {

std::optional<Features> parse_payload(Bytes p) {
  if (p.size() != kPayloadSize || p[2] > kZ) return std::nullopt;
  Features f;
  f.seq = le16(&p[0]);
  f.axis = p[2];
  f.accel_rms_g = le16(&p[3]) / 1000.0;
  f.velocity_rms_mm_s = le16(&p[5]) / 100.0;
  f.accel_peak_g = le16(&p[7]) / 1000.0;
  f.crest_factor = le16(&p[9]) / 100.0;
  f.kurtosis = le16(&p[11]) / 100.0;
  return f;
}

std::array<std::uint8_t, kPayloadSize> encode_payload(const Features& f) {
  auto q = [](double v, double scale) -> std::uint16_t {
    double x = std::round(v * scale);
    if (!(x >= 0)) return 0;  // also NaN
    return x > 65535 ? 65535 : static_cast<std::uint16_t>(x);
  };
  std::array<std::uint8_t, kPayloadSize> p{};
  auto put = [&p](std::size_t at, std::uint16_t v) {
    p[at] = static_cast<std::uint8_t>(v);
    p[at + 1] = static_cast<std::uint8_t>(v >> 8);
  };
  put(0, f.seq);
  p[2] = f.axis;
  put(3, q(f.accel_rms_g, 1000));
  put(5, q(f.velocity_rms_mm_s, 100));
  put(7, q(f.accel_peak_g, 1000));
  put(9, q(f.crest_factor, 100));
  put(11, q(f.kurtosis, 100));
  return p;
}

}  // namespace vigil_frame

namespace {
std::vector<std::uint8_t> seal(const Key& key, const Nonce& nonce, Bytes pt, std::vector<std::uint8_t> out,
                               std::uint32_t counter) {
  const std::size_t at = out.size();
  out.resize(at + pt.size() + kCounterSize + kMicSize);
  std::array<std::uint8_t, kMicSize> mic{};
  CcmCipher c;
  c.encrypt(key, nonce, pt, std::span<std::uint8_t>(out.data() + at, pt.size()), mic);
  for (int i = 0; i < 4; ++i) out[at + pt.size() + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  std::copy(mic.begin(), mic.end(), out.begin() + static_cast<std::ptrdiff_t>(at + pt.size() + kCounterSize));
  return out;
}
}  // namespace

std::vector<std::uint8_t> encrypt_bthome(const Key& key, const Mac& mac, std::uint32_t counter, Bytes objects,
                                         bool trigger_based) {
  const std::uint8_t info = static_cast<std::uint8_t>(bthome::kVersion2 | bthome::kEncryptedBit |
                                                      (trigger_based ? bthome::kTriggerBit : 0));
  return seal(key, make_nonce(mac, kBthomeUuid, info, counter), objects, {0xD2, 0xFC, info}, counter);
}

std::vector<std::uint8_t> encrypt_vigil(const Key& key, const Mac& mac, std::uint32_t counter, Bytes payload) {
  const std::uint8_t ctrl = static_cast<std::uint8_t>(kVigilFrameVersion << 4 | 0x01);
  return seal(key, make_nonce(mac, kVigilCompanyId, ctrl, counter), payload, {0xFF, 0xFF, kVigilMagic, ctrl},
              counter);
}

}  // namespace vigil::protocol
