// Builders and readers for the PostgreSQL v3 messages rpool creates or inspects itself.
#include "pooler/protocol.hpp"

namespace rpool::pg {

MessageBuilder::MessageBuilder(char type) {
  buf_.reserve(64);
  if (type != 0) buf_.push_back(type);
  len_at_ = buf_.size();
  buf_.append(4, '\0');
}

MessageBuilder& MessageBuilder::u8(uint8_t v) {
  buf_.push_back(static_cast<char>(v));
  return *this;
}
MessageBuilder& MessageBuilder::u16(uint16_t v) {
  buf_.push_back(static_cast<char>(v >> 8));
  buf_.push_back(static_cast<char>(v));
  return *this;
}
MessageBuilder& MessageBuilder::u32(uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) buf_.push_back(static_cast<char>(v >> s));
  return *this;
}
MessageBuilder& MessageBuilder::str(std::string_view s) {
  buf_.append(s);
  buf_.push_back('\0');
  return *this;
}
MessageBuilder& MessageBuilder::bytes(std::string_view s) {
  buf_.append(s);
  return *this;
}
std::string MessageBuilder::finish() {
  uint32_t len = static_cast<uint32_t>(buf_.size() - len_at_);
  for (int i = 0; i < 4; ++i) buf_[len_at_ + i] = static_cast<char>(len >> (24 - 8 * i));
  return std::move(buf_);
}

uint32_t MessageReader::u32() {
  if (n_ - pos_ < 4) {
    ok_ = false;
    pos_ = n_;
    return 0;
  }
  uint32_t v = read_u32(p_ + pos_);
  pos_ += 4;
  return v;
}
uint16_t MessageReader::u16() {
  if (n_ - pos_ < 2) {
    ok_ = false;
    pos_ = n_;
    return 0;
  }
  uint16_t v = read_u16(p_ + pos_);
  pos_ += 2;
  return v;
}
uint8_t MessageReader::u8() {
  if (pos_ >= n_) {
    ok_ = false;
    return 0;
  }
  return static_cast<uint8_t>(p_[pos_++]);
}
std::string MessageReader::str() {
  const void* z = std::memchr(p_ + pos_, 0, n_ - pos_);
  if (!z) {
    ok_ = false;
    pos_ = n_;
    return {};
  }
  size_t len = static_cast<const char*>(z) - (p_ + pos_);
  std::string s(p_ + pos_, len);
  pos_ += len + 1;
  return s;
}
std::string_view MessageReader::bytes(size_t n) {
  if (n_ - pos_ < n) {
    ok_ = false;
    pos_ = n_;
    return {};
  }
  std::string_view v(p_ + pos_, n);
  pos_ += n;
  return v;
}

std::string error_response(const char* severity, const char* sqlstate, const std::string& message) {
  return MessageBuilder(kErrorResponse)
      .u8('S').str(severity)
      .u8('V').str(severity)
      .u8('C').str(sqlstate)
      .u8('M').str(message)
      .u8(0)
      .finish();
}

std::string auth_request(uint32_t code, std::string_view extra) {
  return MessageBuilder(kAuthentication).u32(code).bytes(extra).finish();
}

std::string parameter_status(const std::string& name, const std::string& value) {
  return MessageBuilder(kParameterStatus).str(name).str(value).finish();
}

std::string backend_key_data(uint32_t pid, uint32_t key) {
  return MessageBuilder(kBackendKeyData).u32(pid).u32(key).finish();
}

std::string ready_for_query(char status) { return MessageBuilder(kReadyForQuery).u8(status).finish(); }

std::string command_complete(const std::string& tag) { return MessageBuilder(kCommandComplete).str(tag).finish(); }

std::string row_description(const std::vector<Column>& columns) {
  MessageBuilder b(kRowDescription);
  b.u16(static_cast<uint16_t>(columns.size()));
  for (const auto& c : columns) {
    b.str(c.name).u32(0).u16(0).u32(c.numeric ? 20 : 25).u16(c.numeric ? 8 : 0xFFFF).u32(0xFFFFFFFF).u16(0);
  }
  return b.finish();
}

std::string data_row(const std::vector<std::string>& values, const std::vector<bool>& is_null) {
  MessageBuilder b(kDataRow);
  b.u16(static_cast<uint16_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    if (i < is_null.size() && is_null[i]) {
      b.u32(0xFFFFFFFF);
    } else {
      b.u32(static_cast<uint32_t>(values[i].size())).bytes(values[i]);
    }
  }
  return b.finish();
}

std::string StartupParams::get(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k == key) return v;
  return {};
}

bool parse_startup_params(const char* body, size_t n, StartupParams& out) {
  MessageReader r(body, n);
  while (r.remaining() > 0) {
    std::string key = r.str();
    if (!r.ok()) return false;
    if (key.empty()) return r.remaining() == 0;
    std::string value = r.str();
    if (!r.ok()) return false;
    out.items.emplace_back(std::move(key), std::move(value));
  }
  return false;  // the list must end with an empty key
}

std::string startup_message(const std::vector<std::pair<std::string, std::string>>& params) {
  MessageBuilder b(0);
  b.u32(kProtocolV3);
  for (const auto& [k, v] : params) b.str(k).str(v);
  b.u8(0);
  return b.finish();
}

std::string cancel_request(uint32_t pid, uint32_t key) {
  return MessageBuilder(0).u32(kCancelRequestCode).u32(pid).u32(key).finish();
}

std::string error_message_text(const char* body, size_t n) {
  MessageReader r(body, n);
  std::string msg, code;
  while (r.remaining() > 0) {
    uint8_t field = r.u8();
    if (field == 0 || !r.ok()) break;
    std::string v = r.str();
    if (!r.ok()) break;
    if (field == 'M') msg = v;
    if (field == 'C') code = v;
  }
  return code.empty() ? msg : msg + " (SQLSTATE " + code + ")";
}

}  // namespace rpool::pg
