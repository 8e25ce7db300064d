// certcast probe tls|dns|http01|ca|ntp|host: one probe now, its events-v1 lines on stdout.
#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>

#include "act/process.h"
#include "cli/command.h"
#include "core/host_name.h"
#include "collect/probe/acme_probe.h"
#include "collect/probe/dns_probe.h"
#include "collect/probe/http01_probe.h"
#include "collect/probe/ntp_probe.h"
#include "collect/probe/tls_probe.h"
#include "collect/host/hook.h"
#include "collect/host/host_probe.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::cli {
namespace {

struct ProbeFlags {
  std::string target;
  std::string sni, ca_file, cert, type = "A", resolver, token = "certcast-probe", expect, address, vantage,
      host, ari_cert;
  int port = 80;
  bool dnssec = false;
  std::string timeout = "10s";
  std::string state_dir, client, timer, cron, client_program;  // probe host
};

void Print(const Event& e) {
  std::string line;
  AppendEventJson(e, line);
  line.push_back('\n');
  std::cout << line << std::flush;
}

StatusOr<absl::Duration> Timeout(const ProbeFlags& flags) {
  auto d = ParseDurationFlag(flags.timeout);
  if (!d.ok()) return d.status().WithPrefix("--timeout");
  return *d;
}

int RunTls(const ProbeFlags& flags) {
  probe::TlsProbeOptions options;
  options.sni = flags.sni;
  options.ca_file = flags.ca_file;
  options.cert = flags.cert;
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  options.timeout = *timeout;
  auto event = probe::ProbeTls(flags.target, options, SystemClock::Get());
  if (!event.ok()) return Fail(event.status());
  Print(*event);
  return kExitOk;
}

int RunDns(const ProbeFlags& flags) {
  probe::DnsProbeOptions options;
  options.resolver = flags.resolver;
  options.dnssec = flags.dnssec;
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  options.timeout = *timeout;
  static const std::pair<const char*, RecordType> kTypes[] = {
      {"A", RecordType::kA},     {"AAAA", RecordType::kAAAA}, {"CNAME", RecordType::kCNAME},
      {"CAA", RecordType::kCAA}, {"NS", RecordType::kNS},     {"TXT", RecordType::kTXT}};
  for (const auto& [text, type] : kTypes) {
    if (flags.type != text) continue;
    auto event = type == RecordType::kCAA ? probe::ProbeCaa(flags.target, options, SystemClock::Get())
                                          : probe::ProbeDns(flags.target, type, options, SystemClock::Get());
    if (!event.ok()) return Fail(event.status());
    Print(*event);
    return kExitOk;
  }
  std::cerr << "certcast: --type " << flags.type << " is not one of A, AAAA, CNAME, CAA, NS, TXT\n";
  return kExitUsage;
}

int RunHttp01(const ProbeFlags& flags) {
  probe::Http01ProbeOptions options;
  options.port = flags.port;
  options.token = flags.token;
  options.expect = flags.expect;
  options.address = flags.address;
  options.resolver = flags.resolver;
  options.vantage = flags.vantage;
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  options.timeout = *timeout;
  auto event = probe::ProbeHttp01(flags.target, options, SystemClock::Get());
  if (!event.ok()) return Fail(event.status());
  Print(*event);
  return kExitOk;
}

int RunCa(const ProbeFlags& flags) {
  probe::CaProbeOptions options;
  options.ca_file = flags.ca_file;
  options.host = flags.host;
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  options.timeout = *timeout;
  if (flags.ari_cert.empty() != flags.cert.empty()) {
    std::cerr << "certcast: --ari-cert and --cert go together\n";
    return kExitUsage;
  }
  std::string pem;
  if (!flags.ari_cert.empty()) {
    std::ifstream in(flags.ari_cert, std::ios::binary);
    if (!in) return Fail(NotFoundError(StrCat("--ari-cert ", flags.ari_cert, ": cannot open")));
    pem.resize(64 * 1024);  // a PEM chain is a few KiB; more is not a certificate file
    in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
    pem.resize(static_cast<size_t>(in.gcount()));
  }
  auto result = probe::ProbeCa(flags.target, options, SystemClock::Get());
  if (!result.ok()) return Fail(result.status());
  for (const Event& e : result->events) Print(e);
  if (!pem.empty()) {
    if (!result->directory) {
      std::cerr << "certcast: no ARI query: the directory could not be read\n";
      return kExitFailure;
    }
    auto ari = probe::ProbeAri(flags.target, *result->directory, flags.cert, pem, options, SystemClock::Get());
    if (!ari.ok()) return Fail(ari.status());
    Print(*ari);
  }
  return kExitOk;
}

int RunNtp(const ProbeFlags& flags) {
  probe::NtpProbeOptions options;
  options.host = flags.host;
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  options.timeout = *timeout;
  auto event = probe::ProbeNtp(flags.target, options, SystemClock::Get(), probe::UnpredictableSeed());
  if (!event.ok()) return Fail(event.status().WithPrefix(StrCat("ntp ", flags.target)));
  Print(*event);
  return kExitOk;
}

int RunHost(const ProbeFlags& flags) {
  auto timeout = Timeout(flags);
  if (!timeout.ok()) return Fail(timeout.status());
  host::HostProbeOptions options;
  options.host = flags.host.empty() ? LocalHostName() : flags.host;
  options.client = *host::HostClientFromName(flags.client);  // checked by the flag's IsMember
  options.state_dir = flags.state_dir;
  options.timer = flags.timer;
  options.cron_file = flags.cron;
  options.client_program = flags.client_program;
  const host::RunCommand run = [&](const std::vector<std::string>& argv) -> StatusOr<host::CommandOutput> {
    act::ProcessOptions process;
    process.timeout = *timeout;
    process.max_output_bytes = 64 << 10;  // a version or one property: a few bytes
    ASSIGN_OR_RETURN(act::ProcessResult result, act::RunProcess(argv, process));
    if (result.timed_out) {
      return DeadlineExceededError(StrCat(argv[0], " timed out after ", flags.timeout));
    }
    return host::CommandOutput{result.exit_code, result.stdout_text + result.stderr_text};
  };
  const host::HostProbeResult result = host::ProbeHost(options, run, SystemClock::Get().Now());
  if (result.event) Print(*result.event);
  for (const std::string& problem : result.problems) std::cerr << "certcast: probe host: " << problem << "\n";
  if (!result.event) return kExitFailure;
  return result.problems.empty() ? kExitOk : kExitRejected;
}

const bool registered = RegisterCommand({
    .name = "probe",
    .summary = "Probe a TLS endpoint, DNS name, HTTP-01 path, ACME CA, NTP server or this host; print events-v1 lines",
    .order = 5,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<ProbeFlags>();
          sub.description(
              "Runs one probe now and prints its events-v1 lines on stdout (pipe them into "
              "`certcast ingest --db FILE -`). A probe that ran prints its event even when the "
              "outcome is an error: the error is the observation. See docs/probes.md.");
          sub.require_subcommand(1);
          auto add_timeout = [flags](CLI::App* app) {
            app->add_option("--timeout", flags->timeout, "Whole-probe timeout (e.g. 5s, 1m)")->capture_default_str();
          };
          CLI::App* tls = sub.add_subcommand("tls", "TLS endpoint: served certificate, trust, version, cipher");
          tls->add_option("endpoint", flags->target, "HOST:PORT or [V6]:PORT")->required();
          tls->add_option("--sni", flags->sni, "Server name to send and check (default: HOST)");
          tls->add_option("--ca-file", flags->ca_file, "PEM bundle to trust (default: system store)");
          tls->add_option("--cert", flags->cert, "Lineage name to put in the event");
          add_timeout(tls);
          tls->footer("Example:\n  certcast probe tls shop.example.com:443 --cert shop");
          CLI::App* dns = sub.add_subcommand("dns", "One DNS question (CAA: with the RFC 8659 tree climb)");
          dns->add_option("name", flags->target, "DNS name (a *. prefix is dropped)")->required();
          dns->add_option("--type", flags->type, "A, AAAA, CNAME, CAA, NS or TXT")->capture_default_str();
          dns->add_option("--resolver", flags->resolver,
                          "ADDR[:PORT] or [V6]:PORT (default: first nameserver in /etc/resolv.conf)");
          dns->add_flag("--dnssec", flags->dnssec,
                        "Ask with the DNSSEC OK bit; report dnssec (secure/insecure/bogus) and "
                        "rrsig_expires. The resolver must validate (e.g. unbound with a trust anchor): "
                        "one that does not never sets AD, so every answer would read insecure");
          add_timeout(dns);
          dns->footer(
              "With --dnssec: secure = the resolver set AD; insecure = answered without AD; bogus = "
              "SERVFAIL that the same question with CD=1 (checking disabled) answers; no dnssec "
              "field when the resolver's reply drops the DO bit or nothing was answered. "
              "rrsig_expires = earliest expiry of the RRSIGs over the answer (CNAME chain "
              "included) or, for NXDOMAIN/NODATA, over its denial proofs; CAA: over the whole "
              "climb.\n\n"
              "Example:\n  certcast probe dns shop.example.com --type CAA --resolver 9.9.9.9 --dnssec");
          CLI::App* http01 = sub.add_subcommand("http01", "HTTP-01 reachability as the CA's validator sees it");
          http01->add_option("name", flags->target, "DNS name")->required();
          http01->add_option("--port", flags->port, "Port (the CA uses 80; others for tests)")
              ->capture_default_str()->check(CLI::Range(1, 65535));
          http01->add_option("--token", flags->token, "Path component after /.well-known/acme-challenge/")
              ->capture_default_str();
          http01->add_option("--expect", flags->expect, "Required body (default: 200 or 404 counts as reachable)");
          http01->add_option("--address", flags->address, "Connect to this IP for NAME instead of resolving it");
          http01->add_option("--resolver", flags->resolver,
                             "Look NAME (and redirect targets) up with this DNS resolver, ADDR[:PORT], "
                             "instead of the system's: the CA's view");
          http01->add_option("--vantage", flags->vantage, "Where this probe runs, copied into the event");
          add_timeout(http01);
          http01->footer("Example:\n  certcast probe http01 shop.example.com");
          CLI::App* ca = sub.add_subcommand("ca", "ACME CA health (directory, newNonce), clock offset, ARI");
          ca->add_option("directory", flags->target, "ACME directory URL")->required();
          ca->add_option("--ca-file", flags->ca_file, "PEM bundle to trust for the CA's HTTPS");
          ca->add_option("--host", flags->host, "Host name for the clock event (default: this host's name)");
          ca->add_option("--ari-cert", flags->ari_cert, "PEM certificate to ask renewalInfo (RFC 9773) about");
          ca->add_option("--cert", flags->cert, "Lineage of --ari-cert, for the ari event");
          add_timeout(ca);
          ca->footer(
              "Example:\n  certcast probe ca https://acme-v02.api.letsencrypt.org/directory \\\n"
              "    --ari-cert /etc/letsencrypt/live/shop/cert.pem --cert shop");
          CLI::App* ntp = sub.add_subcommand("ntp", "This host's clock offset against an NTP server (SNTPv4)");
          ntp->add_option("server", flags->target, "HOST[:PORT] or [V6]:PORT (port 123 by default)")->required();
          ntp->add_option("--host", flags->host, "Host name for the clock event (default: this host's name)");
          add_timeout(ntp);
          ntp->footer(
              "Sends one client request (one retry when no reply comes; the timeout covers both) and "
              "prints one `clock` event: offset_ms = local time minus the server's, measured to "
              "within half the round trip. Rejected: replies that do not echo the request's random "
              "nonce (ignored, as forged or stale), Kiss-o'-Death (its code named), a server whose "
              "clock is not synchronised (leap indicator 3 or stratum 16).\n\n"
              "Example:\n  certcast probe ntp pool.ntp.org --timeout 5s");
          CLI::App* host_app = sub.add_subcommand(
              "host", "Health of the host that runs an ACME client: disk, scheduler, version");
          host_app->add_option("--state-dir", flags->state_dir,
                               "The client's state directory (disk space is measured there)")
              ->required();
          host_app->add_option("--client", flags->client, "certbot, lego or acme.sh")
              ->required()
              ->check(CLI::IsMember({"certbot", "lego", "acme.sh"}));
          host_app->add_option("--timer", flags->timer,
                               "systemd timer that runs the client (e.g. certbot.timer)");
          host_app->add_option("--cron", flags->cron,
                               "A file the cron job rewrites on every run (its log): its mtime is the last run");
          host_app->add_option("--host", flags->host, "Host name for the event (default: this host's name)");
          host_app->add_option("--client-program", flags->client_program,
                               "Program to ask --version (default: the client's name; for acme.sh "
                               "STATE_DIR/acme.sh when present)");
          add_timeout(host_app);
          host_app->footer(
              "Prints one `host` event: disk_free_bytes/disk_total_bytes (statvfs of --state-dir; "
              "free = what an unprivileged writer can use), scheduler_last_run (--timer: systemctl "
              "when systemd runs, else /var/lib/systemd/timers/stamp-UNIT; --cron: the file's "
              "mtime; the later of the two when both are given), client_version (`CLIENT "
              "--version`). What cannot be measured is left out and reported on stderr (exit 1).\n\n"
              "Example:\n  certcast probe host --state-dir /etc/letsencrypt --client certbot "
              "--timer certbot.timer");
          sub.footer(
              "Exit: 0 the probe ran and its events were printed (whatever their outcome); 1 "
              "(host) some pieces could not be measured and were left out; 2 bad arguments; 3 no "
              "event could be produced (e.g. unreadable CA file, malformed DNS response, ARI "
              "unavailable).\n\nExample:\n  certcast probe tls 127.0.0.1:8443 --sni "
              "shop.test --ca-file ca.pem");
          return [flags, tls, dns, http01, ca, ntp, host_app] {
            // A peer closing mid-write must not kill the process; the write error is handled.
            std::signal(SIGPIPE, SIG_IGN);
            if (tls->parsed()) return RunTls(*flags);
            if (dns->parsed()) return RunDns(*flags);
            if (http01->parsed()) return RunHttp01(*flags);
            if (ca->parsed()) return RunCa(*flags);
            if (ntp->parsed()) return RunNtp(*flags);
            if (host_app->parsed()) return RunHost(*flags);
            return kExitUsage;
          };
        },
});

}  // namespace
}  // namespace certcast::cli
