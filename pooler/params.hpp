// Session parameters kept equal between a client and whichever server it is linked to (PgBouncer's varcache).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rpool {

// The parameters Postgres reports with ParameterStatus that a client may set at startup and expects to keep.
constexpr int kTrackedParams = 6;
extern const std::array<const char*, kTrackedParams> kTrackedParamNames;
int tracked_param_index(std::string_view name);  // -1 when not tracked; case-insensitive

class ParamSet {
 public:
  // Returns false when the name is not tracked.
  bool set(std::string_view name, std::string_view value);
  const std::string& get(int index) const { return values_[index]; }
  bool has(int index) const { return known_[index]; }

  // "SET a='x';SET b='y';" for every parameter whose wanted value differs from this server's; "" if none.
  std::string set_query_for(const ParamSet& wanted) const;

 private:
  std::array<std::string, kTrackedParams> values_;
  std::array<bool, kTrackedParams> known_{};
};

// ParameterStatus payload (name, value) from a message body; false when malformed.
bool parse_parameter_status(const char* body, size_t n, std::string* name, std::string* value);

}  // namespace rpool
