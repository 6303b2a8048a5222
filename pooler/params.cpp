// Tracked session parameters and the SET statement that brings a server in line with a client.
#include "pooler/params.hpp"

#include <strings.h>

#include <cstring>

namespace rpool {

const std::array<const char*, kTrackedParams> kTrackedParamNames = {
    "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "standard_conforming_strings", "application_name"};

int tracked_param_index(std::string_view name) {
  for (int i = 0; i < kTrackedParams; ++i) {
    const char* t = kTrackedParamNames[i];
    if (name.size() == std::strlen(t) && strncasecmp(name.data(), t, name.size()) == 0) return i;
  }
  return -1;
}

bool ParamSet::set(std::string_view name, std::string_view value) {
  int i = tracked_param_index(name);
  if (i < 0) return false;
  values_[i] = std::string(value);
  known_[i] = true;
  return true;
}

std::string ParamSet::set_query_for(const ParamSet& wanted) const {
  std::string q;
  for (int i = 0; i < kTrackedParams; ++i) {
    if (!wanted.known_[i]) continue;
    if (known_[i] && values_[i] == wanted.values_[i]) continue;
    q += "SET ";
    q += kTrackedParamNames[i];
    q += "='";
    for (char c : wanted.values_[i]) {
      if (c == '\'') q += '\'';  // SQL quoting: double the quote
      q += c;
    }
    q += "';";
  }
  return q;
}

bool parse_parameter_status(const char* body, size_t n, std::string* name, std::string* value) {
  const char* z1 = static_cast<const char*>(std::memchr(body, 0, n));
  if (!z1) return false;
  size_t rest = n - static_cast<size_t>(z1 + 1 - body);
  const char* z2 = static_cast<const char*>(std::memchr(z1 + 1, 0, rest));
  if (!z2) return false;
  name->assign(body, z1);
  value->assign(z1 + 1, z2);
  return true;
}

}  // namespace rpool
