// The shared stats block: an anonymous shared mapping and a sequence lock per worker slot.
#include "pooler/shared_stats.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "pooler/log.hpp"

namespace rpool {

SharedBlock* shared_block_create(int n_workers) {
  void* p = mmap(nullptr, sizeof(SharedBlock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap of the shared stats block failed: %s", strerror(errno));
  auto* block = static_cast<SharedBlock*>(p);  // zero-filled by the kernel
  block->n_workers = n_workers;
  block->rolling_restart_resets.store(-1);
  return block;
}

void slot_begin_write(WorkerSlot& slot) {
  slot.seq.fetch_add(1, std::memory_order_acq_rel);
  std::atomic_thread_fence(std::memory_order_release);
}

void slot_end_write(WorkerSlot& slot) {
  std::atomic_thread_fence(std::memory_order_release);
  slot.seq.fetch_add(1, std::memory_order_acq_rel);
}

bool slot_read(const WorkerSlot& slot, WorkerSlot& out) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    uint32_t before = slot.seq.load(std::memory_order_acquire);
    if (before == 0) return false;
    if (before & 1) continue;
    // Copy only the header and the used rows: the full slot is over a megabyte.
    std::memcpy(reinterpret_cast<char*>(&out) + sizeof(out.seq), reinterpret_cast<const char*>(&slot) + sizeof(slot.seq),
                offsetof(WorkerSlot, pools) - sizeof(slot.seq));
    int np = out.n_pools < 0 ? 0 : (out.n_pools > kMaxPoolRows ? kMaxPoolRows : out.n_pools);
    int nc = out.n_conns < 0 ? 0 : (out.n_conns > kMaxConnRows ? kMaxConnRows : out.n_conns);
    std::memcpy(out.pools, slot.pools, sizeof(PoolRow) * np);
    std::memcpy(out.conns, slot.conns, sizeof(ConnRow) * nc);
    out.n_pools = np;
    out.n_conns = nc;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.seq.load(std::memory_order_acquire) == before) return true;
  }
  return false;
}

void copy_text(char* dst, size_t cap, const std::string_view& src) {
  size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

}  // namespace rpool
