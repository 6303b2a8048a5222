// One SO_REUSEPORT group's socket array: membership and listener selection (net/core/sock_reuseport.c).
#include "models/reuseport.hpp"

#include <algorithm>

namespace models {

namespace {

// The kernel grows the array up to U16_MAX slots, live and closed together.
constexpr std::size_t kMaxSocks = 0xffff;

std::optional<std::size_t> index_of(const std::vector<int>& v, int id) {
  const auto it = std::find(v.begin(), v.end(), id);
  if (it == v.end()) return std::nullopt;
  return static_cast<std::size_t>(it - v.begin());
}

// The kernel's detach: whatever is last fills the hole, so no other member moves.
void remove_by_swap_with_last(std::vector<int>& v, std::size_t i) {
  v[i] = v.back();
  v.pop_back();
}

}  // namespace

bool ReuseportGroup::is_member(int id) const { return index_of(live_, id).has_value(); }

bool ReuseportGroup::is_parked(int id) const { return index_of(closed_, id).has_value(); }

void ReuseportGroup::listen(int id) {
  RPSIM_ASSERT(id >= 0, "ReuseportGroup::listen: socket ids are non-negative");
  RPSIM_ASSERT(!is_member(id), "ReuseportGroup::listen: socket is already listening in this group");
  RPSIM_ASSERT(!is_parked(id), "ReuseportGroup::listen: a parked socket comes back through relisten()");
  RPSIM_ASSERT(live_.size() + closed_.size() < kMaxSocks, "ReuseportGroup::listen: group is full (U16_MAX)");
  live_.push_back(id);
}

void ReuseportGroup::close(int id, bool migrate_enabled) {
  const auto i = index_of(live_, id);
  RPSIM_ASSERT(i.has_value(), "ReuseportGroup::close: socket is not a live member of this group");
  remove_by_swap_with_last(live_, *i);
  if (migrate_enabled) closed_.push_back(id);
}

void ReuseportGroup::relisten(int id) {
  const auto i = index_of(closed_, id);
  RPSIM_ASSERT(i.has_value(),
               "ReuseportGroup::relisten: socket is not parked in this group's closed section");
  remove_by_swap_with_last(closed_, *i);
  live_.push_back(id);
}

void ReuseportGroup::release(int id) {
  const auto i = index_of(closed_, id);
  RPSIM_ASSERT(i.has_value(), "ReuseportGroup::release: socket is not parked in this group's closed section");
  remove_by_swap_with_last(closed_, *i);
}

std::optional<int> ReuseportGroup::select_by_hash(std::uint32_t hash) const {
  if (live_.empty()) return std::nullopt;
  return live_[reciprocal_scale(hash, static_cast<std::uint32_t>(live_.size()))];
}

std::optional<int> ReuseportGroup::select_incoming_cpu(std::uint32_t hash, int current_cpu,
                                                       std::span<const int> incoming_cpu_of) const {
  return select_incoming_cpu(hash, current_cpu, [incoming_cpu_of](int id) {
    RPSIM_ASSERT(static_cast<std::size_t>(id) < incoming_cpu_of.size(),
                 "ReuseportGroup::select_incoming_cpu: no incoming cpu given for a member's socket id");
    return incoming_cpu_of[static_cast<std::size_t>(id)];
  });
}

std::optional<int> ReuseportGroup::select_migration_target(std::uint32_t child_hash) const {
  // The kernel reuses the SYN path's selection over the live sockets; the closed section is out of reach.
  return select_by_hash(child_hash);
}

}  // namespace models
