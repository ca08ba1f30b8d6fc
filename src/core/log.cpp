// SPDX-License-Identifier: Apache-2.0
#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

namespace vigil::log {
namespace {

// "%*" → "<3>" etc. (sd-daemon.h priority prefixes).
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr const char* kPrio[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = kPrio[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

}  // namespace

Status setup(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + level + "'");
  }
  static bool installed = false;
  if (!installed) {
    auto logger = std::make_shared<spdlog::logger>(
        "vigil", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto fmt = std::make_unique<spdlog::pattern_formatter>();
    if (std::getenv("JOURNAL_STREAM") != nullptr) {
      fmt->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
    } else {
      fmt->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
    logger->set_formatter(std::move(fmt));
    spdlog::set_default_logger(logger);
    installed = true;
  }
  spdlog::set_level(lvl);
  spdlog::flush_on(spdlog::level::warn);
  return Status::Ok();
}

}  // namespace vigil::log
