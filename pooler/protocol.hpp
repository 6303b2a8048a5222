// PostgreSQL protocol v3 framing: message names as in the protocol docs, a builder and small readers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rpool::pg {

constexpr uint32_t kProtocolV3 = 196608;          // 3.0
constexpr uint32_t kCancelRequestCode = 80877102;
constexpr uint32_t kSslRequestCode = 80877103;
constexpr uint32_t kGssEncRequestCode = 80877104;
constexpr uint32_t kMaxMessageLength = 1u << 30;  // 1 GB, PostgreSQL's own ceiling
constexpr uint32_t kMaxStartupLength = 10000;

// Backend message types.
constexpr char kAuthentication = 'R';
constexpr char kBackendKeyData = 'K';
constexpr char kParameterStatus = 'S';
constexpr char kReadyForQuery = 'Z';
constexpr char kErrorResponse = 'E';
constexpr char kNoticeResponse = 'N';
constexpr char kRowDescription = 'T';
constexpr char kDataRow = 'D';
constexpr char kCommandComplete = 'C';
constexpr char kCopyInResponse = 'G';
constexpr char kCopyOutResponse = 'H';
constexpr char kCopyBothResponse = 'W';
constexpr char kBindComplete = '2';

// Frontend message types.
constexpr char kQuery = 'Q';
constexpr char kParse = 'P';
constexpr char kBind = 'B';
constexpr char kExecute = 'E';
constexpr char kSync = 'S';
constexpr char kFlush = 'H';
constexpr char kFunctionCall = 'F';
constexpr char kTerminate = 'X';
constexpr char kPasswordMessage = 'p';  // also SASLInitialResponse / SASLResponse
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyFail = 'f';

// Authentication request codes carried by 'R'.
constexpr uint32_t kAuthOk = 0;
constexpr uint32_t kAuthCleartext = 3;
constexpr uint32_t kAuthMd5 = 5;
constexpr uint32_t kAuthSasl = 10;
constexpr uint32_t kAuthSaslContinue = 11;
constexpr uint32_t kAuthSaslFinal = 12;

inline uint32_t read_u32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}
inline uint16_t read_u16(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

// Builds one message: type byte (0 for startup-style), length filled in by finish().
class MessageBuilder {
 public:
  explicit MessageBuilder(char type);
  MessageBuilder& u8(uint8_t v);
  MessageBuilder& u16(uint16_t v);
  MessageBuilder& u32(uint32_t v);
  MessageBuilder& str(std::string_view s);  // with the terminating NUL
  MessageBuilder& bytes(std::string_view s);  // raw
  std::string finish();

 private:
  std::string buf_;
  size_t len_at_;
};

// Reads fields from a message body; any overrun sets ok() false instead of reading past the end.
class MessageReader {
 public:
  MessageReader(const char* p, size_t n) : p_(p), n_(n) {}
  uint32_t u32();
  uint16_t u16();
  uint8_t u8();
  std::string str();                 // NUL-terminated
  std::string_view bytes(size_t n);
  size_t remaining() const { return n_ - pos_; }
  bool ok() const { return ok_; }

 private:
  const char* p_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Messages rpool itself sends.
std::string error_response(const char* severity, const char* sqlstate, const std::string& message);
std::string auth_request(uint32_t code, std::string_view extra = {});
std::string parameter_status(const std::string& name, const std::string& value);
std::string backend_key_data(uint32_t pid, uint32_t key);
std::string ready_for_query(char status);
std::string command_complete(const std::string& tag);
// Column types for admin results: text or int8 (only changes how psql aligns them).
struct Column {
  std::string name;
  bool numeric;
};
std::string row_description(const std::vector<Column>& columns);
std::string data_row(const std::vector<std::string>& values, const std::vector<bool>& is_null = {});

// The startup packet's parameters (user, database, options...), pairs in arrival order.
struct StartupParams {
  std::vector<std::pair<std::string, std::string>> items;
  std::string get(const std::string& key) const;
};
[[nodiscard]] bool parse_startup_params(const char* body, size_t n, StartupParams& out);
std::string startup_message(const std::vector<std::pair<std::string, std::string>>& params);
std::string cancel_request(uint32_t pid, uint32_t key);

// The "M" field of an ErrorResponse, for logging.
std::string error_message_text(const char* body, size_t n);

}  // namespace rpool::pg
