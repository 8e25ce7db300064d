#include "collect/probe/dns_wire.h"

#include <arpa/inet.h>

#include <cctype>

#include "collect/probe/caa.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

// Cursor over the message; every read is checked against the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> message) : message_(message) {}
  size_t offset() const { return offset_; }
  bool Seek(size_t offset) {
    if (offset > message_.size()) return false;
    offset_ = offset;
    return true;
  }
  bool U8(uint8_t& v) {
    if (offset_ + 1 > message_.size()) return false;
    v = message_[offset_++];
    return true;
  }
  bool U16(uint16_t& v) {
    if (offset_ + 2 > message_.size()) return false;
    v = static_cast<uint16_t>(message_[offset_] << 8 | message_[offset_ + 1]);
    offset_ += 2;
    return true;
  }
  bool U32(uint32_t& v) {
    uint16_t hi, lo;
    if (!U16(hi) || !U16(lo)) return false;
    v = static_cast<uint32_t>(hi) << 16 | lo;
    return true;
  }
  std::span<const uint8_t> message() const { return message_; }

 private:
  std::span<const uint8_t> message_;
  size_t offset_ = 0;
};

// Reads a possibly compressed name starting at the reader's offset; leaves the reader after the
// name's in-place bytes. Labels are lower-cased; bytes outside [a-z0-9_-] are kept as \DDD.
Status ReadName(Reader& reader, std::string& out) {
  out.clear();
  std::span<const uint8_t> m = reader.message();
  size_t pos = reader.offset();
  size_t resume = 0;  // where the reader continues after the first pointer
  int jumps = 0;
  size_t total = 0;
  while (true) {
    if (pos >= m.size()) return InvalidArgumentError("name runs past the end of the message");
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= m.size()) return InvalidArgumentError("name: truncated compression pointer");
      if (++jumps > kMaxCompressionJumps) return InvalidArgumentError("name: compression pointer loop");
      if (resume == 0) resume = pos + 2;
      pos = static_cast<size_t>(len & 0x3f) << 8 | m[pos + 1];
      continue;
    }
    if ((len & 0xc0) != 0) return InvalidArgumentError(StrCat("name: label type ", len >> 6, " is not supported"));
    if (len == 0) {
      ++pos;
      break;
    }
    if (pos + 1 + len > m.size()) return InvalidArgumentError("name: label runs past the end of the message");
    total += len + 1;
    if (total > 255) return InvalidArgumentError("name is longer than 255 bytes");
    if (!out.empty()) out.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      const unsigned char c = static_cast<unsigned char>(std::tolower(m[pos + 1 + i]));
      if (std::isalnum(c) || c == '-' || c == '_' || c == '*') {
        out.push_back(static_cast<char>(c));
      } else {
        out += StrCat("\\", static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                      static_cast<char>('0' + c % 10));
      }
    }
    pos += 1 + len;
  }
  if (!reader.Seek(resume != 0 ? resume : pos)) return InvalidArgumentError("name: bad offset");
  return OkStatus();
}

// One character-string (RFC 1035 §3.3) in presentation form: quoted, " and \ escaped,
// non-printable bytes as \DDD.
void AppendQuoted(std::span<const uint8_t> bytes, std::string& out) {
  out.push_back('"');
  for (uint8_t c : bytes) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c > 0x7e) {
      out += StrCat("\\", static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                    static_cast<char>('0' + c % 10));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

StatusOr<std::string> RdataToText(Reader& reader, uint16_t type, size_t rdlength) {
  std::span<const uint8_t> m = reader.message();
  const size_t start = reader.offset();
  const size_t end = start + rdlength;
  std::span<const uint8_t> rdata = m.subspan(start, rdlength);
  switch (type) {
    case kTypeA:
    case kTypeAAAA: {
      const size_t want = type == kTypeA ? 4 : 16;
      if (rdlength != want) return InvalidArgumentError(StrCat("address record has ", rdlength, " bytes, want ", want));
      char buf[INET6_ADDRSTRLEN];
      if (inet_ntop(type == kTypeA ? AF_INET : AF_INET6, rdata.data(), buf, sizeof buf) == nullptr) {
        return InvalidArgumentError("address record cannot be formatted");
      }
      return std::string(buf);
    }
    case kTypeCNAME:
    case kTypeNS: {
      std::string name;
      RETURN_IF_ERROR(ReadName(reader, name));
      if (reader.offset() != end) return InvalidArgumentError("name record: name does not fill RDATA");
      return name;
    }
    case kTypeTXT: {
      std::string out;
      size_t pos = 0;
      if (rdlength == 0) return InvalidArgumentError("TXT record has empty RDATA");
      while (pos < rdlength) {
        const size_t len = rdata[pos];
        if (pos + 1 + len > rdlength) return InvalidArgumentError("TXT string runs past RDATA");
        if (!out.empty()) out.push_back(' ');
        AppendQuoted(rdata.subspan(pos + 1, len), out);
        pos += 1 + len;
      }
      return out;
    }
    case kTypeCAA: {
      // RFC 8659 §4.1: flags (1), tag length (1), tag, value (rest).
      if (rdlength < 2) return InvalidArgumentError("CAA record shorter than 2 bytes");
      const size_t tag_len = rdata[1];
      if (tag_len == 0 || 2 + tag_len > rdlength) return InvalidArgumentError("CAA tag length is out of range");
      CaaRecord record;
      record.flags = rdata[0];
      record.tag.assign(reinterpret_cast<const char*>(rdata.data() + 2), tag_len);
      for (char c : record.tag) {
        if (!std::isalnum(static_cast<unsigned char>(c))) return InvalidArgumentError("CAA tag is not alphanumeric");
      }
      record.value.assign(reinterpret_cast<const char*>(rdata.data() + 2 + tag_len), rdlength - 2 - tag_len);
      return FormatCaaPresentation(record);
    }
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out;
      for (uint8_t c : rdata) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      return out;
    }
  }
}

}  // namespace

uint16_t DnsTypeFromName(std::string_view name) {
  if (name == "A") return kTypeA;
  if (name == "AAAA") return kTypeAAAA;
  if (name == "CNAME") return kTypeCNAME;
  if (name == "NS") return kTypeNS;
  if (name == "TXT") return kTypeTXT;
  if (name == "CAA") return kTypeCAA;
  return 0;
}

StatusOr<std::string> BuildDnsQuery(uint16_t id, std::string_view name, uint16_t type) {
  std::string out;
  out.push_back(static_cast<char>(id >> 8));
  out.push_back(static_cast<char>(id & 0xff));
  out.append("\x01\x00", 2);          // RD=1
  out.append("\x00\x01\x00\x00\x00\x00\x00\x01", 8);  // QDCOUNT=1, ARCOUNT=1 (OPT)
  if (name.size() > 253) return InvalidArgumentError(StrCat("name is ", name.size(), " bytes, longer than 253"));
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t len = dot - start;
    if (len == 0 || len > 63) return InvalidArgumentError(StrCat("name \"", name, "\" has a label of ", len, " bytes"));
    out.push_back(static_cast<char>(len));
    out.append(name.substr(start, len));
    start = dot + 1;
  }
  out.push_back('\0');
  out.push_back(static_cast<char>(type >> 8));
  out.push_back(static_cast<char>(type & 0xff));
  out.append("\x00\x01", 2);  // class IN
  // OPT: root name, type 41, UDP payload 1232, extended rcode/flags 0, no options.
  out.append("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
  return out;
}

StatusOr<DnsResponse> ParseDnsResponse(std::span<const uint8_t> message) {
  if (message.size() < 12) {
    return InvalidArgumentError(StrCat("DNS response is ", message.size(), " bytes, shorter than its 12-byte header"));
  }
  Reader reader(message);
  DnsResponse response;
  uint16_t flags, qdcount, ancount, nscount, arcount;
  reader.U16(response.id);
  reader.U16(flags);
  reader.U16(qdcount);
  reader.U16(ancount);
  reader.U16(nscount);
  reader.U16(arcount);
  if ((flags & 0x8000) == 0) return InvalidArgumentError("DNS response is not a response (QR=0)");
  response.truncated = (flags & 0x0200) != 0;
  response.rcode = static_cast<uint8_t>(flags & 0x0f);
  if (qdcount != 1) return InvalidArgumentError(StrCat("DNS response has ", qdcount, " questions, want 1"));
  RETURN_IF_ERROR(ReadName(reader, response.question_name).WithPrefix("question"));
  uint16_t qclass;
  if (!reader.U16(response.question_type) || !reader.U16(qclass)) {
    return InvalidArgumentError("question runs past the end of the message");
  }
  // A truncated response may stop anywhere after the question; the caller retries over TCP.
  if (response.truncated) return response;
  for (int i = 0; i < ancount; ++i) {
    DnsRecord record;
    RETURN_IF_ERROR(ReadName(reader, record.name).WithPrefix(StrCat("answer ", i)));
    uint16_t rclass, rdlength;
    if (!reader.U16(record.type) || !reader.U16(rclass) || !reader.U32(record.ttl) || !reader.U16(rdlength)) {
      return InvalidArgumentError(StrCat("answer ", i, ": header runs past the end of the message"));
    }
    const size_t start = reader.offset();
    if (start + rdlength > message.size()) {
      return InvalidArgumentError(StrCat("answer ", i, ": RDATA runs past the end of the message"));
    }
    auto text = RdataToText(reader, record.type, rdlength);
    if (!text.ok()) return text.status().WithPrefix(StrCat("answer ", i));
    record.value = std::move(*text);
    reader.Seek(start + rdlength);
    response.answers.push_back(std::move(record));
  }
  // Authority and additional sections carry nothing the probe reports; they are not read.
  return response;
}

}  // namespace certcast::probe
