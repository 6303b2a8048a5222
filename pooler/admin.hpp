// The admin console (database "pgbouncer" or "rpool"): SHOW commands over all workers, RELOAD, SHUTDOWN.
#pragma once

#include <string>

namespace rpool {

class Worker;
class ClientConn;

// Runs one simple-protocol query string; returns the full reply ending with ReadyForQuery.
std::string admin_query(Worker& worker, ClientConn& client, const std::string& sql);

// Commands acting on every worker (PAUSE, RESUME, RECONNECT, KILL) are sent to them when the query arrives.
void admin_begin(Worker& worker, ClientConn& client, const std::string& sql);
// False while the reply must wait: an admin's PAUSE answers once every worker has closed the paused servers.
// Anything admin_begin did not start (a refused PAUSE from a stats user, say) is ready at once.
bool admin_ready(Worker& worker, const ClientConn& client, const std::string& sql);

}  // namespace rpool
