#include "agent/agent.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "act/collector.h"
#include "act/process.h"
#include "agent/webroot_token.h"
#include "api/http01_proof.h"
#include "collect/clients/acme_sh.h"
#include "collect/clients/certbot_renewal_conf.h"
#include "api/probe_targets.h"
#include "api/token.h"
#include "collect/probe/scan.h"
#include "collect/clients/discover.h"
#include "collect/host/host_probe.h"
#include "collect/host/spool.h"
#include "core/event_json.h"
#include "core/file_safety.h"
#include "core/host_name.h"
#include "core/json_text.h"
#include "core/redact.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::agent {
namespace {

constexpr size_t kMaxSeenBytes = 64u << 20;
// The last probe list: the server's answer as received; 100,000 targets of ~150 bytes at most.
constexpr size_t kMaxProbeListBytes = 16u << 20;

std::optional<Client> ClientOfKind(std::string_view kind) {
  if (kind == "certbot") return Client::kCertbot;
  if (kind == "lego") return Client::kLego;
  if (kind == "acme.sh") return Client::kAcmeSh;
  return std::nullopt;
}

}  // namespace

uint64_t LineHash(std::string_view line) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : line) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentOptions options, const Clock& clock,
                                               std::ostream& log) {
  const bool from_machine = options.host.empty();
  if (from_machine) options.host = LocalHostName();
  // A placeholder name would merge every such host into one at the server (issue #17: never a
  // placeholder): LocalHostName falls back to "localhost", and unconfigured machines say so too.
  if (options.host == "localhost" || options.host == "localhost.localdomain") {
    return InvalidArgumentError(StrCat(from_machine ? "the machine's name is \"" : "--host \"", options.host,
                                       from_machine ? "\"" : "\" is", " a placeholder: every host so named would be one host "
                                       "to the server; give this host its name with --host NAME"));
  }
  if (options.state_dir.empty()) return InvalidArgumentError("--state-dir is required");
  ASSIGN_OR_RETURN(std::string token, ReadTokenFile(options.token_file));
  ServerClientOptions client_options{.url = options.server, .token = token, .ca_file = options.ca_file,
                                     .connect_timeout = options.connect_timeout,
                                     .io_timeout = options.io_timeout};
  ASSIGN_OR_RETURN(std::unique_ptr<ServerClient> server, ServerClient::Create(client_options));
  std::unique_ptr<Agent> agent(new Agent(std::move(options), clock, log));
  const AgentOptions& o = agent->options_;
  agent->server_ = std::move(server);
  RETURN_IF_ERROR(EnsurePrivateDirectory(o.state_dir, "--state-dir"));
  const std::string lock_path = o.state_dir + "/lock";
  agent->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (agent->lock_fd_ < 0) {
    return FailedPreconditionError(StrCat(lock_path, ": open: ", std::strerror(errno)));
  }
  if (::flock(agent->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return FailedPreconditionError(StrCat("--state-dir ", o.state_dir,
                                          ": another agent holds ", lock_path));
  }
  if (!o.config.empty()) {
    ASSIGN_OR_RETURN(act::DaemonConfig config, act::LoadDaemonConfig(o.config));
    agent->collectors_ = std::move(config.collectors);
  }
  OpenReport report;
  OutboxOptions outbox_options{.dir = o.state_dir + "/outbox", .max_bytes = o.outbox_max_bytes,
                               .segment_bytes = o.segment_bytes};
  auto outbox = Outbox::Open(outbox_options, &report);
  if (!outbox.ok()) return outbox.status();
  agent->outbox_ = std::make_unique<Outbox>(std::move(*outbox));
  auto dead_letter = DeadLetterFile::Open(o.state_dir, o.dead_letter_max_bytes);
  if (!dead_letter.ok()) return dead_letter.status();
  agent->dead_letter_ = std::make_unique<DeadLetterFile>(std::move(*dead_letter));
  for (const std::string& warning : report.warnings) agent->Log("warn", warning);
  // The seen set is an optimisation (the server drops duplicates): unreadable means empty.
  auto seen = ReadFileNoFollow(o.state_dir + "/seen", kMaxSeenBytes);
  if (seen.ok()) {
    for (size_t at = 0; at + 17 <= seen->size(); at += 17) {
      agent->seen_.push_back(std::strtoull(seen->substr(at, 16).c_str(), nullptr, 16));
    }
    std::sort(agent->seen_.begin(), agent->seen_.end());
  }
  return agent;
}

Agent::~Agent() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Agent::Log(std::string_view level, std::string_view msg,
                const std::vector<std::pair<std::string, std::string>>& fields) {
  // Every line names the host: agents' logs are often shipped to one place.
  LogFields with_host;
  with_host.reserve(fields.size() + 1);
  with_host.emplace_back("host", options_.host);
  with_host.insert(with_host.end(), fields.begin(), fields.end());
  WriteLogLine(log_, clock_.Now(), level, msg, with_host);
}

Status Agent::DeadLetter(uint64_t batch, int64_t line, std::string_view error,
                         std::string_view event) {
  nlohmann::ordered_json j;
  j["ts"] = FormatRfc3339(clock_.Now());
  j["batch"] = batch;
  j["line"] = line;
  j["error"] = std::string(error);
  j["event"] = std::string(event);
  return dead_letter_->Append(Dump(j), clock_.Now());
}

Status Agent::ReportDrops() {
  struct Drop {
    std::optional<DroppedCount> count;
    const char* event;
    const char* message;
    std::function<Status()> clear;
  };
  for (const Drop& drop : {Drop{outbox_->PeekDropped(), "telemetry_dropped",
                                "outbox bound dropped events while the server was away",
                                [this] { return outbox_->ClearDropped(); }},
                           Drop{dead_letter_->PeekDropped(), "dead_letter_dropped",
                                "dead-letter bound dropped its oldest records",
                                [this] { return dead_letter_->ClearDropped(); }}}) {
    if (!drop.count) continue;
    Event event;
    event.ts = drop.count->first;
    event.body = HostEvent{.host = options_.host, .event = std::string(drop.event)};
    RETURN_IF_ERROR(outbox_->Append({EventToJson(event)}, clock_.Now()));
    RETURN_IF_ERROR(drop.clear());
    Log("warn", drop.message, {{"events", std::to_string(drop.count->events)}, {"bytes", std::to_string(drop.count->bytes)},
                               {"since", FormatRfc3339(drop.count->first)}});
    outbox_->Seal();
  }
  return OkStatus();
}

Status Agent::Collect(absl::Time now, AgentCycleReport& report) {
  std::vector<Event> events;
  if (!options_.spool_dir.empty()) {
    auto spool = host::ReadSpool(options_.spool_dir, options_.spool_keep, now);
    if (spool.ok()) {
      for (const host::SpoolProblem& p : spool->problems) {
        Log("warn", "spool problem", {{"file", p.file}, {"line", std::to_string(p.line)}, {"error", p.reason}});
      }
      std::move(spool->events.begin(), spool->events.end(), std::back_inserter(events));
    } else if (spool.status().code() != StatusCode::kNotFound) {
      Log("warn", "spool unreadable", {{"error", spool.status().message()}});
    }
  }
  if (!options_.discover_root.empty()) {
    clients::DiscoverOptions discover{.root = options_.discover_root,
                                      .max_depth = options_.discover_depth,
                                      .host = options_.host};
    clients::DiscoverOutput found = clients::Discover(discover);
    for (const clients::FileIssue& issue : found.issues) {
      Log("warn", "discovery problem", {{"file", issue.path}, {"line", std::to_string(issue.line)}, {"error", issue.reason}});
    }
    certbot_names_.clear();
    for (const Event& e : found.events) {
      const auto* config = std::get_if<ConfigEvent>(&e.body);
      if (config && config->client == Client::kCertbot) certbot_names_[config->cert] = config->names;
    }
    std::move(found.events.begin(), found.events.end(), std::back_inserter(events));
    certbot_dirs_.clear();
    acme_sh_dirs_.clear();
    for (const std::string& where : found.found) {
      if (where.starts_with("certbot ")) certbot_dirs_.push_back(where.substr(8));
      if (where.starts_with("acme.sh ")) acme_sh_dirs_.push_back(where.substr(8));
    }
    // Host health for each client found ("certbot /etc/letsencrypt").
    for (const std::string& where : found.found) {
      const size_t space = where.find(' ');
      if (space == std::string::npos) continue;
      auto client = ClientOfKind(where.substr(0, space));
      if (!client) continue;
      host::HostProbeOptions probe{.host = options_.host, .client = *client,
                                   .state_dir = where.substr(space + 1)};
      if (*client == Client::kCertbot) {
        probe.timer = "certbot.timer";
      } else {
        // lego and acme.sh: whatever timer or cron entry the operator set up for them.
        const host::ClientSchedule schedule =
            host::DiscoverClientSchedule(*client, options_.discover_root, probe.state_dir);
        probe.timer = schedule.timer;
        probe.cron_file = schedule.cron_file;
        if (schedule.timer.empty() && schedule.cron_entry.empty()) {
          Log("warn", "no scheduler runs this client: no systemd timer named for it, no cron entry",
              {{"client", where}});
        } else if (schedule.timer.empty() && schedule.cron_file.empty()) {
          Log("warn", "the client's cron entry leaves no trace of its runs (output to /dev/null)",
              {{"client", where}, {"entry", schedule.cron_entry}});
        }
      }
      auto run = [](const std::vector<std::string>& argv) -> StatusOr<host::CommandOutput> {
        act::ProcessOptions process;
        process.timeout = absl::Seconds(30);
        process.environment = act::ChildEnvironment({});
        ASSIGN_OR_RETURN(act::ProcessResult result, act::RunProcess(argv, process));
        if (result.timed_out) return DeadlineExceededError(StrCat(argv[0], ": timed out"));
        return host::CommandOutput{result.exit_code, result.stdout_text + result.stderr_text};
      };
      host::HostProbeResult health = host::ProbeHost(probe, run, now);
      if (health.event) events.push_back(std::move(*health.event));
    }
  }
  const absl::Duration monotonic_now = clock_.Monotonic();
  for (const act::CollectorSettings& c : collectors_) {
    auto last = collector_last_run_.find(c.name);
    if (last != collector_last_run_.end() && monotonic_now - last->second < c.every) continue;
    collector_last_run_[c.name] = monotonic_now;
    act::CollectorRun run = act::RunCollector(c);
    if (!run.failure.empty()) Log("warn", "collector failed", {{"collector", c.name}, {"error", run.failure}});
    for (const auto& [number, reason] : run.first_rejections) {
      Log("warn", "collector line rejected", {{"collector", c.name}, {"line", std::to_string(number)}, {"error", reason}});
    }
    std::move(run.events.begin(), run.events.end(), std::back_inserter(events));
  }

  report.collected = static_cast<int64_t>(events.size());
  std::vector<std::string> lines;
  std::vector<uint64_t> seen_now;
  for (const Event& e : events) {
    std::string line = EventToJson(e);
    const uint64_t hash = LineHash(line);
    seen_now.push_back(hash);
    if (std::binary_search(seen_.begin(), seen_.end(), hash)) {
      ++report.already_queued;
      continue;
    }
    if (std::optional<std::string_view> about = api::EventHost(e); about && *about != options_.host) {
      ++report.foreign_host;
      RETURN_IF_ERROR(DeadLetter(0, 0, StrCat("about host \"", *about, "\", not this agent's host \"", options_.host,
                                              "\" (the server refuses another host's events)"), line));
      continue;
    }
    lines.push_back(std::move(line));
  }
  // Durable first: the seen set may only name lines the outbox holds.
  RETURN_IF_ERROR(outbox_->Append(lines, now));
  report.queued = static_cast<int64_t>(lines.size());
  std::sort(seen_now.begin(), seen_now.end());
  seen_now.erase(std::unique(seen_now.begin(), seen_now.end()), seen_now.end());
  if (seen_now != seen_) {
    std::string text;
    text.reserve(seen_now.size() * 17);
    char hex[18];
    for (uint64_t h : seen_now) {
      std::snprintf(hex, sizeof hex, "%016llx\n", static_cast<unsigned long long>(h));
      text += hex;
    }
    RETURN_IF_ERROR(WriteFileAtomically(options_.state_dir + "/seen", text));
    seen_ = std::move(seen_now);
  }
  return OkStatus();
}

Status Agent::Deliver(AgentCycleReport& report, bool even_if_empty) {
  struct CloseAfter {
    ServerClient& server;
    ~CloseAfter() { server.Close(); }
  } close_after{*server_};
  outbox_->Seal();
  // An empty outbox is still posted (an empty body, which stores nothing) when asked: it tells
  // whether the server is there and still takes this token, which --once must know.
  bool probe = even_if_empty && outbox_->segments().empty();
  while (probe || !outbox_->segments().empty()) {
    const Segment segment = probe ? Segment{} : outbox_->segments().front();
    std::string body;
    if (!probe) {
      ASSIGN_OR_RETURN(body, outbox_->Read(segment));
    }
    auto answer = server_->Post("/v1/events", body, "application/x-ndjson");
    if (!answer.ok()) return answer.status();
    report.server_answered = true;
    const int status = answer->status;
    if (status == 401 || status == 403) {
      refused_ = true;
      std::string message = answer->body;
      try {
        message = nlohmann::json::parse(answer->body).at("error").at("message").get<std::string>();
      } catch (const std::exception&) {
      }
      return FailedPreconditionError(StrCat("the server ", server_->url(), " refused this agent's token (HTTP ",
                                            status, status == 401 ? ", unknown or revoked token" : ", forbidden",
                                            "): ", message, "; events wait in ", options_.state_dir));
    }
    if (status == 200 || status == 422) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(answer->body);
      } catch (const std::exception&) {
        return UnavailableError(StrCat("POST /v1/events: HTTP ", status, " with a body that is not JSON"));
      }
      report.stored += j.value("stored", int64_t{0});
      report.duplicates += j.value("duplicates", int64_t{0});
      if (status == 422) {
        std::vector<std::string_view> lines;
        for (size_t start = 0; start < body.size();) {
          const size_t end = body.find('\n', start);
          lines.push_back(std::string_view(body).substr(start, end - start));
          start = end + 1;
        }
        int64_t listed = 0;
        for (const auto& rejected : j.value("rejected", nlohmann::json::array())) {
          const int64_t number = rejected.value("line", int64_t{0});
          const std::string error = rejected.value("error", std::string());
          const std::string_view line =
              number >= 1 && number <= static_cast<int64_t>(lines.size()) ? lines[number - 1] : "";
          RETURN_IF_ERROR(DeadLetter(segment.sequence, number, error, line));
          ++listed;
        }
        const int64_t total = j.value("rejected_total", listed);
        if (total > listed) {
          RETURN_IF_ERROR(DeadLetter(segment.sequence, 0,
                                     StrCat(total - listed, " more lines rejected, not listed by the server"), ""));
        }
        report.rejected += total;
        Log("warn", "server rejected lines", {{"batch", std::to_string(segment.sequence)},
                                              {"rejected", std::to_string(total)},
                                              {"dead_letter", options_.state_dir + "/dead-letter.jsonl"}});
      }
    } else if (status >= 400 && status < 500 && status != 408 && status != 429) {
      // The server will never take this batch as it is (400, 413, ...): keep it aside, go on.
      RETURN_IF_ERROR(DeadLetter(segment.sequence, 0, StrCat("HTTP ", status, ": ", answer->body.substr(0, 512)),
                                 body.substr(0, 4096)));
      Log("error", "server refused a batch; moved to the dead-letter file",
          {{"batch", std::to_string(segment.sequence)}, {"status", std::to_string(status)}});
    } else {
      return UnavailableError(StrCat("POST /v1/events: HTTP ", status));
    }
    if (probe) {
      probe = false;
    } else {
      RETURN_IF_ERROR(outbox_->Acknowledge(segment));
      ++report.batches;
    }
    // The server is back: say what the bounds dropped while it was away, as events.
    RETURN_IF_ERROR(ReportDrops());
    if (stop_.stopped()) break;
  }
  return OkStatus();
}

StatusOr<std::string> ReadProbeList(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFoundError(StrCat(path, ": no probe list kept yet"));
    return FailedPreconditionError(StrCat(path, ": lstat: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return FailedPreconditionError(StrCat("probe list ", path, ": not a regular file"));
  RETURN_IF_ERROR(CheckTrusted(st, "probe list", path, Owner::kSelf));
  return ReadFileNoFollow(path, kMaxProbeListBytes);
}

StatusOr<std::string> Agent::FetchProbeList(bool server_there) {
  const std::string kept = options_.state_dir + "/probes.json";
  if (server_there) {
    struct CloseAfter {
      ServerClient& server;
      ~CloseAfter() { server.Close(); }
    } close_after{*server_};
    auto answer = server_->Get("/v1/agent/probes");
    if (answer.ok() && answer->status == 200) {
      // Kept only when it parses: a bad answer must not replace a good list.
      if (auto valid = api::ParseProbeTargetsJson(answer->body, 0); valid.ok()) {
        if (Status saved = WriteFileAtomically(kept, answer->body); !saved.ok()) {
          Log("warn", "probe list not kept", {{"error", saved.message()}});
        }
        return std::move(answer->body);
      } else {
        Log("warn", "probe targets unusable", {{"error", valid.status().message()}});
      }
    } else {
      Log("warn", "probe targets not fetched",
          {answer.ok() ? std::pair<std::string, std::string>{"status", std::to_string(answer->status)}
                       : std::pair<std::string, std::string>{"error", std::string(answer.status().message())}});
    }
  }
  // The server is away (or its answer unusable): the last list it gave, so probing goes on.
  auto text = ReadProbeList(kept);
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) Log("warn", "kept probe list unusable", {{"error", text.status().message()}});
    return text.status();
  }
  Log("info", "probing with the kept probe list", {{"file", kept}});
  return text;
}

Status Agent::Probe(AgentCycleReport& report, bool server_there) {
  auto body = FetchProbeList(server_there);
  if (!body.ok()) return OkStatus();
  // Parsing keeps at most a few more than probe_max so that refusals below can be counted, while
  // a huge list costs no more than that.
  auto list = api::ParseProbeTargetsJson(*body, 4 * static_cast<size_t>(options_.probe_max) + 16);
  if (!list.ok()) {
    Log("warn", "probe targets unusable", {{"error", list.status().message()}});
    return OkStatus();
  }
  std::vector<api::ProbeTarget> admitted;
  std::vector<std::string> http01_names;
  for (api::ProbeTarget& target : list->targets) {
    if (target.kind == api::ProbeTarget::Kind::kHttp01) http01_names.push_back(target.name);
    // TLS and http01 targets connect to an endpoint: only to one inside (an http01 target names
    // this host's web server by address; a name would be resolved and could lead anywhere).
    const bool connects = target.kind == api::ProbeTarget::Kind::kTls || target.kind == api::ProbeTarget::Kind::kHttp01;
    const bool internal = !connects || api::IsInternalAddress(api::EndpointHost(target.endpoint));
    if (internal && static_cast<int>(admitted.size()) < options_.probe_max) {
      admitted.push_back(std::move(target));
    } else {
      ++report.probes_refused;
    }
  }
  report.probes_refused += static_cast<int>(list->truncated);
  if (report.probes_refused > 0) {
    Log("warn", "probe targets left out (this agent's limits: internal addresses only, --probe-max; or the server's probe_max_targets)",
        {{"left_out", std::to_string(report.probes_refused)}, {"probe_max", std::to_string(options_.probe_max)}});
  }
  if (admitted.empty()) return OkStatus();
  // vantage: the host's own name in its http01_probe events (the server's say "server"); a new
  // challenge token each cycle.
  api::ProbeRunOptions run{.timeout = options_.probe_timeout, .ca_file = options_.probe_ca_file,
                           .host = options_.host, .concurrency = 4, .vantage = options_.host,
                           .resolver = options_.probe_resolver, .seed = options_.seed + probe_rounds_++};
  const probe::ScanResult result = probe::RunScan(api::PlanProbes(admitted, run, clock_));
  report.probes = static_cast<int>(admitted.size());
  for (const std::string& error : result.errors) Log("warn", "probe failed", {{"error", error}});
  std::vector<std::string> lines;
  for (const Event& e : result.events) lines.push_back(EventToJson(e));
  RETURN_IF_ERROR(outbox_->Append(lines, clock_.Now()));
  if (options_.http01_proof && server_there && !http01_names.empty() && !stop_.stopped()) {
    ProveHttp01(http01_names, report);
  }
  return OkStatus();
}

void Agent::ProveHttp01(const std::vector<std::string>& names, AgentCycleReport& report) {
  // The webroot of each name, from the certbot renewal confs and acme.sh domain confs of this
  // host (trusted files: they decide where this process writes). lego keeps no webroot in its
  // files (--http.webroot is a command-line flag only), so its names get no proof.
  std::map<std::string, std::string> webroots;
  const auto read_conf = [&](const std::filesystem::path& path, size_t max_bytes,
                             std::string_view what) -> std::optional<std::string> {
    auto text = ReadConfigFile(path.string(), max_bytes, what);
    if (!text.ok()) {
      Log("warn", StrCat(what, " not used for the http-01 proof"), {{"error", text.status().message()}});
      return std::nullopt;
    }
    return *std::move(text);
  };
  for (const std::string& dir : certbot_dirs_) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/renewal", ec)) {
      if (entry.path().extension() != ".conf") continue;
      auto text = read_conf(entry.path(), clients::kMaxRenewalConfBytes, "certbot renewal conf");
      if (!text) continue;
      auto conf = clients::ParseCertbotRenewalConf(*text);
      if (!conf.ok()) continue;  // discovery reports it
      // A conf's only webroot_path serves every name of ITS certificate, not every name of the
      // host: a name counts when the conf maps it or discovery read it from this lineage.
      const auto lineage = certbot_names_.find(entry.path().stem().string());
      const auto own = [&](const std::string& name) {
        return std::ranges::count(conf->webroot_domains, name) > 0 ||
               (lineage != certbot_names_.end() && std::ranges::count(lineage->second, name) > 0);
      };
      for (const std::string& name : names) {
        if (!own(name)) continue;
        if (std::string webroot = clients::CertbotWebroot(*conf, name); !webroot.empty()) webroots.emplace(name, webroot);
      }
    }
  }
  for (const std::string& dir : acme_sh_dirs_) {
    for (const std::filesystem::path& conf_path : clients::AcmeShDomainConfs(dir)) {
      auto text = read_conf(conf_path, clients::kMaxAcmeShConfBytes, "acme.sh domain conf");
      if (!text) continue;
      auto conf = clients::ParseAcmeShDomainConf(*text);
      if (!conf.ok()) continue;  // discovery reports it
      for (const std::string& name : names) {
        if (std::string webroot = clients::AcmeShWebroot(*conf, name); !webroot.empty()) webroots.emplace(name, webroot);
      }
    }
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::mt19937_64 random(options_.seed ^ (0x9e3779b97f4a7c15ull * (probe_rounds_ + 1)));
  auto draw = [&] {
    std::string text(43, 'A');
    for (char& c : text) c = kAlphabet[random() % 64];
    return text;
  };
  struct CloseAfter {
    ServerClient& server;
    ~CloseAfter() { server.Close(); }
  } close_after{*server_};
  for (const auto& [name, webroot] : webroots) {
    if (stop_.stopped()) break;
    api::Http01ProofRequest request{.name = name, .token = draw(), .body = ""};
    request.body = StrCat(request.token, ".", draw());
    auto placed = PlaceChallengeToken(webroot, request.token, request.body);
    if (!placed.ok()) {
      Log("warn", "http-01 proof: token not placed", {{"name", name}, {"error", placed.status().message()}});
      continue;
    }
    auto answer = server_->Post("/v1/agent/http01-proof", api::Http01ProofRequestJson(request), "application/json",
                                /*gzip=*/false);
    // Removed before anything else, whatever the answer.
    if (Status removed = placed->Remove(); !removed.ok()) {
      Log("warn", "http-01 proof: token not removed", {{"error", removed.message()}});
    }
    ++report.http01_proofs;
    if (!answer.ok() || answer->status != 200) {
      Log("warn", "http-01 proof not made", {{"name", name}, answer.ok()
          ? std::pair<std::string, std::string>{"status", StrCat(answer->status, " ", answer->body.substr(0, 512))}
          : std::pair<std::string, std::string>{"error", std::string(answer.status().message())}});
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
    const bool proven = j.is_object() && j.value("proven", false);
    std::string error;
    if (j.is_object() && j.contains("event") && j["event"].is_object()) error = j["event"].value("error", std::string());
    if (proven) ++report.http01_proven;
    // wrong_content: NAME leads to a web server that did not serve this webroot (another host).
    Log(proven ? "info" : "warn", proven ? "http-01 origin proven" : "http-01 origin not proven",
        {{"name", name}, {"webroot", webroot}, {"error", error}});
  }
}

StatusOr<AgentCycleReport> Agent::RunCycle() {
  AgentCycleReport report;
  const absl::Time now = clock_.Now();
  RETURN_IF_ERROR(Collect(now, report));
  Status delivered = Deliver(report, /*even_if_empty=*/true);
  if (refused_) return delivered;
  if (!delivered.ok() && delivered.code() != StatusCode::kUnavailable) return delivered;
  if (!delivered.ok()) {
    Log("warn", "server unavailable; events wait in the outbox", {{"error", delivered.message()}});
  }
  const int64_t before = outbox_->bytes();
  // Probes run while the server is away too (the kept list): their events wait in the outbox.
  if (options_.probes && !stop_.stopped()) RETURN_IF_ERROR(Probe(report, delivered.ok()));
  // Act (actions.h, set by cmd_agent.cc): lease this host's actions, carry them out with the
  // local executors, append their events to the outbox, report the outcomes.
  if (act_step_ && delivered.ok() && !stop_.stopped()) {
    ActContext context{*server_, *outbox_, options_.host, clock_.Now(), log_};
    Status acted = act_step_(context);
    if (!acted.ok()) Log("warn", "act step failed", {{"error", acted.message()}});
  }
  if (outbox_->bytes() != before) {
    delivered = Deliver(report);
    if (refused_) return delivered;
  }
  report.pending_bytes = outbox_->bytes();
  Log("info", "cycle", {{"collected", std::to_string(report.collected)},
                        {"queued", std::to_string(report.queued)},
                        {"batches", std::to_string(report.batches)},
                        {"stored", std::to_string(report.stored)},
                        {"duplicates", std::to_string(report.duplicates)},
                        {"rejected", std::to_string(report.rejected)},
                        {"probes", std::to_string(report.probes)},
                        {"http01_proven", StrCat(report.http01_proven, "/", report.http01_proofs)},
                        {"pending_bytes", std::to_string(report.pending_bytes)}});
  return report;
}

Status Agent::Run() {
  absl::Duration next_cycle = clock_.Monotonic();
  while (!stop_.stopped()) {
    absl::Duration wait;
    if (clock_.Monotonic() >= next_cycle) {
      next_cycle = clock_.Monotonic() + options_.interval;
      ASSIGN_OR_RETURN(AgentCycleReport report, RunCycle());
      if (report.pending_bytes == 0) backoff_.Reset();
    } else {
      AgentCycleReport report;
      Status delivered = Deliver(report);
      if (refused_) return delivered;
      if (!delivered.ok() && delivered.code() != StatusCode::kUnavailable) return delivered;
      if (delivered.ok()) {
        if (backoff_.failures() > 0) Log("info", "server back; outbox delivered", {{"batches", std::to_string(report.batches)}});
        backoff_.Reset();
      }
    }
    wait = next_cycle - clock_.Monotonic();
    if (outbox_->bytes() > 0) wait = std::min(wait, backoff_.Next());
    stop_.WaitFor(wait);
  }
  return OkStatus();
}

}  // namespace certcast::agent
