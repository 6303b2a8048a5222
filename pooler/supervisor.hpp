// The supervisor process: forks the workers in order, replaces dead ones, handles SIGTERM, SIGHUP and rolling restarts.
#pragma once

#include "pooler/config.hpp"

namespace rpool {

// Runs until shutdown; returns the process exit code.
int run_supervisor(const Config& config);

// Sends SIGUSR2 (rolling restart) or another signal to the supervisor named in the pidfile. Returns an exit code.
int signal_supervisor(const Config& config, int signo);

}  // namespace rpool
