// SPDX-License-Identifier: Apache-2.0
#include "vigil/metrics_registry.h"

#include <cmath>
#include <sstream>

namespace vigil {

Counter* MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const std::string& labels) {
  std::lock_guard lk(mu_);
  auto& fam = families_[name];
  if (fam.type.empty()) {
    fam.type = "counter";
    fam.help = help;
  }
  auto& slot = fam.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

void MetricsRegistry::gauge(const std::string& name, const std::string& help,
                            std::function<double()> fn) {
  std::lock_guard lk(mu_);
  auto& fam = families_[name];
  fam.type = "gauge";
  fam.help = help;
  fam.gauge = std::move(fn);
}

std::string MetricsRegistry::render_prometheus() const {
  std::lock_guard lk(mu_);
  std::ostringstream out;
  for (const auto& [name, fam] : families_) {
    out << "# HELP " << name << ' ' << fam.help << '\n';
    out << "# TYPE " << name << ' ' << fam.type << '\n';
    if (fam.type == "gauge") {
      double v = fam.gauge ? fam.gauge() : 0.0;
      out << name << ' ' << (std::isfinite(v) ? v : 0.0) << '\n';
      continue;
    }
    for (const auto& [labels, c] : fam.counters) {
      out << name;
      if (!labels.empty()) out << '{' << labels << '}';
      out << ' ' << c->value() << '\n';
    }
  }
  return out.str();
}

std::uint64_t MetricsRegistry::counter_value(const std::string& name,
                                             const std::string& labels) const {
  std::lock_guard lk(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto c = f->second.counters.find(labels);
  return c == f->second.counters.end() ? 0 : c->second->value();
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry r;
  return r;
}

}  // namespace vigil
