// SPDX-License-Identifier: Apache-2.0
#include "auth/cli.h"

#include <istream>
#include <ostream>

#include "auth/auth.h"

namespace vigil::auth {
namespace {

Result<std::unique_ptr<Store>> open_store(StoreOptions so) {
  so.reader_connections = 1;
  return Store::open(so);
}

}  // namespace

int user_add_command(const StoreOptions& store_opts, const std::string& name, const std::string& role_name,
                     std::istream& in, std::ostream& out, std::ostream& err) {
  auto role = role_from_string(role_name);
  if (!role) {
    err << "vigil user add: --role must be admin, technician or viewer\n";
    return 2;
  }
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  auto store = open_store(store_opts);
  if (!store) {
    err << "vigil user add: " << store.status().message() << "\n";
    return 1;
  }
  auto svc = AuthService::create(**store);
  if (!svc) {
    err << "vigil user add: " << svc.status().message() << "\n";
    return 1;
  }
  auto u = (*svc)->add_user(name, *role, password, "cli");
  if (!u) {
    err << "vigil user add: " << u.status().message() << "\n";
    return u.status().code() == Status::Code::kInvalidArgument || u.status().code() == Status::Code::kAlreadyExists ? 2 : 1;
  }
  out << "user " << u->name << " added (role " << to_string(u->role) << ", id " << u->id << ")\n";
  return 0;
}

int token_create_command(const StoreOptions& store_opts, const std::string& role_name, const std::string& name,
                         std::ostream& out, std::ostream& err) {
  auto role = role_from_string(role_name);
  if (!role) {
    err << "vigil token create: --role must be admin, technician or viewer\n";
    return 2;
  }
  auto store = open_store(store_opts);
  if (!store) {
    err << "vigil token create: " << store.status().message() << "\n";
    return 1;
  }
  auto svc = AuthService::create(**store);
  if (!svc) {
    err << "vigil token create: " << svc.status().message() << "\n";
    return 1;
  }
  auto t = (*svc)->create_token(name.empty() ? "cli" : name, *role, "cli");
  if (!t) {
    err << "vigil token create: " << t.status().message() << "\n";
    return 1;
  }
  out << t->second << "\n";
  return 0;
}

}  // namespace vigil::auth
