// SPDX-License-Identifier: Apache-2.0
#include "config/key_lines.h"

#include <vector>

namespace vigil::config_detail {

int line_of_offset(const std::string& text, std::size_t offset) {
  int line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n') ++line;
  return line;
}

std::map<std::string, int> key_lines(const std::string& text) {
  struct Frame {
    bool is_object;
    std::string path;
    int index;  // arrays: next element index
  };
  std::map<std::string, int> out;
  std::vector<Frame> stack;
  std::string pending_key;  // key read, waiting for ':'
  bool expect_key = false;
  int line = 1;
  const std::size_t n = text.size();
  auto child_path = [&](const std::string& leaf) {
    if (stack.empty()) return leaf;
    return stack.back().path.empty() ? leaf : stack.back().path + "." + leaf;
  };
  std::string current_value_path;  // path the next value belongs to
  for (std::size_t i = 0; i < n; ++i) {
    char c = text[i];
    if (c == '\n') { ++line; continue; }
    if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i < n && text[i] != '\n') ++i;
      --i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      i += 2;
      while (i + 1 < n && !(text[i] == '*' && text[i + 1] == '/')) {
        if (text[i] == '\n') ++line;
        ++i;
      }
      ++i;
      continue;
    }
    if (c == '"') {
      std::string s;
      ++i;
      while (i < n && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < n) { s += text[i + 1]; i += 2; continue; }
        if (text[i] == '\n') ++line;
        s += text[i++];
      }
      if (expect_key && !stack.empty() && stack.back().is_object) {
        pending_key = s;
        out.emplace(child_path(s), line);
        expect_key = false;
      }
      continue;
    }
    switch (c) {
      case '{':
      case '[': {
        std::string path;
        if (stack.empty()) path = "";
        else if (stack.back().is_object) path = child_path(pending_key);
        else path = child_path("[" + std::to_string(stack.back().index) + "]");
        stack.push_back({c == '{', path, 0});
        expect_key = (c == '{');
        break;
      }
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        if (!stack.empty()) {
          if (stack.back().is_object) expect_key = true;
          else ++stack.back().index;
        }
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace vigil::config_detail
