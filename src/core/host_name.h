// This machine's name: the default `host` of the events a collector writes about the machine it
// runs on (clock, host health, deploys, config).
#pragma once

#include <unistd.h>

#include <string>

namespace certcast {

inline std::string LocalHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace certcast
