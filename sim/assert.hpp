// Always-on invariant checks: an impossible state stops the program with where and why, in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RPSIM_ASSERT(cond, msg)                                                                   \
  do {                                                                                            \
    if (!(cond)) [[unlikely]] {                                                                   \
      std::fprintf(stderr, "rpsim: invariant failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   (msg), #cond);                                                                 \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
