// The shared-memory block where every worker publishes its figures, so any worker's admin console shows all.
#pragma once

#include <atomic>
#include <cstddef>
#include <string_view>
#include <cstdint>
#include <vector>

namespace rpool {

constexpr int kMaxWorkers = 64;
constexpr int kMaxPoolRows = 128;
constexpr int kMaxConnRows = 2048;

struct PoolRow {
  char database[64];
  char user[64];
  char pool_mode[16];
  int32_t cl_active, cl_waiting, sv_active, sv_idle, sv_used, sv_login;
  int64_t maxwait_us;
  uint64_t xact_count, query_count, server_assignments, bytes_received, bytes_sent;
  uint64_t xact_time_us, query_time_us, wait_time_us, client_logins;
  uint64_t avg_xact_count, avg_query_count, avg_recv, avg_sent, avg_xact_time, avg_query_time, avg_wait_time;
};

struct ConnRow {
  char type;  // 'C' client, 'S' server
  char user[64];
  char database[64];
  char state[24];
  char addr[48];
  int32_t port;
  char local_addr[48];
  int32_t local_port;
  int64_t connect_time;  // unix seconds
  int64_t request_time;
  int64_t wait_us;
  uint64_t ptr;
  uint64_t id;  // per-worker serial, as PgBouncer's id column
  uint64_t link;
  int32_t remote_pid;
  char application_name[64];
};

struct WorkerSlot {
  std::atomic<uint32_t> seq;  // odd while the owner writes
  int32_t pid;
  int32_t cpu;
  int64_t started;  // unix seconds
  int32_t clients, servers, waiting;
  uint64_t xact_count, query_count, client_logins, restarts;
  uint64_t accepted;               // connections accepted since the worker started
  uint64_t cpu_user_us, cpu_sys_us;  // getrusage of the worker process
  uint64_t command_seen;  // the last mailbox command applied
  int32_t pause_done;     // paused and no server connection left
  int32_t n_pools;
  int32_t n_conns;
  PoolRow pools[kMaxPoolRows];
  ConnRow conns[kMaxConnRows];
};

struct SharedBlock {
  int32_t n_workers;
  std::atomic<int64_t> rolling_restart_resets;  // -1: none yet or the kernel counter is missing
  std::atomic<uint64_t> rolling_restarts;
  // The admin command mailbox (PAUSE, RESUME, RECONNECT, KILL): written by the worker that got the command,
  // applied by every worker when signalled (SIGUSR1) or when it starts. The last command wins.
  std::atomic<uint64_t> command_seq;
  std::atomic<int32_t> command_kind;
  char command_db[64];
  WorkerSlot workers[kMaxWorkers];
};

// Maps the block (MAP_SHARED, anonymous) before fork so all workers see it.
SharedBlock* shared_block_create(int n_workers);

// The writer's side: begin/end bracket one snapshot of a worker's own slot.
void slot_begin_write(WorkerSlot& slot);
void slot_end_write(WorkerSlot& slot);
// The reader's side: a consistent copy of one slot (retries while the owner writes). False if never written.
bool slot_read(const WorkerSlot& slot, WorkerSlot& out);

void copy_text(char* dst, size_t cap, const std::string_view& src);
template <size_t N>
void copy_text(char (&dst)[N], const std::string_view& src) {
  copy_text(dst, N, src);
}

}  // namespace rpool
