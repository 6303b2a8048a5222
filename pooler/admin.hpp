// The admin console (database "pgbouncer" or "rpool"): SHOW commands over all workers, RELOAD, SHUTDOWN.
#pragma once

#include <string>

namespace rpool {

class Worker;
class ClientConn;

// Runs one simple-protocol query string; returns the full reply ending with ReadyForQuery.
std::string admin_query(Worker& worker, ClientConn& client, const std::string& sql);

}  // namespace rpool
