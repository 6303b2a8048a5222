// Password checks: MD5 and SCRAM-SHA-256 for both sides (rpool as server to clients, as client to Postgres).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rpool::auth {

std::string md5_hex(const std::string& data);
// PostgreSQL's stored form: "md5" + md5_hex(password + user).
std::string md5_stored(const std::string& password, const std::string& user);
// The response to an MD5 challenge, from the plain password or the stored "md5..." form.
std::string md5_response(const std::string& secret, const std::string& user, const char salt[4]);
std::string random_bytes(size_t n);
std::string base64_encode(const std::string& in);
std::optional<std::string> base64_decode(const std::string& in);

// SCRAM keys of one user: from a plain password or parsed from "SCRAM-SHA-256$iter:salt$stored:server".
struct ScramSecret {
  int iterations = 4096;
  std::string salt;
  std::string stored_key;
  std::string server_key;
};
std::optional<ScramSecret> scram_secret_from(const std::string& auth_file_secret);

// rpool authenticating a client. Feed the client's messages; each returns the reply payload or nullopt on failure.
class ScramServer {
 public:
  explicit ScramServer(ScramSecret secret) : secret_(std::move(secret)) {}
  // client-first-message -> server-first-message
  std::optional<std::string> first(const std::string& client_first);
  // client-final-message -> server-final-message ("v=..."), nullopt when the proof is wrong
  std::optional<std::string> final(const std::string& client_final);
  // After a successful final(): the client's ClientKey, which lets rpool log in to Postgres as this user
  // when auth_file holds only the SCRAM secret (the same one Postgres has).
  const std::string& client_key() const { return client_key_; }
  const std::string& server_key() const { return secret_.server_key; }

 private:
  ScramSecret secret_;
  std::string client_key_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
};

// rpool logging in to Postgres with a plain password.
class ScramClient {
 public:
  explicit ScramClient(std::string password) : password_(std::move(password)) {}
  // Logs in with keys taken from a client's SCRAM exchange instead of a password.
  static ScramClient from_keys(std::string client_key, std::string server_key);
  std::string first();  // client-first-message
  std::optional<std::string> final(const std::string& server_first);  // client-final-message
  bool verify(const std::string& server_final) const;

 private:
  std::string password_;
  std::string client_key_;
  std::string server_key_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string expected_server_signature_;
};

}  // namespace rpool::auth
