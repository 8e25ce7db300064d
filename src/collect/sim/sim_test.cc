#include "collect/sim/simulator.h"
#include "gtest/gtest.h"
TEST(Sim, Placeholder) {}
