// The one rule every parser fuzzer checks: a parser may throw only its own error type.
#pragma once

#include <exception>

namespace fuzz {

// Runs body(). An exception of type Expected goes to on_expected (which checks the message); any other
// exception is a bug and goes to report(stage, what), which must not return (it aborts, so libFuzzer keeps the
// input as a crash).
template <class Expected, class Body, class OnExpected, class Report>
void expect_only(const char* stage, Body&& body, OnExpected&& on_expected, Report&& report) {
  try {
    body();
  } catch (const Expected& e) {
    on_expected(e);
  } catch (const std::exception& e) {
    report(stage, e.what());
  } catch (...) {
    report(stage, "(not a std::exception)");
  }
}

}  // namespace fuzz
