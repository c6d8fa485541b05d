// NumpyRandomState against vectors made by Debian's numpy (tests/support/make_numpy_vectors.py
// wrote tests/data/numpy_random_vectors.json; numpy_vectors_current checks it is still numpy's
// output). Every comparison is bitwise: the figure targets rely on the same bits as numpy.
#include "random/numpy_random.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

namespace hypergrad {
namespace {

const nlohmann::json& Vectors() {
  static const nlohmann::json vectors = [] {
    std::ifstream in(HYPERGRAD_NUMPY_VECTORS);
    if (!in) throw std::runtime_error("cannot open " HYPERGRAD_NUMPY_VECTORS);
    return nlohmann::json::parse(in);
  }();
  return vectors;
}

std::vector<double> Floats(const nlohmann::json& hex) {
  std::vector<double> out;
  for (const auto& h : hex) out.push_back(std::strtod(h.get<std::string>().c_str(), nullptr));
  return out;
}

// Bitwise: EXPECT_EQ on doubles compares with ==, which also holds for equal bits here (no NaN).
void ExpectSame(const std::vector<double>& expected, const std::vector<double>& actual,
                const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i], actual[i]) << what << " [" << i << "]";
  }
}

TEST(NumpyRandomStateTest, MatchesNumpyForEverySeedAndCall) {
  for (const auto& s : Vectors()["seeds"]) {
    const auto seed = s["seed"].get<std::uint32_t>();
    SCOPED_TRACE("seed " + std::to_string(seed));
    {
      NumpyRandomState rs(seed);
      for (const auto& v : s["raw32"]) EXPECT_EQ(v.get<std::uint64_t>(), rs.NextUint32());
    }
    {
      NumpyRandomState rs(seed);
      std::vector<double> u;
      for (std::size_t i = 0; i < s["random_sample"].size(); ++i) u.push_back(rs.RandomSample());
      ExpectSame(Floats(s["random_sample"]), u, "random_sample");
    }
    {
      NumpyRandomState rs(seed);
      ExpectSame(Floats(s["randn7"]), rs.Randn(7), "randn(7)");
      ExpectSame(Floats(s["randn3_after"]), rs.Randn(3), "randn(3) after randn(7)");
    }
    {
      NumpyRandomState rs(seed);
      const double a = rs.StandardNormal(), b = rs.RandomSample(), c = rs.StandardNormal(),
                   d = rs.StandardNormal();
      ExpectSame(Floats(s["mixed"]), {a, b, c, d}, "randn, random_sample, randn, randn");
    }
    {
      // One state for all highs, in the script's (sorted key) order.
      NumpyRandomState rs(seed);
      std::vector<std::uint64_t> highs;
      for (const auto& [key, _] : s["randint_after_each_other"].items()) highs.push_back(std::stoull(key));
      // The script drew them in this order: 1, 2, 3, 7, 10, 200, 10000, 65537, 2^31+1, 2^32.
      std::sort(highs.begin(), highs.end());
      for (const std::uint64_t h : highs) {
        const auto expected = s["randint_after_each_other"][std::to_string(h)].get<std::vector<std::uint64_t>>();
        EXPECT_EQ(expected, rs.RandInt(h, expected.size())) << "randint(" << h << ")";
      }
    }
    {
      NumpyRandomState rs(seed);
      EXPECT_EQ(s["permutation10"].get<std::vector<std::size_t>>(), rs.Permutation(10));
      EXPECT_EQ(s["permutation1000_after"].get<std::vector<std::size_t>>(), rs.Permutation(1000));
    }
    {
      NumpyRandomState rs(seed);
      std::vector<int> x(17);
      for (int i = 0; i < 17; ++i) x[static_cast<std::size_t>(i)] = i;
      rs.Shuffle(x);
      EXPECT_EQ(s["shuffle17"].get<std::vector<int>>(), x);
    }
  }
}

TEST(NumpyRandomStateTest, RandIntRejectsRangesNumpyDrawsDifferently) {
  NumpyRandomState rs(0);
  EXPECT_THROW(rs.RandInt(0), std::invalid_argument);
  EXPECT_THROW(rs.RandInt((std::uint64_t{1} << 32) + 1), std::invalid_argument);
}

TEST(AuthorsSeedTest, IsTheMd5PrefixOfPythonsStr) {
  for (const auto& [str, seed] : Vectors()["authors_seeds"].items()) {
    EXPECT_EQ(seed.get<std::uint32_t>(), AuthorsSeed(str)) << str;
  }
  EXPECT_EQ("(0, 0, 1)", PythonTupleStr({0, 0, 1}));
  EXPECT_EQ("(7,)", PythonTupleStr({7}));
  EXPECT_EQ("(0, -3)", PythonTupleStr({0, -3}));
}

TEST(AuthorsSeedTest, NumpysOwnValues) {
  // numpy's values for RandomState((0, 0, 0)).randint(10000, size=5) (seed 2841424136),
  // RandomState(1).permutation(10) and RandomState((0, 0)).randn(3) (seed 3147814774).
  NumpyRandomState batch = AuthorsRandomState({0, 0, 0});
  EXPECT_EQ((std::vector<std::uint64_t>{8817, 1012, 4353, 4385, 9792}), batch.RandInt(10000, 5));
  EXPECT_EQ((std::vector<std::size_t>{2, 9, 6, 4, 0, 3, 1, 7, 8, 5}), NumpyRandomState(1).Permutation(10));
  const std::vector<double> n = AuthorsRandomState({0, 0}).Randn(3);
  EXPECT_NEAR(0.79509929, n[0], 5e-9);
  EXPECT_NEAR(-0.54007245, n[1], 5e-9);
  EXPECT_NEAR(-0.22049896, n[2], 5e-9);
}

TEST(NumpyRandomStateTest, FigureStreamsStartAsTheAuthors) {
  const nlohmann::json& v = Vectors();
  NumpyRandomState fig10(0);
  fig10.SkipNormals(167560);  // the v_0 = randn(N)·0 draw
  std::vector<double> w0 = fig10.Randn(8);
  for (double& w : w0) w *= std::exp(-2.0);
  ExpectSame(Floats(v["fig10_w0_first"]), w0, "Fig 10 w_0");
  NumpyRandomState fig02 = AuthorsRandomState({0, 0});
  ExpectSame(Floats(v["fig02_epsilon_first"]), fig02.Randn(8), "Fig 2 epsilon, meta-iteration 0");
}

}  // namespace
}  // namespace hypergrad
