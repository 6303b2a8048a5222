// Unit tests of rpool's pure parts: ini parsing errors, auth_file, MD5 and SCRAM-SHA-256.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "pooler/auth.hpp"
#include "pooler/config.hpp"
#include "pooler/protocol.hpp"

using namespace rpool;

TEST_CASE("ini: PgBouncer keys, [rpool] alias and database entries") {
  Config c = parse_config_text(
      "[databases]\n"
      "app = host=127.0.0.1 port=5433 dbname=real user=u password='p w' pool_size=5\n"
      "* = host=/var/run/postgresql\n"
      "[rpool]\n"
      "listen_port = 7000\nauth_type = trust\npool_mode = transaction\nworkers = 3\ncpu_affinity = 0,1,1\n"
      "admin_users = a, b\n",
      "t.ini");
  REQUIRE(c.databases.size() == 2);
  CHECK(c.databases[0].port == 5433);
  CHECK(c.databases[0].password == "p w");
  CHECK(c.databases[0].pool_size == 5);
  CHECK(c.find_database("other")->host == "/var/run/postgresql");
  CHECK(c.listen_port == 7000);
  CHECK(c.pool_mode == PoolMode::transaction);
  CHECK(c.workers == 3);
  CHECK(c.cpu_affinity == std::vector<int>{0, 1, 1});
  CHECK(c.is_admin("b"));
  CHECK_FALSE(c.is_admin("c"));
}

TEST_CASE("ini: errors name the file, the line and the key") {
  auto message = [](const std::string& text) {
    try {
      parse_config_text(text, "x.ini");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("[pgbouncer]\nauth_type = trust\nmax_client_conn = -4\n") ==
        "x.ini:3: key 'max_client_conn': '-4' is out of range [1, 1000000]");
  CHECK(message("[pgbouncer]\nauth_type = kerberos\n") ==
        "x.ini:2: key 'auth_type': 'kerberos' is not one of trust, md5, scram-sha-256");
  CHECK(message("[pgbouncer]\nauth_type = trust\nworkers = 2\ncpu_affinity = 1\n").find("cpu_affinity") !=
        std::string::npos);
  CHECK(message("[pgbouncer]\nauth_type = md5\n") == "x.ini: key 'auth_file': required unless auth_type = trust");
}

TEST_CASE("md5: PostgreSQL's stored form and challenge response") {
  // md5("secret" + "alice") as PostgreSQL stores it
  std::string stored = auth::md5_stored("secret", "alice");
  CHECK(stored.size() == 35);
  const char salt[4] = {1, 2, 3, 4};
  // The response is the same from the plain password and from the stored hash.
  CHECK(auth::md5_response("secret", "alice", salt) == auth::md5_response(stored, "alice", salt));
  CHECK(auth::md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_CASE("SCRAM-SHA-256: rpool's client logs in to rpool's server, a wrong password fails") {
  auto secret = auth::scram_secret_from("pencil");
  REQUIRE(secret);
  auth::ScramServer server(*secret);
  auth::ScramClient client("pencil");
  auto server_first = server.first(client.first());
  REQUIRE(server_first);
  auto client_final = client.final(*server_first);
  REQUIRE(client_final);
  auto server_final = server.final(*client_final);
  REQUIRE(server_final);
  CHECK(client.verify(*server_final));

  auth::ScramServer server2(*secret);
  auth::ScramClient wrong("pen");
  auto first2 = server2.first(wrong.first());
  REQUIRE(first2);
  CHECK_FALSE(server2.final(*wrong.final(*first2)));
}

TEST_CASE("SCRAM-SHA-256: a stored secret in PostgreSQL's format is accepted") {
  // The text form PostgreSQL keeps in pg_authid, built from known keys, parses back to the same keys.
  auto plain = auth::scram_secret_from("pencil");
  std::string text = "SCRAM-SHA-256$4096:" + auth::base64_encode(plain->salt) + "$" +
                     auth::base64_encode(plain->stored_key) + ":" + auth::base64_encode(plain->server_key);
  auto parsed = auth::scram_secret_from(text);
  REQUIRE(parsed);
  CHECK(parsed->iterations == 4096);
  CHECK(parsed->stored_key == plain->stored_key);
  auth::ScramServer server(*parsed);
  auth::ScramClient client("pencil");
  auto f = server.first(client.first());
  CHECK(server.final(*client.final(*f)));
}

TEST_CASE("protocol: builder lengths and startup parameters") {
  std::string m = pg::ready_for_query('I');
  REQUIRE(m.size() == 6);
  CHECK(m[0] == 'Z');
  CHECK(pg::read_u32(m.data() + 1) == 5);
  std::string s = pg::startup_message({{"user", "u"}, {"database", "d"}});
  CHECK(pg::read_u32(s.data()) == s.size());
  pg::StartupParams p;
  REQUIRE(pg::parse_startup_params(s.data() + 8, s.size() - 8, p));
  CHECK(p.get("database") == "d");
  pg::StartupParams bad;
  CHECK_FALSE(pg::parse_startup_params("user\0u", 6, bad));
}
