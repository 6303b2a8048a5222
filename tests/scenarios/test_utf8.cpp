// The UTF-8 check that keeps bytes nlohmann cannot dump out of scenario documents (found by the scenario fuzzer).
#include <catch2/catch.hpp>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"

using scenarios::detail::valid_utf8;

TEST_CASE("valid_utf8 accepts well-formed text and rejects the rest", "[json][utf8]") {
  // Expected, from RFC 3629: ASCII, 2-, 3- and 4-byte forms are valid; a lone continuation byte, a truncated
  // sequence, an overlong form (C0 AF is '/'), a UTF-16 surrogate (ED A0 80 = U+D800) and anything past U+10FFFF
  // (F4 90 80 80) are not.
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("run.duration=30s"));
  CHECK(valid_utf8("d\xc3\xa9j\xc3\xa0"));            // déjà
  CHECK(valid_utf8("\xe2\x80\x94"));                  // em dash, U+2014
  CHECK(valid_utf8("\xf0\x9f\x98\x80"));              // U+1F600
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));              // U+10FFFF, the last code point
  CHECK_FALSE(valid_utf8("\x99"));
  CHECK_FALSE(valid_utf8("1\x99s"));
  CHECK_FALSE(valid_utf8("\xc3"));                    // truncated
  CHECK_FALSE(valid_utf8("\xe2\x80"));                // truncated
  CHECK_FALSE(valid_utf8("\xc0\xaf"));                // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));            // overlong '/'
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));            // surrogate U+D800
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));        // U+110000
  CHECK_FALSE(valid_utf8("\xff"));
}

TEST_CASE("apply_set refuses bytes that are not UTF-8 with a ScenarioError", "[json][utf8]") {
  // The fuzzer's input: the document {} and the edit run.warmup=1\x99s. Expected: ScenarioError at "--set" and
  // the document unchanged, instead of nlohmann's type_error 316 from a later dump().
  nlohmann::json doc = nlohmann::json::object();
  try {
    scenarios::apply_set(doc, "run.warmup=1\x99s");
    FAIL("no exception");
  } catch (const scenarios::ScenarioError& e) {
    CHECK(e.path() == "--set");
  }
  CHECK(doc == nlohmann::json::object());
}
