#include "collect/probe/dns_wire.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "core/caa.h"
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

// Type mnemonics for the RRSIG presentation form; RFC 3597's TYPEnnn for the rest.
std::string TypeName(uint16_t type) {
  switch (type) {
    case kTypeA: return "A";
    case kTypeNS: return "NS";
    case kTypeCNAME: return "CNAME";
    case kTypeSOA: return "SOA";
    case kTypeTXT: return "TXT";
    case kTypeAAAA: return "AAAA";
    case kTypeDS: return "DS";
    case kTypeRRSIG: return "RRSIG";
    case kTypeNSEC: return "NSEC";
    case kTypeDNSKEY: return "DNSKEY";
    case kTypeNSEC3: return "NSEC3";
    case kTypeCAA: return "CAA";
  }
  return StrCat("TYPE", type);
}

// RFC 4034 §3.1: 18 fixed bytes, the signer's name, the signature (not kept: the probe does not
// validate, the resolver does).
Status ReadRrsig(Reader& reader, size_t rdlength, DnsRecord& record) {
  const size_t end = reader.offset() + rdlength;
  RrsigData rrsig;
  uint16_t algorithm_labels;
  uint16_t expiration_hi, expiration_lo, inception_hi, inception_lo;
  if (rdlength < 18 || !reader.U16(rrsig.type_covered) || !reader.U16(algorithm_labels) ||
      !reader.U32(rrsig.original_ttl) || !reader.U16(expiration_hi) || !reader.U16(expiration_lo) ||
      !reader.U16(inception_hi) || !reader.U16(inception_lo) || !reader.U16(rrsig.key_tag)) {
    return InvalidArgumentError(StrCat("RRSIG record has ", rdlength, " bytes, fewer than 18 before the signer"));
  }
  rrsig.algorithm = static_cast<uint8_t>(algorithm_labels >> 8);
  rrsig.labels = static_cast<uint8_t>(algorithm_labels & 0xff);
  rrsig.expiration = static_cast<uint32_t>(expiration_hi) << 16 | expiration_lo;
  rrsig.inception = static_cast<uint32_t>(inception_hi) << 16 | inception_lo;
  RETURN_IF_ERROR(ReadName(reader, rrsig.signer).WithPrefix("RRSIG signer"));
  if (reader.offset() > end) return InvalidArgumentError("RRSIG signer runs past RDATA");
  record.value = StrCat(TypeName(rrsig.type_covered), " ", static_cast<int>(rrsig.algorithm), " ",
                        static_cast<int>(rrsig.labels), " ", rrsig.original_ttl, " ", rrsig.expiration, " ",
                        rrsig.inception, " ", rrsig.key_tag, " ", rrsig.signer);
  record.rrsig = std::move(rrsig);
  return OkStatus();
}

enum class Section { kAnswer, kAuthority, kAdditional };

// Reads one resource record. RDATA is interpreted in the answer and authority sections; in the
// additional section only the OPT record is (the rest is skipped), into `edns`.
Status ReadRecord(Reader& reader, Section section, std::optional<EdnsData>& edns, DnsRecord& record) {
  RETURN_IF_ERROR(ReadName(reader, record.name));
  uint16_t rclass, rdlength;
  if (!reader.U16(record.type) || !reader.U16(rclass) || !reader.U32(record.ttl) || !reader.U16(rdlength)) {
    return InvalidArgumentError("header runs past the end of the message");
  }
  const size_t start = reader.offset();
  if (start + rdlength > reader.message().size()) return InvalidArgumentError("RDATA runs past the end of the message");
  if (record.type == kTypeOPT) {
    // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
    if (section != Section::kAdditional) return InvalidArgumentError("OPT record outside the additional section");
    if (!record.name.empty()) return InvalidArgumentError("OPT record is not owned by the root");
    if (edns) return InvalidArgumentError("more than one OPT record");
    // CLASS is the sender's UDP payload size; TTL is extended RCODE (8), version (8), DO, Z.
    edns = EdnsData{rclass, static_cast<uint8_t>(record.ttl >> 24), static_cast<uint8_t>(record.ttl >> 16 & 0xff),
                    (record.ttl & 0x8000) != 0};
  } else if (record.type == kTypeRRSIG && section != Section::kAdditional) {
    RETURN_IF_ERROR(ReadRrsig(reader, rdlength, record));
  } else if (section != Section::kAdditional) {
    ASSIGN_OR_RETURN(record.value, RdataToText(reader, record.type, rdlength));
  }
  reader.Seek(start + rdlength);
  return OkStatus();
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

StatusOr<std::string> BuildDnsQuery(uint16_t id, std::string_view name, uint16_t type, DnsQueryFlags flags) {
  std::string out;
  out.push_back(static_cast<char>(id >> 8));
  out.push_back(static_cast<char>(id & 0xff));
  out.push_back('\x01');                                     // RD=1
  out.push_back(flags.checking_disabled ? '\x10' : '\x00');  // CD
  out.append("\x00\x01\x00\x00\x00\x00\x00\x01", 8);         // QDCOUNT=1, ARCOUNT=1 (OPT)
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
  // OPT: root name, type 41, UDP payload 1232, extended rcode 0, version 0, DO, no options.
  out.append("\x00\x00\x29\x04\xd0\x00\x00", 7);
  out.push_back(flags.dnssec_ok ? '\x80' : '\x00');
  out.append("\x00\x00\x00", 3);
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
  response.authentic_data = (flags & 0x0020) != 0;
  response.checking_disabled = (flags & 0x0010) != 0;
  response.rcode = static_cast<uint8_t>(flags & 0x0f);
  if (qdcount != 1) return InvalidArgumentError(StrCat("DNS response has ", qdcount, " questions, want 1"));
  RETURN_IF_ERROR(ReadName(reader, response.question_name).WithPrefix("question"));
  uint16_t qclass;
  if (!reader.U16(response.question_type) || !reader.U16(qclass)) {
    return InvalidArgumentError("question runs past the end of the message");
  }
  // A truncated response may stop anywhere after the question; the caller retries over TCP.
  if (response.truncated) return response;
  const struct {
    Section section;
    uint16_t count;
    const char* name;
    std::vector<DnsRecord>* out;
  } sections[] = {{Section::kAnswer, ancount, "answer", &response.answers},
                  {Section::kAuthority, nscount, "authority", &response.authority},
                  {Section::kAdditional, arcount, "additional", nullptr}};
  for (const auto& s : sections) {
    for (int i = 0; i < s.count; ++i) {
      DnsRecord record;
      RETURN_IF_ERROR(ReadRecord(reader, s.section, response.edns, record).WithPrefix(StrCat(s.name, " ", i)));
      if (s.out != nullptr) s.out->push_back(std::move(record));
    }
  }
  if (response.edns) response.rcode |= static_cast<uint16_t>(response.edns->extended_rcode << 4);
  return response;
}

absl::Time RrsigTime(uint32_t serial, absl::Time now) {
  const int64_t now_seconds = absl::ToUnixSeconds(now);
  // Distance from now to the serial, modulo 2^32; below 2^31 it lies ahead, else behind.
  const uint32_t ahead = serial - static_cast<uint32_t>(now_seconds);
  const int64_t delta = ahead < 0x80000000u ? int64_t{ahead} : int64_t{ahead} - (int64_t{1} << 32);
  return absl::FromUnixSeconds(now_seconds + delta);
}

std::optional<absl::Time> EarliestRrsigExpiration(std::span<const DnsRecord> records, absl::Time now) {
  std::optional<absl::Time> earliest;
  for (const DnsRecord& signature : records) {
    if (!signature.rrsig) continue;
    const bool covers = std::any_of(records.begin(), records.end(), [&](const DnsRecord& r) {
      return !r.rrsig && r.name == signature.name && r.type == signature.rrsig->type_covered;
    });
    if (!covers) continue;
    const absl::Time expires = RrsigTime(signature.rrsig->expiration, now);
    if (!earliest || expires < *earliest) earliest = expires;
  }
  return earliest;
}

}  // namespace certcast::probe
