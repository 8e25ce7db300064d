// Randomness for the simulator. Two kinds:
//  - Rng: a sequential SplitMix64 stream for building the fleet and its fault schedule once;
//  - Draw(): a counter-based hash of (seed, subject, time, purpose) for everything decided while
//    stepping, so a lineage's luck on a given day does not depend on what other lineages or the
//    policy did before (common random numbers across policies).
// Own distributions instead of <random>'s because those are implementation-defined: the same seed
// must give the same fleet with any standard library.
#pragma once

#include <cmath>
#include <cstdint>

namespace certcast::sim {

inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t Draw(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return Mix64(seed ^ Mix64(a ^ Mix64(b ^ Mix64(c + 0x51ed2701ULL))));
}
inline double Unit(uint64_t h) { return double(h >> 11) * 0x1.0p-53; }

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix64(state_++ * 0x2545f4914f6cdd1dULL + 0x1234567ULL); }
  double Uniform() { return Unit(Next()); }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  bool Bernoulli(double p) { return Uniform() < p; }
  int64_t Below(int64_t n) { return n <= 1 ? 0 : int64_t(Next() % uint64_t(n)); }
  double Normal() {
    // Box-Muller; one value per call keeps the stream simple.
    double u1 = Uniform(), u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Log-normal with the given median.
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  // Poisson by inversion: fine for the small means used here (rates * years per subject).
  int Poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean > 50) return std::max(0, int(std::lround(mean + std::sqrt(mean) * Normal())));
    double l = std::exp(-mean), p = 1;
    int k = 0;
    do {
      ++k;
      p *= Uniform();
    } while (p > l && k < 1000);
    return k - 1;
  }
  // 1 + Poisson(mean - 1): a count of at least one.
  int AtLeastOne(double mean) { return 1 + Poisson(std::max(0.0, mean - 1)); }

 private:
  uint64_t state_;
};

}  // namespace certcast::sim
