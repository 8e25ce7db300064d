// Names as certcast compares them: the registered domain of a DNS name (the one call site of the
// public suffix list), the host of a URL, and a CA's CAA identities. Pure functions; the public
// suffix list is loaded once per process (libpsl's newest of the system list and its built-in one).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/caa.h"

namespace certcast {

// Registered domain (eTLD+1 by the public suffix list) of a DNS name, "*." dropped first:
// "www.shop.example.co.uk" -> "example.co.uk". The name itself when the list has no answer (a
// bare public suffix, an IP address, a private test TLD).
std::string RegisteredDomain(std::string_view name);

// The organisation a host belongs to, for credentials one host reports on behalf of its siblings
// (an ACME account, an EAB key, a DNS API token): the host's parent domain, never shorter than its
// registered domain ("web3.shop.example.com" -> "shop.example.com", "web3.example.com" ->
// "example.com", "example.com" -> "example.com"); a bare name ("web1") is its own organisation.
// The parent, not the registered domain: two customers' hosts under one provider's domain
// (web1.alpha.example.net, web2.beta.example.net) hold different accounts.
std::string OrganisationOfHost(std::string_view host);

// Whether the ACME CA of `ca_url` requires External Account Binding, so that an expired EAB
// credential fails the lineage's orders (each CA's ACME documentation: ZeroSSL, Google Trust
// Services, SSL.com, Sectigo, DigiCert, Entrust, GlobalSign do; Let's Encrypt and Buypass do not).
bool CaRequiresEab(std::string_view ca_url);

// Lower-cased host of a URL, without user info, port, brackets or a trailing dot:
// "https://user@Acme.Example:14000/dir" -> "acme.example", "https://[::1]:443/" -> "::1".
std::string UrlHost(std::string_view url);

// The CAA issuer domain names that identify the CA whose ACME directory is `ca_url`: its host,
// the host's registered domain (letsencrypt.org for acme-v02.api.letsencrypt.org) and the
// identity the CA publishes under another name (each CA's CPS names it: ZeroSSL issues under
// "sectigo.com"). A URL-less value (a bare name) is taken as the host.
std::vector<std::string> CaaIdentities(std::string_view ca_url);

// RFC 8659 on presentation-form values (as DNS events carry them) for the CA of `ca_url`; the
// one evaluation of core/caa.h with the identities above.
CaaDecision CaaAllowsCa(std::span<const std::string> caa_values, std::string_view ca_url,
                        bool wildcard);

}  // namespace certcast
