// MD5 and SCRAM-SHA-256 (RFC 5802/7677 as PostgreSQL uses them) on top of OpenSSL's digests.
#include "pooler/auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <map>
#include <vector>

namespace rpool::auth {
namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::string sha256(const std::string& data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string hmac256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string salted_password(const std::string& password, const std::string& salt, int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), sizeof out, out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string xor_bytes(const std::string& a, const std::string& b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// "a=1,b=2" attributes of a SCRAM message.
std::map<char, std::string> attributes(const std::string& msg) {
  std::map<char, std::string> out;
  size_t i = 0;
  while (i < msg.size()) {
    size_t comma = msg.find(',', i);
    if (comma == std::string::npos) comma = msg.size();
    if (comma - i >= 2 && msg[i + 1] == '=') out[msg[i]] = msg.substr(i + 2, comma - i - 2);
    i = comma + 1;
  }
  return out;
}

std::string make_nonce() { return base64_encode(random_bytes(18)); }

}  // namespace

std::string md5_hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return to_hex(out, len);
}

std::string md5_stored(const std::string& password, const std::string& user) {
  return "md5" + md5_hex(password + user);
}

std::string md5_response(const std::string& secret, const std::string& user, const char salt[4]) {
  std::string inner = (secret.size() == 35 && secret.rfind("md5", 0) == 0) ? secret.substr(3)
                                                                           : md5_hex(secret + user);
  return "md5" + md5_hex(inner + std::string(salt, 4));
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    FILE* f = fopen("/dev/urandom", "rb");
    if (f) {
      size_t got = fread(out.data(), 1, n, f);
      (void)got;
      fclose(f);
    }
  }
  return out;
}

std::string base64_encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

std::optional<std::string> base64_decode(const std::string& in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::optional<ScramSecret> scram_secret_from(const std::string& s) {
  ScramSecret sec;
  if (s.rfind("SCRAM-SHA-256$", 0) == 0) {
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    size_t colon1 = s.find(':', 14);
    size_t dollar = s.find('$', 14);
    if (colon1 == std::string::npos || dollar == std::string::npos || dollar < colon1) return std::nullopt;
    size_t colon2 = s.find(':', dollar);
    if (colon2 == std::string::npos) return std::nullopt;
    sec.iterations = std::atoi(s.substr(14, colon1 - 14).c_str());
    auto salt = base64_decode(s.substr(colon1 + 1, dollar - colon1 - 1));
    auto stored = base64_decode(s.substr(dollar + 1, colon2 - dollar - 1));
    auto server = base64_decode(s.substr(colon2 + 1));
    if (!salt || !stored || !server || sec.iterations <= 0) return std::nullopt;
    sec.salt = *salt;
    sec.stored_key = *stored;
    sec.server_key = *server;
    return sec;
  }
  if (s.size() == 35 && s.rfind("md5", 0) == 0) return std::nullopt;  // an MD5 hash cannot do SCRAM
  sec.salt = random_bytes(16);
  std::string salted = salted_password(s, sec.salt, sec.iterations);
  sec.stored_key = sha256(hmac256(salted, "Client Key"));
  sec.server_key = hmac256(salted, "Server Key");
  return sec;
}

std::optional<std::string> ScramServer::first(const std::string& client_first) {
  // gs2 header "n,," (no channel binding) or "y,,"; then the bare part "n=...,r=..."
  if (client_first.size() < 3 || (client_first[0] != 'n' && client_first[0] != 'y') || client_first[1] != ',')
    return std::nullopt;
  size_t second_comma = client_first.find(',', 2);
  if (second_comma == std::string::npos) return std::nullopt;
  client_first_bare_ = client_first.substr(second_comma + 1);
  auto attrs = attributes(client_first_bare_);
  if (attrs.count('r') == 0 || attrs['r'].empty()) return std::nullopt;
  nonce_ = attrs['r'] + make_nonce();
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) + ",i=" + std::to_string(secret_.iterations);
  return server_first_;
}

std::optional<std::string> ScramServer::final(const std::string& client_final) {
  size_t proof_at = client_final.rfind(",p=");
  if (proof_at == std::string::npos) return std::nullopt;
  std::string without_proof = client_final.substr(0, proof_at);
  auto attrs = attributes(client_final);
  if (attrs['r'] != nonce_) return std::nullopt;
  auto proof = base64_decode(attrs['p']);
  if (!proof || proof->size() != 32) return std::nullopt;
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + without_proof;
  std::string client_signature = hmac256(secret_.stored_key, auth_message);
  std::string client_key = xor_bytes(*proof, client_signature);
  if (sha256(client_key) != secret_.stored_key) return std::nullopt;
  client_key_ = client_key;
  return "v=" + base64_encode(hmac256(secret_.server_key, auth_message));
}

ScramClient ScramClient::from_keys(std::string client_key, std::string server_key) {
  ScramClient c("");
  c.client_key_ = std::move(client_key);
  c.server_key_ = std::move(server_key);
  return c;
}

std::string ScramClient::first() {
  nonce_ = make_nonce();
  client_first_bare_ = "n=,r=" + nonce_;
  return "n,," + client_first_bare_;
}

std::optional<std::string> ScramClient::final(const std::string& server_first) {
  auto attrs = attributes(server_first);
  const std::string& nonce = attrs['r'];
  if (nonce.rfind(nonce_, 0) != 0) return std::nullopt;
  auto salt = base64_decode(attrs['s']);
  int iterations = std::atoi(attrs['i'].c_str());
  if (!salt || iterations <= 0) return std::nullopt;
  std::string salted, client_key, server_key;
  if (!client_key_.empty()) {
    client_key = client_key_;
    server_key = server_key_;
  } else {
    salted = salted_password(password_, *salt, iterations);
    client_key = hmac256(salted, "Client Key");
    server_key = hmac256(salted, "Server Key");
  }
  std::string stored_key = sha256(client_key);
  std::string without_proof = "c=biws,r=" + nonce;
  std::string auth_message = client_first_bare_ + "," + server_first + "," + without_proof;
  std::string proof = xor_bytes(client_key, hmac256(stored_key, auth_message));
  expected_server_signature_ = base64_encode(hmac256(server_key, auth_message));
  return without_proof + ",p=" + base64_encode(proof);
}

bool ScramClient::verify(const std::string& server_final) const {
  auto attrs = attributes(server_final);
  return attrs.count('v') && attrs.at('v') == expected_server_signature_;
}

}  // namespace rpool::auth
