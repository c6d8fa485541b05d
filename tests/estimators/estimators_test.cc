// Each hypergradient estimator (lib/estimators/) against an independent check: forward mode
// against the exact reverse pass, the implicit methods against a closed-form implicit
// hypergradient, ES against the exact hypergradient as N grows, DrMAD and greedy against
// float64 implementations of their rules written here, and the registry's flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "estimators/cg.h"
#include "estimators/drmad.h"
#include "estimators/es.h"
#include "estimators/exact.h"
#include "estimators/forward_mode.h"
#include "estimators/greedy.h"
#include "estimators/neumann.h"
#include "estimators/pes.h"
#include "estimators/registry.h"
#include "estimators/truncated.h"
#include "models/mlp.h"
#include "arithmetic/rational.h"
#include "random/random.h"
#include "support/quadratic_model.h"
#include "support/small_mlp_run.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad {
namespace {

using testing::QuadraticModel;
using testing::SmallMlpRun;

double Norm(std::span<const double> x) {
  double s = 0.0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}
double RelativeError(std::span<const double> estimate, std::span<const double> truth) {
  std::vector<double> d(truth.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = estimate[i] - truth[i];
  return Norm(d) / Norm(truth);
}

// A small MLP problem: 6-8-3 tanh on 64 rows, batches of 16, per-layer blocks, a schedule that
// varies by step and block, meta-objective the mean NLL on all 64 rows. With `hyper_l2`, θ = the L2 penalty
// of each parameter.
EstimatorProblem SmallMlpProblem(std::size_t iters, bool hyper_l2 = false) {
  const SmallMlpRun run(5);
  EstimatorProblem p;
  const auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(64, 6, 3, 5));
  const std::size_t params = run.model->num_params();
  auto make = [data, hyper_l2, params](std::span<const double> theta) {
    std::vector<double> l2 = theta.empty() ? std::vector<double>{1e-3}
                                           : std::vector<double>(theta.begin(), theta.end());
    return std::make_shared<const Mlp>(MlpOptions{{6, 8, 3}, l2, hyper_l2, false}, data);
  };
  if (hyper_l2) {
    RandomStream rng(11);
    p.theta.resize(params);
    for (double& l : p.theta) l = 1e-3 * (1.0 + rng.Uniform());
    p.make_model = make;
  }
  p.model = make(p.theta);
  p.blocks = run.blocks;
  const std::size_t b = p.blocks.num_blocks();
  p.schedule = SgdSchedule::Constant(iters, b, 0.0, 0.5);
  RandomStream rng(7);
  const double gammas[] = {0.5, 0.75, 0.875};
  for (std::size_t i = 0; i < iters * b; ++i) {
    p.schedule.alpha[i] = 0.2 + 0.2 * rng.Uniform();
    p.schedule.gamma[i] = gammas[rng.UniformInt(3)];
  }
  p.batches = SequentialBatches(64, 16);
  p.w0 = run.w0;
  p.v0.assign(params, 0.0);
  const Mlp* mlp = static_cast<const Mlp*>(p.model.get());
  auto model = p.model;
  p.objective = [model, mlp](std::span<const double> w, std::span<double> d_w,
                             std::span<double> d_theta) {
    for (double& x : d_theta) x = 0.0;
    return mlp->Evaluate(w, mlp->data(), d_w).nll;
  };
  return p;
}

// The factor the fixed-point run multiplies v by: n/d = DecayToRatio(γ) (rational.h), which
// every float64 run here applies too, so that all runs follow the exact run's map.
double Applied(double gamma) {
  const DecayRatio r = DecayToRatio(gamma);
  return static_cast<double>(r.n) / static_cast<double>(r.d);
}

// Reverse mode of the float64 run written out here (all states stored): Algorithm 2 of the paper
// without exact arithmetic, reduced to blocks.
BlockHypergradients FloatReverseByHand(const EstimatorProblem& p) {
  const Model& m = *p.model;
  const std::size_t n = p.num_params(), iters = p.iters(), nb = p.blocks.num_blocks();
  auto alpha = [&](std::size_t t, std::size_t k) { return p.schedule.Alpha(t, p.blocks.block_of[k]); };
  auto gamma = [&](std::size_t t, std::size_t k) { return p.schedule.Gamma(t, p.blocks.block_of[k]); };
  std::vector<std::vector<double>> ws{p.w0}, vs{p.v0};
  std::vector<double> g(n), hv(n), u(n);
  for (std::size_t t = 0; t < iters; ++t) {
    std::vector<double> w = ws.back(), v = vs.back();
    m.Gradient(w, p.batches(t), g);
    for (std::size_t k = 0; k < n; ++k) {
      v[k] = Applied(gamma(t, k)) * v[k] - (1 - gamma(t, k)) * g[k];
      w[k] += alpha(t, k) * v[k];
    }
    ws.push_back(w);
    vs.push_back(v);
  }
  std::vector<double> dw(n), dv(n, 0.0);
  p.objective(ws.back(), dw, {});
  BlockHypergradients r;
  r.d_alpha_block.assign(nb, 0.0);
  r.d_gamma_block.assign(nb, 0.0);
  r.d_log_init_scale.assign(nb, 0.0);
  for (std::size_t t = iters; t-- > 0;) {
    for (std::size_t k = 0; k < n; ++k) {
      r.d_alpha_block[p.blocks.block_of[k]] += dw[k] * vs[t + 1][k];
      dv[k] += alpha(t, k) * dw[k];
      u[k] = (1 - gamma(t, k)) * dv[k];
    }
    m.GradientAndHvp(ws[t], p.batches(t), u, g, hv, {});
    for (std::size_t k = 0; k < n; ++k) {
      r.d_gamma_block[p.blocks.block_of[k]] += dv[k] * (vs[t][k] + g[k]);
      dw[k] -= hv[k];
      dv[k] *= gamma(t, k);
    }
  }
  for (std::size_t k = 0; k < n; ++k) r.d_log_init_scale[p.blocks.block_of[k]] += dw[k] * p.w0[k];
  return r;
}

// --- forward mode ---------------------------------------------------------------------------

// Forward mode differentiates the float64 run; the exact reverse pass the fixed-point run, which
// applies the same factors: the runs differ by the fixed-point rounding of w and v (2^-52
// absolute per step), so the two agree to ~1e-10 relative. Forward mode against reverse mode of
// the same float64 run (written out here) agrees to rounding.
TEST(ForwardModeTest, EqualsTheExactReversePassPerBlock) {
  const EstimatorProblem p = SmallMlpProblem(20);
  BlockHypergradients exact, forward;
  ExactEstimator().Estimate(p, &exact);
  const BlockHypergradients by_hand = FloatReverseByHand(p);
  const EstimatedHypergradients none = ForwardModeEstimator().Estimate(p, &forward);
  for (std::size_t k = 0; k < kNumHyperKinds; ++k) EXPECT_FALSE(none.applicable[k]);
  ASSERT_EQ(forward.d_alpha_block.size(), p.blocks.num_blocks());
  EXPECT_LT(RelativeError(forward.d_alpha_block, by_hand.d_alpha_block), 1e-12);
  EXPECT_LT(RelativeError(forward.d_gamma_block, by_hand.d_gamma_block), 1e-12);
  EXPECT_LT(RelativeError(forward.d_log_init_scale, by_hand.d_log_init_scale), 1e-12);
  EXPECT_LT(RelativeError(forward.d_alpha_block, exact.d_alpha_block), 1e-10);
  EXPECT_LT(RelativeError(forward.d_gamma_block, exact.d_gamma_block), 1e-10);
  EXPECT_LT(RelativeError(forward.d_log_init_scale, exact.d_log_init_scale), 1e-10);
  for (std::size_t j = 0; j < p.blocks.num_blocks(); ++j) {
    EXPECT_NEAR(forward.d_alpha_block[j], exact.d_alpha_block[j],
                1e-9 * Norm(exact.d_alpha_block)) << "block " << j;
  }
}

// --- truncated ----------------------------------------------------------------------------------

// K = T runs the whole reverse pass: every hypergradient is the exact estimator's, bit for bit.
TEST(TruncatedTest, KEqualToTGivesTheExactBits) {
  const EstimatorProblem p = SmallMlpProblem(12, /*hyper_l2=*/true);
  const EstimatedHypergradients exact = ExactEstimator().Estimate(p);
  const EstimatedHypergradients full = TruncatedEstimator(12).Estimate(p);
  for (std::size_t k = 0; k < kNumHyperKinds; ++k) {
    const auto kind = static_cast<HyperKind>(k);
    ASSERT_TRUE(full.Applicable(kind)) << HyperKindName(kind);
    ASSERT_EQ(full.Of(kind).size(), exact.Of(kind).size()) << HyperKindName(kind);
    for (std::size_t i = 0; i < exact.Of(kind).size(); ++i) {
      ASSERT_EQ(std::bit_cast<std::uint64_t>(full.Of(kind)[i]),
                std::bit_cast<std::uint64_t>(exact.Of(kind)[i]))
          << HyperKindName(kind) << "[" << i << "]";
    }
  }
}

// K = 0 reverses nothing: every hypergradient is 0 (θ keeps only the objective's direct term,
// 0 here), and each is reported (a truncated estimate of 0, not "not applicable").
TEST(TruncatedTest, KZeroGivesZeros) {
  const EstimatorProblem p = SmallMlpProblem(8, /*hyper_l2=*/true);
  const EstimatedHypergradients h = TruncatedEstimator(0).Estimate(p);
  for (std::size_t k = 0; k < kNumHyperKinds; ++k) {
    const auto kind = static_cast<HyperKind>(k);
    ASSERT_TRUE(h.Applicable(kind)) << HyperKindName(kind);
    ASSERT_FALSE(h.Of(kind).empty()) << HyperKindName(kind);
    for (double x : h.Of(kind)) ASSERT_EQ(x, 0.0) << HyperKindName(kind);
  }
}

// 0 < K < T: ∂f/∂α_t and ∂f/∂γ_t for t ≥ T−K depend only on steps t … T−1, so those rows are
// the exact ones bit for bit; rows before are 0, and so are ∂f/∂w_0 and ∂f/∂v_0; ∂f/∂θ is the
// last K steps' part only, so it differs from the exact value.
TEST(TruncatedTest, TheLastKRowsAreExactAndTheRestZero) {
  const std::size_t iters = 12, k = 5;
  const EstimatorProblem p = SmallMlpProblem(iters, /*hyper_l2=*/true);
  const std::size_t b = p.blocks.num_blocks();
  const EstimatedHypergradients exact = ExactEstimator().Estimate(p);
  const EstimatedHypergradients h = TruncatedEstimator(k).Estimate(p);
  for (HyperKind kind : {HyperKind::kAlpha, HyperKind::kGamma}) {
    for (std::size_t t = 0; t < iters; ++t) {
      for (std::size_t j = 0; j < b; ++j) {
        const double got = h.Of(kind)[t * b + j];
        if (t >= iters - k) {
          ASSERT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(exact.Of(kind)[t * b + j]))
              << HyperKindName(kind) << " row " << t << " block " << j;
          ASSERT_NE(got, 0.0) << HyperKindName(kind) << " row " << t << " block " << j;
        } else {
          ASSERT_EQ(got, 0.0) << HyperKindName(kind) << " row " << t << " block " << j;
        }
      }
    }
  }
  for (double x : h.d_w0) ASSERT_EQ(x, 0.0);
  for (double x : h.d_v0) ASSERT_EQ(x, 0.0);
  EXPECT_GT(RelativeError(h.d_theta, exact.d_theta), 1e-6);
  EXPECT_GT(Norm(h.d_theta), 0.0);
}

TEST(TruncatedTest, KBeyondTIsAClearError) {
  using ::testing::HasSubstr;
  using ::testing::ThrowsMessage;
  const EstimatorProblem p = SmallMlpProblem(4);
  EXPECT_THAT([&] { TruncatedEstimator(5).Estimate(p); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("--truncation 5 exceeds the run's T = 4")));
  EXPECT_EQ(TruncatedEstimator(3).settings(), "truncated truncation=3");
}

// --- implicit function: Neumann and CG --------------------------------------------------------

// L(w, λ) = ½ wᵀ A w − bᵀ w + Σ_k λ_k w_k² (A symmetric positive definite, eigenvalues in
// [1, 3]); ∇_w L = A w − b + 2λ⊙w, ∇²_w L = A + 2 diag(λ), ∇_λ⟨∇_w L, u⟩ = 2 w⊙u.
class PenalisedQuadratic final : public Model {
 public:
  static constexpr std::size_t kDim = 4;
  explicit PenalisedQuadratic(std::vector<double> lambda) : lambda_(std::move(lambda)) {
    // A = Q diag(1, 1.5, 2.5, 3) Qᵀ with Q a Householder reflection of a fixed vector.
    const double u[kDim] = {0.5, -0.3, 0.7, 0.2};
    const double eig[kDim] = {1.0, 1.5, 2.5, 3.0};
    double uu = 0.0;
    for (double x : u) uu += x * x;
    double q[kDim][kDim];
    for (std::size_t i = 0; i < kDim; ++i) {
      for (std::size_t j = 0; j < kDim; ++j) q[i][j] = (i == j ? 1.0 : 0.0) - 2.0 * u[i] * u[j] / uu;
    }
    for (std::size_t i = 0; i < kDim; ++i) {
      for (std::size_t j = 0; j < kDim; ++j) {
        a_[i][j] = 0.0;
        for (std::size_t k = 0; k < kDim; ++k) a_[i][j] += q[i][k] * eig[k] * q[j][k];
      }
    }
  }
  static constexpr double kB[kDim] = {1.0, -2.0, 0.5, 1.5};
  std::size_t num_params() const override { return kDim; }
  std::size_t num_hyper() const override { return kDim; }
  double Gradient(std::span<const double> w, const Batch&, std::span<double> grad) const override {
    double loss = 0.0;
    for (std::size_t i = 0; i < kDim; ++i) {
      double aw = 0.0;
      for (std::size_t j = 0; j < kDim; ++j) aw += a_[i][j] * w[j];
      grad[i] = aw - kB[i] + 2.0 * lambda_[i] * w[i];
      loss += 0.5 * w[i] * aw - kB[i] * w[i] + lambda_[i] * w[i] * w[i];
    }
    return loss;
  }
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override {
    const double loss = Gradient(w, batch, grad);
    for (std::size_t i = 0; i < kDim; ++i) {
      double au = 0.0;
      for (std::size_t j = 0; j < kDim; ++j) au += a_[i][j] * u[j];
      hvp[i] = au + 2.0 * lambda_[i] * u[i];
      if (!mixed.empty()) mixed[i] = 2.0 * w[i] * u[i];
    }
    return loss;
  }
  double A(std::size_t i, std::size_t j) const { return a_[i][j]; }

 private:
  std::vector<double> lambda_;
  double a_[kDim][kDim];
};

// Solves M x = r by Gaussian elimination with partial pivoting (dense, tiny).
std::vector<double> Solve(std::vector<std::vector<double>> m, std::vector<double> r) {
  const std::size_t n = r.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t piv = c;
    for (std::size_t i = c + 1; i < n; ++i) {
      if (std::abs(m[i][c]) > std::abs(m[piv][c])) piv = i;
    }
    std::swap(m[c], m[piv]);
    std::swap(r[c], r[piv]);
    for (std::size_t i = c + 1; i < n; ++i) {
      const double f = m[i][c] / m[c][c];
      for (std::size_t j = c; j < n; ++j) m[i][j] -= f * m[c][j];
      r[i] -= f * r[c];
    }
  }
  std::vector<double> x(n);
  for (std::size_t i = n; i-- > 0;) {
    double s = r[i];
    for (std::size_t j = i + 1; j < n; ++j) s -= m[i][j] * x[j];
    x[i] = s / m[i][i];
  }
  return x;
}

// The problem trained to convergence (600 steps at α = 0.25, γ = 0.5: the error contracts by at
// least 0.9 per step), meta-objective f = ½‖w − c‖².
EstimatorProblem ConvergedQuadratic(const std::vector<double>& lambda) {
  EstimatorProblem p;
  p.theta = lambda;
  p.make_model = [](std::span<const double> t) {
    return std::make_shared<const PenalisedQuadratic>(std::vector<double>(t.begin(), t.end()));
  };
  p.model = p.make_model(p.theta);
  p.blocks = ParameterBlocks::Single(PenalisedQuadratic::kDim);
  p.schedule = SgdSchedule::Constant(600, 1, 0.25, 0.5);
  p.batches = [](std::size_t) { return Batch{{0}}; };
  p.w0.assign(PenalisedQuadratic::kDim, 0.0);
  p.v0.assign(PenalisedQuadratic::kDim, 0.0);
  p.objective = [](std::span<const double> w, std::span<double> d_w, std::span<double> d_theta) {
    const double c[] = {0.3, 0.1, -0.2, 0.4};
    double f = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      f += 0.5 * (w[i] - c[i]) * (w[i] - c[i]);
      if (!d_w.empty()) d_w[i] = w[i] - c[i];
    }
    for (double& x : d_theta) x = 0.0;
    return f;
  };
  return p;
}

// The closed form: w* = (A + 2Λ)⁻¹ b, q = (A + 2Λ)⁻¹ (w* − c), df/dλ_k = −2 w*_k q_k.
std::vector<double> AnalyticImplicit(const std::vector<double>& lambda) {
  const PenalisedQuadratic model(lambda);
  const std::size_t n = PenalisedQuadratic::kDim;
  std::vector<std::vector<double>> h(n, std::vector<double>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) h[i][j] = model.A(i, j) + (i == j ? 2.0 * lambda[i] : 0.0);
  }
  const std::vector<double> w =
      Solve(h, std::vector<double>(PenalisedQuadratic::kB, PenalisedQuadratic::kB + n));
  const double c[] = {0.3, 0.1, -0.2, 0.4};
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = w[i] - c[i];
  const std::vector<double> q = Solve(h, r);
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = -2.0 * w[i] * q[i];
  return d;
}

TEST(ImplicitFunctionTest, NeumannAndCgEqualTheAnalyticImplicitHypergradient) {
  const std::vector<double> lambda = {0.1, 0.2, 0.05, 0.3};
  const EstimatorProblem p = ConvergedQuadratic(lambda);
  const std::vector<double> truth = AnalyticImplicit(lambda);
  // Neumann: ρ(I − αH) ≤ 1 − 0.25·1 = 0.75, so 100 terms leave 0.75^101 ≈ 2e-13.
  const EstimatedHypergradients neumann = NeumannEstimator(100).Estimate(p);
  // CG is exact after n = 4 iterations in exact arithmetic.
  const EstimatedHypergradients cg = CgEstimator(4).Estimate(p);
  for (const auto* e : {&neumann, &cg}) {
    EXPECT_TRUE(e->Applicable(HyperKind::kTheta));
    EXPECT_FALSE(e->Applicable(HyperKind::kAlpha));
    EXPECT_FALSE(e->Applicable(HyperKind::kGamma));
    EXPECT_FALSE(e->Applicable(HyperKind::kW0));
    EXPECT_TRUE(e->d_alpha.empty());
    EXPECT_LT(RelativeError(e->d_theta, truth), 1e-9);
  }
  // Few terms leave a visible truncation error (the test can fail).
  EXPECT_GT(RelativeError(NeumannEstimator(2).Estimate(p).d_theta, truth), 1e-3);
  EXPECT_GT(RelativeError(CgEstimator(1).Estimate(p).d_theta, truth), 1e-3);
}

// The stopping rule against textbook CG written here on the same matrix H = A + 2Λ and
// right-hand side b = ∇f(w_T) = w_T − c: CG stops at the first k with ‖r_k‖ ≤ R·‖b‖ and
// records k and ‖r_k‖/‖b‖; a large K with a tolerance gives the bits of K = k.
TEST(ImplicitFunctionTest, CgStopsAtItsToleranceAndRecordsTheIterations) {
  const std::vector<double> lambda = {0.1, 0.2, 0.05, 0.3};
  const EstimatorProblem p = ConvergedQuadratic(lambda);
  const PenalisedQuadratic model(lambda);
  const std::size_t n = PenalisedQuadratic::kDim;
  for (const double tol : {1e-1, 1e-3, 1e-12}) {
    const EstimatedHypergradients e = CgEstimator(1000, tol).Estimate(p);
    // Textbook CG (Hestenes & Stiefel 1952) from q = 0 on H q = b.
    const std::vector<double>& w = e.final_state.w_T;
    const double c[] = {0.3, 0.1, -0.2, 0.4};
    std::vector<double> r(n), d(n), hd(n);
    for (std::size_t i = 0; i < n; ++i) r[i] = d[i] = w[i] - c[i];
    const double b_norm = Norm(r);
    std::size_t k = 0;
    while (Norm(r) > tol * b_norm) {
      for (std::size_t i = 0; i < n; ++i) {
        hd[i] = 2.0 * lambda[i] * d[i];
        for (std::size_t j = 0; j < n; ++j) hd[i] += model.A(i, j) * d[j];
      }
      double rr = 0, dhd = 0;
      for (std::size_t i = 0; i < n; ++i) rr += r[i] * r[i], dhd += d[i] * hd[i];
      double rr_next = 0;
      for (std::size_t i = 0; i < n; ++i) {
        r[i] -= rr / dhd * hd[i];
        rr_next += r[i] * r[i];
      }
      for (std::size_t i = 0; i < n; ++i) d[i] = r[i] + rr_next / rr * d[i];
      ++k;
      ASSERT_LE(k, 2 * n) << "textbook CG did not converge";
    }
    ASSERT_EQ(e.diagnostics.at("cg_iterations"), static_cast<double>(k)) << tol;
    EXPECT_LE(e.diagnostics.at("cg_relative_residual"), tol) << tol;
    EXPECT_NEAR(e.diagnostics.at("cg_relative_residual"), Norm(r) / b_norm, 1e-9 * Norm(r) / b_norm + 1e-15)
        << tol;
    // The same bits as K = k iterations with the smallest tolerance.
    EXPECT_EQ(e.d_theta, CgEstimator(k, 1e-16).Estimate(p).d_theta) << tol;
  }
  // A loose tolerance stops before the n = 4 iterations that solve it exactly.
  EXPECT_LT(CgEstimator(1000, 1e-1).Estimate(p).diagnostics.at("cg_iterations"), 4.0);
}

// The implicit methods' Hessian is the last min(T, 10) minibatches together, applied one
// minibatch at a time (implicit_function.h). Written out here with the rows of those minibatches
// as one batch (the MLP's loss is the mean over its batch plus the penalty): Neumann's q and
// d_theta = −∇_θ⟨∇_w L, q⟩ agree to rounding.
TEST(ImplicitFunctionTest, TheHessianIsTheLastMinibatchesTogether) {
  const EstimatorProblem p = SmallMlpProblem(14, /*hyper_l2=*/true);
  const std::size_t n = p.num_params(), h = p.model->num_hyper(), terms = 6;
  const EstimatedHypergradients e = NeumannEstimator(terms).Estimate(p);
  const std::vector<double>& w = e.final_state.w_T;
  Batch all;
  for (std::size_t t = 4; t < 14; ++t) {
    const Batch b = p.batches(t);
    all.rows.insert(all.rows.end(), b.rows.begin(), b.rows.end());
  }
  std::vector<double> d_w(n), g(n), hv(n), mixed(h), term(n), q(n);
  p.objective(w, d_w, {});
  for (std::size_t k = 0; k < n; ++k) {
    term[k] = q[k] = p.schedule.Alpha(13, p.blocks.block_of[k]) * d_w[k];
  }
  for (std::size_t j = 0; j < terms; ++j) {
    p.model->GradientAndHvp(w, all, term, g, hv, {});
    for (std::size_t k = 0; k < n; ++k) {
      term[k] -= p.schedule.Alpha(13, p.blocks.block_of[k]) * hv[k];
      q[k] += term[k];
    }
  }
  p.model->GradientAndHvp(w, all, q, g, hv, mixed);
  for (double& x : mixed) x = -x;  // the objective has no direct term in θ
  EXPECT_LT(RelativeError(e.d_theta, mixed), 1e-12);
}

TEST(ImplicitFunctionTest, AModelWithoutHyperparametersIsAClearError) {
  EstimatorProblem p = SmallMlpProblem(3);
  EXPECT_THAT([&] { CgEstimator(3).Estimate(p); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("no hyperparameters")));
}

// --- ES and PES ---------------------------------------------------------------------------

// The authors' quadratic (support/quadratic_model.h), 5 steps, α = 0.05, γ = 0.5; f = ‖w_T‖².
EstimatorProblem SmallQuadratic() {
  EstimatorProblem p;
  p.model = std::make_shared<const QuadraticModel>(7, std::vector<double>{});
  p.blocks = ParameterBlocks::Single(QuadraticModel::kDim);
  p.schedule = SgdSchedule::Constant(5, 1, 0.05, 0.5);
  p.batches = SequentialBatches(QuadraticModel::kRows, 4);
  RandomStream rng(3);
  p.w0.resize(QuadraticModel::kDim);
  for (double& w : p.w0) w = rng.Normal();
  p.v0.assign(QuadraticModel::kDim, 0.0);
  p.objective = [](std::span<const double> w, std::span<double> d_w, std::span<double>) {
    double f = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      f += w[i] * w[i];
      if (!d_w.empty()) d_w[i] = 2.0 * w[i];
    }
    return f;
  };
  return p;
}

std::vector<double> Concatenated(const EstimatedHypergradients& h) {
  std::vector<double> x = h.d_alpha;
  x.insert(x.end(), h.d_gamma.begin(), h.d_gamma.end());
  x.insert(x.end(), h.d_w0.begin(), h.d_w0.end());
  return x;
}

// 15 coordinates: the relative error of N antithetic pairs falls like √(15/N) (σ = 1e-4 keeps
// the smoothing bias far below it).
TEST(EsTest, ConvergesToTheExactHypergradientAsSamplesGrow) {
  const EstimatorProblem p = SmallQuadratic();
  const std::vector<double> exact = Concatenated(ExactEstimator().Estimate(p));
  const EstimatedHypergradients small = EsEstimator(10, 1e-4, 1).Estimate(p);
  const EstimatedHypergradients large = EsEstimator(4000, 1e-4, 1).Estimate(p);
  EXPECT_FALSE(large.Applicable(HyperKind::kV0));
  const double e_small = RelativeError(Concatenated(small), exact);
  const double e_large = RelativeError(Concatenated(large), exact);
  EXPECT_LT(e_large, 0.15);
  EXPECT_LT(e_large, e_small / 4.0);
}

TEST(PesTest, OneTruncationIsEsAndTheSameSeedGivesTheSameBits) {
  const EstimatorProblem p = SmallQuadratic();
  const EstimatedHypergradients es = EsEstimator(8, 1e-3, 4).Estimate(p);
  const EstimatedHypergradients pes = PesEstimator(5, 8, 1e-3, 4).Estimate(p);
  EXPECT_EQ(Concatenated(es), Concatenated(pes));
  const EstimatedHypergradients a = PesEstimator(2, 8, 1e-3, 4).Estimate(p);
  const EstimatedHypergradients b = PesEstimator(2, 8, 1e-3, 4).Estimate(p);
  EXPECT_EQ(Concatenated(a), Concatenated(b));
  EXPECT_NE(Concatenated(a), Concatenated(pes));
}

// K > T is refused as truncated's is (K = T is already es).
TEST(PesTest, KBeyondTIsAClearError) {
  const EstimatorProblem p = SmallQuadratic();
  EXPECT_THAT([&] { PesEstimator(6, 2, 1e-3).Estimate(p); },
              ::testing::ThrowsMessage<std::invalid_argument>(
                  ::testing::HasSubstr("estimator 'pes': --truncation 6 exceeds the run's T = 5")));
}

// --- DrMAD ---------------------------------------------------------------------------------

// The rule as Fu et al.'s sgd4_mad states it, written out again in float64: the float64 run to
// w_T, then the reverse pass on the line x_t = (1 − β_t) w_0 + β_t w_T.
EstimatedHypergradients DrmadByHand(const EstimatorProblem& p) {
  const Model& m = *p.model;
  const std::size_t n = p.num_params(), iters = p.iters(), nb = p.blocks.num_blocks();
  const std::size_t h = m.num_hyper();
  auto alpha = [&](std::size_t t, std::size_t k) { return p.schedule.Alpha(t, p.blocks.block_of[k]); };
  auto gamma = [&](std::size_t t, std::size_t k) { return p.schedule.Gamma(t, p.blocks.block_of[k]); };
  std::vector<double> w = p.w0, v = p.v0, g(n), hv(n), mixed(h), u(n);
  for (std::size_t t = 0; t < iters; ++t) {
    m.Gradient(w, p.batches(t), g);
    for (std::size_t k = 0; k < n; ++k) {
      v[k] = Applied(gamma(t, k)) * v[k] - (1 - gamma(t, k)) * g[k];
      w[k] = w[k] + alpha(t, k) * v[k];
    }
  }
  EstimatedHypergradients r;
  std::vector<double> dw(n), dv(n, 0.0);
  r.d_theta.assign(h, 0.0);
  p.objective(w, dw, r.d_theta);
  r.d_alpha.assign(iters * nb, 0.0);
  r.d_gamma.assign(iters * nb, 0.0);
  const double step = (0.999 - 0.001) / static_cast<double>(iters - 1);
  std::vector<double> beta(iters);
  for (std::size_t t = 0; t < iters; ++t) beta[t] = static_cast<double>(t) * step + 0.001;
  beta[iters - 1] = 0.999;
  auto x_at = [&](long t, std::size_t k) {
    return t < 0 ? p.w0[k] : (1 - beta[t]) * p.w0[k] + beta[t] * w[k];
  };
  for (long t = static_cast<long>(iters) - 1; t >= 0; --t) {
    std::vector<double> x(n), vel(n);
    for (std::size_t k = 0; k < n; ++k) {
      x[k] = x_at(t, k);
      vel[k] = (x_at(t, k) - x_at(t - 1, k)) / alpha(t, k);
      r.d_alpha[t * nb + p.blocks.block_of[k]] += dw[k] * vel[k];
      dv[k] += alpha(t, k) * dw[k];
      u[k] = (1 - gamma(t, k)) * dv[k];
    }
    m.GradientAndHvp(x, p.batches(t), u, g, hv, mixed);
    for (std::size_t k = 0; k < n; ++k) {
      r.d_gamma[t * nb + p.blocks.block_of[k]] += dv[k] * (vel[k] + g[k]);
      dw[k] -= hv[k];
      dv[k] *= gamma(t, k);
    }
    for (std::size_t i = 0; i < h; ++i) r.d_theta[i] -= mixed[i];
  }
  r.d_w0 = dw;
  r.d_v0 = dv;
  return r;
}

TEST(DrmadTest, FollowsTheAuthorsRuleOnTheLine) {
  const EstimatorProblem p = SmallMlpProblem(12, /*hyper_l2=*/true);
  const EstimatedHypergradients got = DrmadEstimator().Estimate(p);
  const EstimatedHypergradients want = DrmadByHand(p);
  for (HyperKind k : {HyperKind::kAlpha, HyperKind::kGamma, HyperKind::kW0, HyperKind::kV0,
                      HyperKind::kTheta}) {
    ASSERT_TRUE(got.Applicable(k)) << HyperKindName(k);
    // The same operations in another order: float64 rounding only.
    EXPECT_LT(RelativeError(got.Of(k), want.Of(k)), 1e-12) << HyperKindName(k);
  }
  // DrMAD is an approximation: it differs from the exact hypergradient (the test can fail).
  const EstimatedHypergradients exact = ExactEstimator().Estimate(p);
  EXPECT_GT(RelativeError(got.d_alpha, exact.d_alpha), 1e-3);
}

// --- greedy --------------------------------------------------------------------------------

// Each row against central differences of f after the one step t, from the float64 run's
// (w_t, v_t): f(w_{t+1}) is linear in α_t and quadratic-free in γ_t through w_{t+1}, so the
// difference has only f's own curvature error (~h²).
TEST(GreedyTest, EachRowIsTheOneStepDerivative) {
  const EstimatorProblem p = SmallMlpProblem(6);
  const EstimatedHypergradients got = GreedyEstimator().Estimate(p);
  EXPECT_FALSE(got.Applicable(HyperKind::kW0));
  EXPECT_FALSE(got.Applicable(HyperKind::kTheta));
  const std::size_t n = p.num_params(), nb = p.blocks.num_blocks();
  std::vector<double> w = p.w0, v = p.v0, g(n);
  for (std::size_t t = 0; t < p.iters(); ++t) {
    const Batch batch = p.batches(t);
    p.model->Gradient(w, batch, g);
    for (std::size_t j = 0; j < nb; ++j) {
      for (int kind = 0; kind < 2; ++kind) {
        const double h = 1e-5;
        double f[2];
        for (int side = 0; side < 2; ++side) {
          std::vector<double> w1 = w;
          for (std::size_t k = 0; k < n; ++k) {
            const std::size_t b = p.blocks.block_of[k];
            // γ moves the factor r = n/d and the increment's (1 − γ) together, as the
            // estimators' derivatives assume.
            double a = p.schedule.Alpha(t, b), c = p.schedule.Gamma(t, b), r = Applied(c);
            const double delta = side == 0 ? h : -h;
            if (b == j && kind == 0) a += delta;
            if (b == j && kind == 1) {
              c += delta;
              r += delta;
            }
            w1[k] += a * (r * v[k] - (1 - c) * g[k]);
          }
          f[side] = p.objective(w1, {}, {});
        }
        const double fd = (f[0] - f[1]) / (2 * h);
        const double est = (kind == 0 ? got.d_alpha : got.d_gamma)[t * nb + j];
        EXPECT_NEAR(est, fd, 1e-6 * std::abs(fd) + 1e-9) << "t " << t << " block " << j << " kind " << kind;
      }
    }
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t b = p.blocks.block_of[k];
      v[k] = Applied(p.schedule.Gamma(t, b)) * v[k] - (1 - p.schedule.Gamma(t, b)) * g[k];
      w[k] += p.schedule.Alpha(t, b) * v[k];
    }
  }
}

// --- the trained state each estimator reports ------------------------------------------------

// final_state is the end of the unperturbed run the estimator trained: the fixed-point run's bits
// for exact and truncated; the float64 run (float_sgd.h) for the others that train one, which
// differs from the fixed-point run by its rounding of w and v (2^-52 absolute per step), so by far
// less than 1e-9 here; none for es and pes (they train perturbed runs only).
TEST(FinalStateTest, EachEstimatorReportsTheRunItTrained) {
  const EstimatorProblem p = SmallMlpProblem(12, /*hyper_l2=*/true);  // T ≥ the default K = 10
  const EstimatedHypergradients exact = ExactEstimator().Estimate(p);
  ASSERT_EQ(exact.final_state.run, "fixed point");
  ASSERT_EQ(exact.final_state.w_T.size(), p.num_params());
  std::vector<double> d_w(p.num_params());
  EXPECT_EQ(exact.final_state.f, p.objective(exact.final_state.w_T, d_w, {}));
  for (const std::string& name : EstimatorNames()) {
    const EstimatedHypergradients e = MakeEstimator(name, {})->Estimate(p);
    const FinalState& s = e.final_state;
    if (name == "es" || name == "pes") {
      EXPECT_TRUE(s.empty()) << name;
      continue;
    }
    const bool fixed = name == "exact" || name == "truncated";
    EXPECT_EQ(s.run, fixed ? "fixed point" : "float64") << name;
    ASSERT_EQ(s.w_T.size(), p.num_params()) << name;
    ASSERT_EQ(s.v_T.size(), p.num_params()) << name;
    for (std::size_t k = 0; k < p.num_params(); ++k) {
      if (fixed) {
        ASSERT_EQ(std::bit_cast<std::uint64_t>(s.w_T[k]),
                  std::bit_cast<std::uint64_t>(exact.final_state.w_T[k])) << name << " w_T[" << k << "]";
      } else {
        ASSERT_NEAR(s.w_T[k], exact.final_state.w_T[k], 1e-9) << name << " w_T[" << k << "]";
        ASSERT_NEAR(s.v_T[k], exact.final_state.v_T[k], 1e-9) << name << " v_T[" << k << "]";
      }
    }
    EXPECT_NEAR(s.f, exact.final_state.f, 1e-9 * std::abs(exact.final_state.f)) << name;
  }
}

// --- registry ------------------------------------------------------------------------------

TEST(RegistryTest, EveryEstimatorIsMadeWithItsDefaults) {
  for (const std::string& name : EstimatorNames()) {
    const auto e = MakeEstimator(name, {});
    EXPECT_EQ(e->name(), name);
  }
}

TEST(RegistryTest, AFlagThatDoesNotApplyIsAnError) {
  using ::testing::HasSubstr;
  using ::testing::ThrowsMessage;
  EstimatorFlags terms;
  terms.terms = 5;
  EXPECT_THAT([&] { MakeEstimator("drmad", terms); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("estimator 'drmad' takes no --terms")));
  EXPECT_THAT([&] { MakeEstimator("es", terms); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("takes no --terms")));
  EXPECT_NO_THROW(MakeEstimator("neumann", terms));
  EXPECT_NO_THROW(MakeEstimator("cg", terms));
  EstimatorFlags trunc;
  trunc.truncation = 3;
  EXPECT_THAT([&] { MakeEstimator("es", trunc); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("takes no --truncation")));
  EXPECT_NO_THROW(MakeEstimator("pes", trunc));
  EXPECT_NO_THROW(MakeEstimator("truncated", trunc));
  EXPECT_THAT([&] { MakeEstimator("truncated", terms); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("estimator 'truncated' takes no --terms")));
  EstimatorFlags sigma;
  sigma.sigma = 0.1;
  EXPECT_THROW(MakeEstimator("exact", sigma), std::invalid_argument);
  EXPECT_THROW(MakeEstimator("forward", sigma), std::invalid_argument);
  EXPECT_THROW(MakeEstimator("greedy", sigma), std::invalid_argument);
  EXPECT_THAT([&] { MakeEstimator("nope", {}); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("unknown estimator 'nope' (known: exact")));
  EXPECT_EQ(EstimatorFlagNames("pes"), (std::vector<std::string>{"--truncation", "--samples", "--sigma"}));
  EXPECT_EQ(EstimatorFlagNames("cg"), (std::vector<std::string>{"--terms", "--tolerance"}));
  EstimatorFlags tolerance;
  tolerance.tolerance = 1e-6;
  EXPECT_THAT([&] { MakeEstimator("neumann", tolerance); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("estimator 'neumann' takes no --tolerance")));
}

// The settings a run records: registry.h's defaults (truncation 10, terms 20, samples 16, sigma
// 0.01) for the flags an estimator takes, the values given kept, the flags it does not take unset.
TEST(RegistryTest, CompletedFlagsAreTheSettingsTheEstimatorRunsWith) {
  const EstimatorFlags pes = CompleteEstimatorFlags("pes", {});
  EXPECT_EQ(pes.truncation, 10u);
  EXPECT_EQ(pes.samples, 16u);
  EXPECT_EQ(pes.sigma, 0.01);
  EXPECT_FALSE(pes.terms.has_value());
  EXPECT_EQ(MakeEstimator("pes", {})->settings(), "pes truncation=10 samples=16 sigma=0.010000 seed=0");
  EstimatorFlags given;
  given.terms = 7;
  given.seed = 5;
  const EstimatorFlags cg = CompleteEstimatorFlags("cg", given);
  EXPECT_EQ(cg.terms, 7u);
  EXPECT_EQ(cg.seed, 5u);
  EXPECT_FALSE(cg.truncation || cg.samples || cg.sigma);
  EXPECT_EQ(cg.tolerance, 1e-12);
  EXPECT_EQ(MakeEstimator("cg", given)->settings(), "cg terms=7 tolerance=1e-12");
  EXPECT_EQ(CompleteEstimatorFlags("neumann", {}).terms, 20u);
  const EstimatorFlags drmad = CompleteEstimatorFlags("drmad", {});
  EXPECT_FALSE(drmad.truncation || drmad.terms || drmad.samples || drmad.sigma);
  EXPECT_THROW(CompleteEstimatorFlags("drmad", given), std::invalid_argument);
  EXPECT_THROW(CompleteEstimatorFlags("nope", {}), std::invalid_argument);
  for (const std::string& name : EstimatorNames()) {
    EXPECT_EQ(EstimatorDrawsNoise(name), name == "es" || name == "pes") << name;
  }
  EXPECT_THROW(EstimatorDrawsNoise("nope"), std::invalid_argument);
}

TEST(RegistryTest, ValuesAreParsedAndCheckedWithTheFlagNamed) {
  using ::testing::HasSubstr;
  using ::testing::ThrowsMessage;
  EstimatorFlags f;
  EXPECT_TRUE(ParseEstimatorFlag("--terms", "20", f));
  EXPECT_EQ(f.terms, 20u);
  EXPECT_TRUE(ParseEstimatorFlag("--sigma", "0.05", f));
  EXPECT_EQ(f.sigma, 0.05);
  EXPECT_FALSE(ParseEstimatorFlag("--iters", "3", f));
  EXPECT_THAT([&] { ParseEstimatorFlag("--samples", "-3", f); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("--samples: expected a whole number")));
  // σ outside [1e-10, 1]: 0, negative, infinite, huge, denormal, not a number.
  for (const char* bad : {"0", "-0.01", "inf", "-inf", "1e300", "4e-320", "1e-11", "1.5", "nan", "0.01x", ""}) {
    EXPECT_THAT([&] { ParseEstimatorFlag("--sigma", bad, f); },
                ThrowsMessage<std::invalid_argument>(
                    HasSubstr("--sigma: expected a number in [1e-10, 1], got '" + std::string(bad) + "'")))
        << bad;
  }
  EXPECT_EQ(f.sigma, 0.05);  // unchanged by the refused values
  for (const char* good : {"1e-10", "1"}) EXPECT_TRUE(ParseEstimatorFlag("--sigma", good, f)) << good;
  for (const char* bad : {"0", "1", "1e-17"}) {
    EXPECT_THAT([&] { ParseEstimatorFlag("--tolerance", bad, f); },
                ThrowsMessage<std::invalid_argument>(HasSubstr("--tolerance: expected a number in [1e-16, 0.1]")))
        << bad;
  }
  EXPECT_THROW(ParseEstimatorFlag("--truncation", "2x", f), std::invalid_argument);
  // Whole numbers: the range depends on the estimator, named with it.
  EstimatorFlags zero;
  zero.truncation = 0;
  EXPECT_THAT([&] { MakeEstimator("pes", zero); },
              ThrowsMessage<std::invalid_argument>(
                  HasSubstr("--truncation: expected a whole number in [1, 1000000] for --estimator pes, got 0")));
  EXPECT_NO_THROW(MakeEstimator("truncated", zero));  // K = 0: zeros, a valid truncated estimate
  EstimatorFlags terms;
  terms.terms = 0;
  EXPECT_THAT([&] { MakeEstimator("cg", terms); },
              ThrowsMessage<std::invalid_argument>(
                  HasSubstr("--terms: expected a whole number in [1, 100000] for --estimator cg, got 0")));
  EXPECT_NO_THROW(MakeEstimator("neumann", terms));  // K = 0: the first term A·∇f
  terms.terms = 100001;
  EXPECT_THAT([&] { MakeEstimator("cg", terms); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("[1, 100000] for --estimator cg, got 100001")));
  EXPECT_THAT([&] { MakeEstimator("neumann", terms); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("[0, 100000] for --estimator neumann, got 100001")));
  EstimatorFlags no_samples;
  no_samples.samples = 0;
  EXPECT_THAT([&] { MakeEstimator("es", no_samples); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("--samples: expected a whole number in [1, 100000] for --estimator es")));
  // Values set directly (not parsed) are checked too, by the registry and by the constructors.
  EstimatorFlags huge_sigma;
  huge_sigma.sigma = 1e300;
  EXPECT_THAT([&] { MakeEstimator("pes", huge_sigma); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("--sigma: expected a number in [1e-10, 1] for --estimator pes, got 1e+300")));
  EXPECT_THROW(EsEstimator(4, 0.0), std::invalid_argument);
  EXPECT_THROW(EsEstimator(4, std::numeric_limits<double>::infinity()), std::invalid_argument);
  EXPECT_THROW(PesEstimator(2, 4, -0.01), std::invalid_argument);
  EXPECT_THROW(PesEstimator(2, 4, 4e-320), std::invalid_argument);
  EXPECT_THROW(CgEstimator(0), std::invalid_argument);
  EXPECT_THROW(CgEstimator(5, 0.5), std::invalid_argument);
  EXPECT_THROW(NeumannEstimator(100001), std::invalid_argument);
  // The implicit methods estimate θ only.
  for (const std::string& name : EstimatorNames()) {
    EXPECT_EQ(EstimatorNeedsTheta(name), name == "neumann" || name == "cg") << name;
  }
}

}  // namespace
}  // namespace hypergrad
