// The Python module `hypergrad` (pybind11): exact hypergradients of any deterministic model a
// researcher writes in Python, plus thin wrappers of the built-in MLP, the information buffers,
// Algorithm 3 and fixed-point conversion. numpy arrays in and out; C++ errors arrive as Python
// exceptions with the same messages (ValueError for bad arguments, OverflowError for a run that
// leaves the fixed-point range, naming the step and parameter).
//
//   r = hypergrad.optimizer_hypergradients("rmsprop", gradient, hvp, meta_gradient, w0, alpha,
//                                          rho=0.99, mu=..., eps=1e-8, u0=None, blocks=None,
//                                          buffer="fast")
//   hypergrad.optimizers()  # every registered optimizer, its moments and hyperparameters
//   r = hypergrad.hypergradients(gradient, hvp, meta_gradient, w0, alpha, gamma,
//                                v0=None, blocks=None, buffer="fast", optimizer="sgd")
//   r = hypergrad.adam_hypergradients(gradient, hvp, meta_gradient, w0, alpha, beta1, beta2,
//                                     eps=1e-8, blocks=None, buffer="fast")
//
// optimizer_hypergradients takes any optimizer of the registry (optimizers/registry.h) by name,
// its hyperparameters by name with the registry's ranges and defaults, so a new optimizer needs
// no edit here; hypergradients, adam_hypergradients and rmsprop_hypergradients are fixed-argument
// forms of it.
//
// The model is two callbacks: gradient(w, t) -> (loss, g) and hvp(w, u, t) -> H(w)·u, both of
// the training loss of step t, and optionally mixed(w, u, t) -> ∇_θ⟨∇_w L_t(w, θ), u⟩ for
// hyperparameters θ inside the loss (r.d_theta). They must be bit-reproducible (the reverse pass
// calls gradient again at the same w and needs the same bits); a callback that is not gives
// r.reversal_exact == False and a RuntimeWarning naming the step, never a silent wrong answer.
// The callbacks get fresh read-only copies of w and u that they may keep. What they return
// must be numbers (a float, or an integer or floating array of the right size) and finite:
// anything else is a ValueError naming the callback and its step.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/blas_threads.h"
#include "reversible/algorithm3.h"
#include "arithmetic/fixed_point.h"
#include "buffers/info_buffer.h"
#include "models/gemm.h"
#include "models/mlp.h"
#include "arithmetic/rational.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_training.h"
#include "results/provenance.h"

namespace py = pybind11;

namespace hypergrad::python {
namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A fresh read-only numpy copy of `x`: a callback may keep it (the run's own w changes in place
// and is freed after the run); read-only as a reminder that changing it changes nothing.
py::array_t<double> Copy(std::span<const double> x) {
  py::array_t<double> a(static_cast<py::ssize_t>(x.size()));
  std::memcpy(a.mutable_data(), x.data(), x.size() * sizeof(double));
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

std::vector<double> ToVector(const Array& a) { return {a.data(), a.data() + a.size()}; }

std::string Text(double x) {
  std::ostringstream out;
  out.precision(17);
  out << x;
  return out.str();
}

// numpy's asarray(value): an array view of whatever the user passed (no conversion of dtype).
py::array AsArray(const py::handle& value) {
  return py::module_::import("numpy").attr("asarray")(value).cast<py::array>();
}

// The dtypes taken as numbers: integers and floats up to 64 bits (converted to float64 exactly,
// or for 64-bit integers beyond 2^53 rounded as numpy rounds). Bool, complex, str, object and
// longer floats are refused rather than converted.
bool IsNumbers(const py::array& a) {
  const char kind = a.dtype().kind();
  return kind == 'i' || kind == 'u' || (kind == 'f' && a.itemsize() <= 8);
}

std::string DtypeName(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }
std::string ShapeText(const py::array& a) { return py::str(a.attr("shape")).cast<std::string>(); }

// An argument `name` as a C-contiguous float64 array. Throws std::invalid_argument
// "<name> must be an array of numbers, got dtype <U3" for strings, objects, bool, complex.
Array Numbers(const py::handle& value, const std::string& name) {
  const py::array a = AsArray(value);
  if (!IsNumbers(a)) throw std::invalid_argument(name + " must be an array of numbers, got dtype " + DtypeName(a));
  return a.cast<Array>();
}

void Require1D(const py::array& a, const std::string& name) {
  if (a.ndim() != 1) throw std::invalid_argument(name + " must be a 1-D array, got shape " + ShapeText(a));
}

// An argument `name` of whole numbers as int64 values. Throws std::invalid_argument unless its
// dtype is an integer one (floats such as 0.7 are not truncated, bool is not a number) and every
// value fits in int64.
std::vector<std::int64_t> Integers(const py::array& a, const std::string& name) {
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') throw std::invalid_argument(name + " must be integers, got " + DtypeName(a));
  std::vector<std::int64_t> out(static_cast<std::size_t>(a.size()));
  if (kind == 'u') {
    const auto u = a.cast<py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>>();
    for (std::size_t k = 0; k < out.size(); ++k) {
      if (u.data()[k] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw std::invalid_argument(name + "[" + std::to_string(k) + "] = " + std::to_string(u.data()[k]) +
                                    " is too large (above 2^63 - 1)");
      }
      out[k] = static_cast<std::int64_t>(u.data()[k]);
    }
  } else {
    const auto i = a.cast<py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>>();
    std::memcpy(out.data(), i.data(), out.size() * sizeof(std::int64_t));
  }
  return out;
}

// Throws std::invalid_argument "<what> returned <part>[k] = nan, which is not finite" for the
// first non-finite value: the fixed-point run cannot hold it, and a NaN passed on to the reverse
// pass would give NaN hypergradients with reversal_exact True.
void CheckFinite(std::span<const double> x, const std::string& what, const std::string& part) {
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (!std::isfinite(x[k])) {
      throw std::invalid_argument(what + " returned " + part + "[" + std::to_string(k) + "] = " + Text(x[k]) +
                                  ", which is not finite");
    }
  }
}

// The type a callback returned, for messages: its dtype for an array, else its Python type.
std::string TypeOf(const py::handle& value, const py::array& a) {
  return py::isinstance<py::array>(value) ? "dtype " + DtypeName(a) : std::string("type ") + Py_TYPE(value.ptr())->tp_name;
}

// `part` of callback `what`'s result: a 1-D array of out.size() finite numbers, copied into `out`.
void CopyResult(const py::handle& value, std::span<double> out, const std::string& what, const std::string& part) {
  const py::array raw = AsArray(value);
  if (!IsNumbers(raw)) {
    throw std::invalid_argument(what + " returned " + part + " of " + TypeOf(value, raw) + ", not an array of numbers");
  }
  const auto a = raw.cast<Array>();
  if (a.ndim() != 1 || static_cast<std::size_t>(a.size()) != out.size()) {
    throw std::invalid_argument(what + " returned " + std::to_string(a.size()) + " values in " +
                                std::to_string(a.ndim()) + " dimensions for " + part +
                                ", expected a 1-D array of " + std::to_string(out.size()));
  }
  std::memcpy(out.data(), a.data(), out.size() * sizeof(double));
  CheckFinite(out, what, part);
}

// `part` of callback `what`'s result: one finite number (a float, an int, a numpy scalar or a
// 0-d array; not an array of several, not None or a string).
double Number(const py::handle& value, const std::string& what, const std::string& part) {
  const py::array raw = AsArray(value);
  if (!IsNumbers(raw)) throw std::invalid_argument(what + " returned " + part + " of " + TypeOf(value, raw) + ", not a number");
  if (raw.ndim() != 0) {
    throw std::invalid_argument(what + " returned " + part + " of shape " + ShapeText(raw) + ", not a number");
  }
  const double x = *raw.cast<Array>().data();
  if (!std::isfinite(x)) throw std::invalid_argument(what + " returned " + part + " = " + Text(x) + ", which is not finite");
  return x;
}

// A callback's (number, array) pair, or (number, array, array) where `third` is non-empty: the
// number returned, the arrays copied into `out` and `third`. `parts` names the three in
// messages, e.g. {"loss", "g"}.
double LossAndArray(const py::object& result, std::span<double> out, const std::string& what,
                    const std::vector<std::string>& parts, std::span<double> third = {}) {
  std::string form = "(" + parts[0] + ", " + parts[1] + ")";
  if (parts.size() > 2) form += " or (" + parts[0] + ", " + parts[1] + ", " + parts[2] + ")";
  if (!py::isinstance<py::tuple>(result) && !py::isinstance<py::list>(result)) {
    throw std::invalid_argument(what + " must return " + form);
  }
  const py::tuple values = result.cast<py::tuple>();
  const bool with_third = values.size() == 3 && parts.size() > 2;
  if (values.size() != 2 && !with_third) throw std::invalid_argument(what + " must return " + form);
  if (with_third && third.empty()) {
    throw std::invalid_argument(what + " returned " + parts[2] + " but there is no θ (give mixed and num_theta)");
  }
  const double number = Number(values[0], what, parts[0]);
  CopyResult(values[1], out, what, parts[1]);
  if (with_third) CopyResult(values[2], third, what, parts[2]);
  return number;
}

std::uint64_t Fingerprint(std::span<const double> g) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the bits
  const auto* bytes = reinterpret_cast<const unsigned char*>(g.data());
  for (std::size_t i = 0; i < g.size() * sizeof(double); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

// A Model whose loss, gradient, Hessian-vector product and (when `hyper` > 0) mixed product
// ∇_θ⟨∇_w L, u⟩ are Python callables of (w, t) and (w, u, t). Batch t carries only the step
// number. Every forward gradient's fingerprint is kept (8 bytes per step), so the reverse pass
// can name the first step whose recomputed gradient has other bits.
class CallbackModel final : public Model {
 public:
  CallbackModel(py::function gradient, py::function hvp, py::object mixed, std::size_t params,
                std::size_t hyper, std::size_t steps)
      : gradient_(std::move(gradient)), hvp_(std::move(hvp)), mixed_(std::move(mixed)), params_(params),
        hyper_(hyper), forward_(steps, 0), seen_(steps, false) {}

  std::size_t num_params() const override { return params_; }
  std::size_t num_hyper() const override { return hyper_; }

  double Gradient(std::span<const double> w, const Batch& batch, std::span<double> grad) const override {
    const std::size_t t = batch.rows.at(0);
    const double loss = CallGradient(w, t, grad);
    Note(t, grad);
    return loss;
  }

  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp, std::span<double> mixed) const override {
    const std::size_t t = batch.rows.at(0);
    const double loss = CallGradient(w, t, grad);
    Note(t, grad);
    const py::array_t<double> w_copy = Copy(w), u_copy = Copy(u);
    CopyResult(hvp_(w_copy, u_copy, t), hvp, "hvp(w, u, t=" + std::to_string(t) + ")", "H(w)u");
    if (!mixed.empty()) CopyResult(mixed_(w_copy, u_copy, t), mixed, "mixed(w, u, t=" + std::to_string(t) + ")", "mixed");
    return loss;
  }

  // The largest step (the first met in the reverse pass) whose gradient changed bits, or -1.
  long long first_mismatch() const { return first_mismatch_; }

 private:
  // The first gradient of step t (the forward pass's) is kept; every later one (the reverse
  // pass calls it once or twice per step) is compared with it.
  void Note(std::size_t t, std::span<const double> grad) const {
    if (!seen_[t]) {
      forward_[t] = Fingerprint(grad);
      seen_[t] = true;
    } else if (Fingerprint(grad) != forward_[t] && first_mismatch_ < 0) {
      first_mismatch_ = static_cast<long long>(t);
    }
  }

  double CallGradient(std::span<const double> w, std::size_t t, std::span<double> grad) const {
    return LossAndArray(gradient_(Copy(w), t), grad, "gradient(w, t=" + std::to_string(t) + ")", {"loss", "g"});
  }

  py::function gradient_, hvp_;
  py::object mixed_;  // None when hyper_ == 0
  std::size_t params_, hyper_;
  mutable std::vector<std::uint64_t> forward_;
  mutable std::vector<bool> seen_;
  mutable long long first_mismatch_ = -1;
};

// What every optimizer's result has; the optimizer's own entries (d_v0, v_T, d_gamma; d_m0,
// d_s0, m_T, s_T, d_beta1, d_beta2, d_eps; ...) are attributes named from its registry entry.
struct Result {
  py::array_t<double> d_w0, d_alpha, w_T, d_theta;
  double f = 0.0;
  bool reversal_exact = false;
  double info_bits = 0.0;
  std::size_t extra_bytes = 0;
  long long nonreproducible_step = -1;
  std::string optimizer;
};

py::array_t<double> Owned(std::span<const double> x, const std::vector<py::ssize_t>& shape) {
  py::array_t<double> a(shape);
  std::memcpy(a.mutable_data(), x.data(), x.size() * sizeof(double));
  return a;
}

// The number of steps T of schedule arrays that must all have alpha's shape, (T,) or (T, B) with
// B = blocks; `names` lists them as the user called them.
std::size_t ScheduleSteps(const std::vector<const Array*>& arrays,
                          const std::vector<std::string>& names, std::size_t blocks) {
  const Array& alpha = *arrays[0];
  std::string all = names[0];
  for (std::size_t i = 1; i < names.size(); ++i) all += (i + 1 == names.size() ? " and " : ", ") + names[i];
  if (alpha.ndim() < 1 || alpha.ndim() > 2) throw std::invalid_argument(all + " must have shape (T,) or (T, B)");
  for (std::size_t i = 1; i < arrays.size(); ++i) {
    bool same = arrays[i]->ndim() == alpha.ndim();
    for (py::ssize_t d = 0; same && d < alpha.ndim(); ++d) same = arrays[i]->shape(d) == alpha.shape(d);
    if (!same) throw std::invalid_argument(names[i] + " does not have the shape of " + names[0] + " (" + all + " must agree)");
  }
  const auto iters = static_cast<std::size_t>(alpha.shape(0));
  const std::size_t columns = alpha.ndim() == 2 ? static_cast<std::size_t>(alpha.shape(1)) : 1;
  if (iters == 0) throw std::invalid_argument(names[0] + ": at least one step (T ≥ 1) is needed");
  if (columns != blocks) {
    throw std::invalid_argument(names[0] + " has " + std::to_string(columns) + " columns but blocks define " +
                                std::to_string(blocks) + " blocks");
  }
  return iters;
}

// Block indices: integers in [0, P) (each block needs at least one of the P parameters), checked
// before any block is named, so 2^32 is an error at once rather than 2^32 names.
ParameterBlocks MakeBlocks(const py::object& blocks, std::size_t params) {
  if (blocks.is_none()) return ParameterBlocks::Single(params);
  const py::array a = AsArray(blocks);
  if (a.ndim() != 1 || static_cast<std::size_t>(a.size()) != params) {
    throw std::invalid_argument("blocks must be an integer array of one block index per parameter (" +
                                std::to_string(params) + ")");
  }
  const std::vector<std::int64_t> b = Integers(a, "blocks");
  ParameterBlocks out;
  std::int64_t most = -1;
  for (std::size_t k = 0; k < b.size(); ++k) {
    const std::string at = "blocks[" + std::to_string(k) + "] = " + std::to_string(b[k]);
    if (b[k] < 0) throw std::invalid_argument(at + " is negative");
    if (static_cast<std::uint64_t>(b[k]) >= params) {
      throw std::invalid_argument(at + " is not below " + std::to_string(params) +
                                  ", the number of parameters (every block needs one)");
    }
    most = std::max(most, b[k]);
    out.block_of.push_back(static_cast<std::uint32_t>(b[k]));
  }
  for (std::int64_t j = 0; j <= most; ++j) out.names.push_back("block " + std::to_string(j));
  out.Validate();
  return out;
}

// A 1-D array of n values like w0 (or zeros if none), for v0.
std::vector<double> LikeW0(const py::object& arg, std::size_t n, const char* name) {
  if (arg.is_none()) return std::vector<double>(n, 0.0);
  const Array v = Numbers(arg, name);
  if (v.ndim() != 1 || static_cast<std::size_t>(v.size()) != n) {
    throw std::invalid_argument(std::string(name) + " must be a 1-D array of " + std::to_string(n) +
                                " values like w0");
  }
  return ToVector(v);
}

std::size_t CheckW0(const Array& w0) {
  if (w0.ndim() != 1 || w0.size() == 0) throw std::invalid_argument("w0 must be a non-empty 1-D array");
  return static_cast<std::size_t>(w0.size());
}

// The mixed-product callback and the length of θ: both or neither.
std::size_t HyperCount(const py::object& mixed, long long num_theta) {
  if (num_theta < 0 || num_theta > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("num_theta = " + std::to_string(num_theta) + " is outside [0, 2^32 - 1]");
  }
  if (!mixed.is_none() && num_theta == 0) {
    throw std::invalid_argument("mixed needs num_theta, the length of θ (of what mixed(w, u, t) returns)");
  }
  if (mixed.is_none() && num_theta > 0) throw std::invalid_argument("num_theta needs mixed(w, u, t)");
  if (!mixed.is_none() && !PyCallable_Check(mixed.ptr())) throw std::invalid_argument("mixed must be callable");
  return static_cast<std::size_t>(num_theta);
}

std::vector<py::ssize_t> ShapeOf(const Array& a) { return {a.shape(), a.shape() + a.ndim()}; }

// The one path of every optimizer: `schedules` are the optimizer's schedules besides alpha, in
// its registry's order, `scalars` its scalar hyperparameters; trains from (w0, u0), evaluates
// meta_gradient at w_T, runs training backwards and returns a Result with every hypergradient.
py::object Compute(const std::string& optimizer, const py::function& gradient, const py::function& hvp,
                   const py::function& meta_gradient, const Array& w0, const Array& alpha,
                   const std::vector<std::pair<std::string, const Array*>>& schedules,
                   const std::map<std::string, double>& scalars, const py::object& u0_arg,
                   const py::object& blocks_arg, const std::string& buffer, const py::object& mixed,
                   long long num_theta) {
  const OptimizerInfo& info = FindOptimizer(optimizer);
  const std::size_t n = CheckW0(w0), hyper = HyperCount(mixed, num_theta);
  const ParameterBlocks blocks = MakeBlocks(blocks_arg, n);
  std::vector<const Array*> arrays = {&alpha};
  std::vector<std::string> names = {"alpha"};
  for (const auto& [name, array] : schedules) {
    arrays.push_back(array);
    names.push_back(name);
  }
  const std::size_t iters = ScheduleSteps(arrays, names, blocks.num_blocks());
  OptimizerHyperparameters h{iters, blocks.num_blocks(), {}, scalars};
  for (std::size_t i = 0; i < arrays.size(); ++i) h.schedules[names[i]] = ToVector(*arrays[i]);
  // Every hyperparameter in the registry's one range, the command-line tools' too; the message
  // names the entry ("gamma at iteration 3, block 0 = 1.5 is outside [1e-06, 0.999999]").
  info.CheckRanges(h);
  auto model = std::make_shared<CallbackModel>(gradient, hvp, mixed, n, hyper, iters);
  BatchSchedule steps = [](std::size_t t) { return Batch{{t}}; };
  const std::unique_ptr<ReversibleTraining> run = info.make(
      model, blocks, steps, h,
      TrainingOptions{.method = ReversalMethod::kReversible, .buffer = ParseBufferKind(buffer)});
  const std::size_t moments = run->optimizer().num_moments();
  std::vector<double> u0(moments * n, 0.0);
  if (!u0_arg.is_none()) u0 = LikeW0(u0_arg, moments * n, "the initial moments");
  const Objective objective{[&](std::span<const double> w, std::span<double> d_w, std::span<double> d_theta) {
    return LossAndArray(meta_gradient(Copy(w)), d_w, "meta_gradient(w_T)", {"f", "df_dw", "df_dtheta"}, d_theta);
  }};
  const RunOutcome outcome = TrainAndReverse(*run, ToVector(w0), u0, objective);
  const Hypergradients& g = outcome.hypergradients;
  const auto size = static_cast<py::ssize_t>(n);
  Result r;
  r.optimizer = optimizer;
  r.w_T = Owned(outcome.w_T, {size});
  r.f = outcome.f;
  r.info_bits = outcome.information_bits;
  r.extra_bytes = outcome.extra_bytes;
  r.nonreproducible_step = model->first_mismatch();
  r.reversal_exact = g.reversal.exact && r.nonreproducible_step < 0;
  r.d_w0 = Owned(g.d_w0, {size});
  r.d_alpha = Owned(g.d_alpha, ShapeOf(alpha));
  r.d_theta = Owned(g.d_theta, {static_cast<py::ssize_t>(g.d_theta.size())});
  py::object result = py::cast(std::move(r));
  for (std::size_t i = 0; i < moments; ++i) {
    const std::string& name = g.d_u0[i].name;
    py::setattr(result, ("d_" + name + "0").c_str(), Owned(g.d_u0[i].values, {size}));
    py::setattr(result, (name + "_T").c_str(), Owned(std::span(outcome.u_T).subspan(i * n, n), {size}));
  }
  for (const NamedValues& d : g.d_schedules) {
    py::setattr(result, ("d_" + d.name).c_str(), Owned(d.values, ShapeOf(alpha)));
  }
  for (const NamedValues& d : g.d_scalars) py::setattr(result, ("d_" + d.name).c_str(), py::float_(d.values[0]));
  if (!(g.reversal.exact && model->first_mismatch() < 0)) {
    const long long step = model->first_mismatch();
    const std::string where = step >= 0
        ? "gradient(w, t) returned other bits in the reverse pass than in the forward pass at step t = " +
              std::to_string(step)
        : std::string("the reverse pass did not recover the initial state exactly");
    PyErr_WarnEx(PyExc_RuntimeWarning,
                 ("hypergradients are not exact: " + where +
                  " (the callbacks must give bit-identical results for the same w and t)").c_str(),
                 1);
  }
  return result;
}

// One hyperparameter given to optimizer_hypergradients as a number: a float or an int (not a
// bool, a string or an array of several).
double HyperparameterNumber(const py::handle& value, const std::string& name) {
  const py::array a = AsArray(value);
  if (!IsNumbers(a) || a.ndim() != 0) {
    throw std::invalid_argument(name + " must be a number, got " + TypeOf(value, a));
  }
  return *a.cast<Array>().data();
}

// Any registered optimizer by name: its hyperparameters from `given` by their registry names
// (a schedule as an array of alpha's shape or one number for every step and block, a scalar as
// a number), the registry's default for those not given; u0 the K·P initial moments in the
// optimizer's order, or None for zeros.
py::object ComputeOptimizerHypergradients(const std::string& optimizer, py::function gradient,
                                          py::function hvp, py::function meta_gradient,
                                          const py::object& w0_arg, const py::object& alpha_arg,
                                          const py::object& u0_arg, const py::object& blocks_arg,
                                          const std::string& buffer, const py::object& mixed,
                                          long long num_theta, const py::kwargs& given) {
  const OptimizerInfo& info = FindOptimizer(optimizer);
  std::string taken;  // the hyperparameters it takes, for the message
  for (const OptimizerFlag& flag : info.flags) taken += (taken.empty() ? "" : ", ") + flag.name;
  for (const auto& [key, value] : given) {
    const std::string name = py::str(key).cast<std::string>();
    bool known = false;
    for (const OptimizerFlag& flag : info.flags) known = known || flag.name == name;
    if (!known) {
      throw std::invalid_argument("optimizer '" + optimizer + "' takes no hyperparameter '" + name +
                                  "' (it takes " + (taken.empty() ? std::string("none") : taken) +
                                  "; alpha is an argument of its own)");
    }
  }
  const Array w0 = Numbers(w0_arg, "w0"), alpha = Numbers(alpha_arg, "alpha");
  std::vector<Array> arrays;  // the schedules' values (kept alive for Compute's pointers)
  arrays.reserve(info.flags.size());
  std::vector<std::pair<std::string, const Array*>> schedules;
  std::map<std::string, double> scalars;
  for (const OptimizerFlag& flag : info.flags) {
    const py::str key(flag.name);
    if (!flag.per_step) {
      scalars[flag.name] = given.contains(key) ? HyperparameterNumber(given[key], flag.name)
                                               : flag.default_value;
      continue;
    }
    Array values;
    if (given.contains(key) && AsArray(given[key]).ndim() > 0) {
      values = Numbers(given[key], flag.name);
    } else {  // one number (or the default) for every step and block, in alpha's shape
      const double x = given.contains(key) ? HyperparameterNumber(given[key], flag.name)
                                           : flag.default_value;
      values = Array(std::vector<py::ssize_t>(alpha.shape(), alpha.shape() + alpha.ndim()));
      std::fill(values.mutable_data(), values.mutable_data() + values.size(), x);
    }
    arrays.push_back(std::move(values));
    schedules.emplace_back(flag.name, &arrays.back());
  }
  return Compute(optimizer, gradient, hvp, meta_gradient, w0, alpha, schedules, scalars, u0_arg,
                 blocks_arg, buffer, mixed, num_theta);
}

// Every registered optimizer: {name: {"summary", "default_alpha", "moments": [names],
// "hyperparameters": {name: {"per_step", "default", "min", "max", "help"}}}}, in the registry's
// order.
py::dict OptimizerTable() {
  py::dict table;
  for (const OptimizerInfo& info : Optimizers()) {
    py::dict hyperparameters;
    for (const OptimizerFlag& flag : info.flags) {
      py::dict entry;
      entry["per_step"] = flag.per_step;
      entry["default"] = flag.default_value;
      entry["min"] = flag.min;
      entry["max"] = flag.max;
      entry["help"] = flag.help;
      hyperparameters[py::str(flag.name)] = entry;
    }
    py::dict entry;
    entry["summary"] = info.summary;
    entry["default_alpha"] = info.default_alpha;
    entry["moments"] = info.MomentNames();
    entry["hyperparameters"] = hyperparameters;
    table[py::str(info.name)] = entry;
  }
  return table;
}

// hypergradients(), adam_hypergradients() and rmsprop_hypergradients(): optimizer_hypergradients
// with the optimizer's hyperparameters as fixed arguments.
py::object ComputeSgdHypergradients(py::function gradient, py::function hvp, py::function meta_gradient,
                                    const py::object& w0_arg, const py::object& alpha_arg, const py::object& gamma_arg,
                                    const py::object& v0_arg, const py::object& blocks_arg, const std::string& buffer,
                                    const std::string& optimizer, const py::object& mixed, long long num_theta) {
  if (optimizer != "sgd") {
    throw std::invalid_argument("optimizer '" + optimizer + "': hypergradients() is SGD with momentum ('sgd'); "
                                "for any registered optimizer call optimizer_hypergradients(name, gradient, "
                                "hvp, meta_gradient, w0, alpha, **hyperparameters) (hypergrad.optimizers() "
                                "lists them), e.g. adam_hypergradients(...) or rmsprop_hypergradients(...)");
  }
  if (!v0_arg.is_none()) LikeW0(v0_arg, CheckW0(Numbers(w0_arg, "w0")), "v0");  // its own message
  py::kwargs hyperparameters;
  hyperparameters["gamma"] = Numbers(gamma_arg, "gamma");
  return ComputeOptimizerHypergradients("sgd", gradient, hvp, meta_gradient, w0_arg, alpha_arg, v0_arg,
                                        blocks_arg, buffer, mixed, num_theta, hyperparameters);
}

py::object ComputeAdamHypergradients(py::function gradient, py::function hvp, py::function meta_gradient,
                                     const py::object& w0_arg, const py::object& alpha_arg,
                                     const py::object& beta1_arg, const py::object& beta2_arg, double eps,
                                     const py::object& blocks_arg, const std::string& buffer,
                                     const py::object& mixed, long long num_theta) {
  py::kwargs hyperparameters;
  hyperparameters["beta1"] = Numbers(beta1_arg, "beta1");
  hyperparameters["beta2"] = Numbers(beta2_arg, "beta2");
  hyperparameters["eps"] = eps;
  return ComputeOptimizerHypergradients("adam", gradient, hvp, meta_gradient, w0_arg, alpha_arg, py::none(),
                                        blocks_arg, buffer, mixed, num_theta, hyperparameters);
}

py::object ComputeRmspropHypergradients(py::function gradient, py::function hvp, py::function meta_gradient,
                                        const py::object& w0_arg, const py::object& alpha_arg,
                                        const py::object& rho_arg, const py::object& mu_arg, double eps,
                                        const py::object& blocks_arg, const std::string& buffer,
                                        const py::object& mixed, long long num_theta) {
  py::kwargs hyperparameters;
  hyperparameters["rho"] = Numbers(rho_arg, "rho");
  hyperparameters["mu"] = Numbers(mu_arg, "mu");
  hyperparameters["eps"] = eps;
  return ComputeOptimizerHypergradients("rmsprop", gradient, hvp, meta_gradient, w0_arg, alpha_arg, py::none(),
                                        blocks_arg, buffer, mixed, num_theta, hyperparameters);
}

// The built-in MLP on user data (numpy arrays), for gradients, HVPs and loss evaluations.
struct PyMlp {
  std::shared_ptr<const Mlp> mlp;

  // The most threads per pass, as the command-line tools' --threads allows: beyond the cores of
  // any machine this runs on, each thread only adds its start-up cost.
  static constexpr long long kMaxThreads = 256;

  static PyMlp Make(const std::vector<std::size_t>& layers, const py::object& inputs_arg,
                    const py::object& labels_arg, const std::vector<double>& l2, long long threads,
                    const std::string& tanh) {
    if (threads < 1 || threads > kMaxThreads) {
      throw std::invalid_argument("threads = " + std::to_string(threads) + " is outside [1, " +
                                  std::to_string(kMaxThreads) + "]");
    }
    const Array inputs = Numbers(inputs_arg, "inputs");
    if (inputs.ndim() != 2) throw std::invalid_argument("inputs must be a 2-D array (rows × features)");
    const py::array labels = AsArray(labels_arg);
    if (labels.ndim() != 1 || labels.size() != inputs.shape(0)) {
      throw std::invalid_argument("labels must be a 1-D array with one label per row of inputs");
    }
    if (layers.size() < 2) throw std::invalid_argument("layers: at least two sizes are needed");
    const auto columns = static_cast<std::size_t>(inputs.shape(1));
    for (std::size_t k = 0; k < static_cast<std::size_t>(inputs.size()); ++k) {
      if (!std::isfinite(inputs.data()[k])) {
        throw std::invalid_argument("inputs[" + std::to_string(k / columns) + ", " + std::to_string(k % columns) +
                                    "] = " + Text(inputs.data()[k]) + " is not finite");
      }
    }
    for (std::size_t k = 0; k < l2.size(); ++k) {
      if (!std::isfinite(l2[k])) {
        throw std::invalid_argument("l2[" + std::to_string(k) + "] = " + Text(l2[k]) + " is not finite");
      }
    }
    std::vector<std::size_t> y;
    const std::vector<std::int64_t> label = Integers(labels, "labels");
    for (std::size_t i = 0; i < label.size(); ++i) {
      if (label[i] < 0) throw std::invalid_argument("labels: label of row " + std::to_string(i) + " is negative");
      y.push_back(static_cast<std::size_t>(label[i]));
    }
    auto data = std::make_shared<const Dataset>(MakeDataset(ToVector(inputs), columns, y, layers.back()));
    return {std::make_shared<const Mlp>(
        MlpOptions{layers, l2, false, false, static_cast<unsigned>(threads), ParseTanhKernel(tanh)}, data)};
  }

  static Batch Rows(const std::vector<std::size_t>& rows) { return Batch{rows}; }

  std::vector<double> Check(const py::object& w_arg, const char* name = "w") const {
    const Array w = Numbers(w_arg, name);
    if (w.ndim() != 1 || static_cast<std::size_t>(w.size()) != mlp->num_params()) {
      throw std::invalid_argument(std::string(name) + " must be a 1-D array of " + std::to_string(mlp->num_params()) + " values");
    }
    return ToVector(w);
  }

  py::tuple Gradient(const py::object& w, const std::vector<std::size_t>& rows) const {
    const std::vector<double> x = Check(w);
    std::vector<double> g(x.size());
    const double loss = mlp->Gradient(x, Rows(rows), g);
    return py::make_tuple(loss, Owned(g, {static_cast<py::ssize_t>(g.size())}));
  }

  py::array_t<double> Hvp(const py::object& w, const py::object& u, const std::vector<std::size_t>& rows) const {
    const std::vector<double> x = Check(w), d = Check(u, "u");
    std::vector<double> g(x.size()), hv(x.size());
    mlp->GradientAndHvp(x, Rows(rows), d, g, hv, {});
    return Owned(hv, {static_cast<py::ssize_t>(hv.size())});
  }

  // Mean NLL on all training rows and its gradient, as the C++ tools compute it.
  py::tuple Evaluate(const py::object& w) const {
    const std::vector<double> x = Check(w);
    std::vector<double> g(x.size());
    const Evaluation e = mlp->Evaluate(x, mlp->data(), g);
    return py::make_tuple(e.nll, Owned(g, {static_cast<py::ssize_t>(g.size())}));
  }

  py::array_t<std::int64_t> LayerBlocks() const {
    const ParameterBlocks b = mlp->layout().LayerParamBlocks();
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(b.block_of.size()));
    for (std::size_t k = 0; k < b.block_of.size(); ++k) out.mutable_data()[k] = b.block_of[k];
    return out;
  }
};

// The ratios n[i]/d[i] as Algorithm 3 takes them: integers in [1, 65536] (no float truncated, no
// negative number wrapped to 2^32 − 1).
std::vector<DecayRatio> Ratios(const py::object& n_arg, const py::object& d_arg) {
  const py::array n_array = AsArray(n_arg), d_array = AsArray(d_arg);
  Require1D(n_array, "n");
  Require1D(d_array, "d");
  const std::vector<std::int64_t> n = Integers(n_array, "n"), d = Integers(d_array, "d");
  if (n.size() != d.size()) throw std::invalid_argument("numerators and denominators differ in length");
  for (const auto& [name, values] : {std::pair{"n", &n}, std::pair{"d", &d}}) {
    for (std::size_t i = 0; i < values->size(); ++i) {
      if ((*values)[i] < 1 || (*values)[i] > 65536) {
        throw std::invalid_argument(std::string(name) + "[" + std::to_string(i) + "] = " +
                                    std::to_string((*values)[i]) + " is outside [1, 65536]");
      }
    }
  }
  std::vector<DecayRatio> r(n.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    r[i] = {static_cast<std::uint32_t>(n[i]), static_cast<std::uint32_t>(d[i])};
  }
  return r;
}

// Algorithm 3 on the caller's int64 array (units of 2^-52), in place. Only an array that can be
// changed where it lies is taken: a writeable, C-contiguous 1-D ndarray of native int64. Any
// other (int32, strided, read-only, float) would have to be converted into a temporary copy,
// and the caller's array would silently stay as it was.
void ApplyRatio(const py::object& values_arg, const py::object& n, const py::object& d, InfoBuffer& buffer,
                bool inverse) {
  const bool ok = py::isinstance<py::array>(values_arg) && [&] {
    const auto values = values_arg.cast<py::array>();
    return values.ndim() == 1 && values.dtype().equal(py::dtype::of<std::int64_t>()) &&
           (values.flags() & py::array::c_style) != 0 && values.writeable();
  }();
  if (!ok) {
    std::string got = std::string("a ") + Py_TYPE(values_arg.ptr())->tp_name;
    if (py::isinstance<py::array>(values_arg)) {
      const auto values = values_arg.cast<py::array>();
      got = "dtype " + DtypeName(values) + ", shape " + ShapeText(values) +
            ((values.flags() & py::array::c_style) != 0 ? "" : ", not C-contiguous") +
            (values.writeable() ? "" : ", read-only");
    }
    throw std::invalid_argument("values must be a writeable, C-contiguous 1-D int64 array (changed in place), got " + got);
  }
  auto values = values_arg.cast<py::array>();
  FixedPointVector v(static_cast<std::size_t>(values.size()));
  std::memcpy(v.raw().data(), values.data(), v.size() * sizeof(std::int64_t));
  const std::vector<DecayRatio> ratios = Ratios(n, d);
  if (inverse) {
    DivideByRatio(v, ratios, buffer);
  } else {
    MultiplyByRatio(v, ratios, buffer);
  }
  std::memcpy(values.mutable_data(), v.raw().data(), v.size() * sizeof(std::int64_t));
}

}  // namespace
}  // namespace hypergrad::python

PYBIND11_MODULE(_core, m) {
  using namespace hypergrad;
  using namespace hypergrad::python;
  m.doc() = "Exact hypergradients by reversible learning (Maclaurin, Duvenaud & Adams, ICML 2015)";
  // Exact reversal needs the same bits from every product in the forward and the reverse pass,
  // and OpenBLAS's sums depend on its thread count: one thread unless the user asks otherwise
  // (this is the process's OpenBLAS, numpy's too when it uses the same library).
  SetBlasThreads(1);
  m.def("set_blas_threads", &SetBlasThreads, py::arg("threads"),
        "OpenBLAS's thread count (default 1 after import). The library's products use the "
        "portable kernel by default, whose bits depend on no thread count; with "
        "set_gemm_kernel('openblas') they depend on it");
  m.def("blas_threads", &BlasThreads);
  m.def(
      "set_gemm_kernel", [](const std::string& name) { SetGemmKernel(ParseGemmKernel(name)); },
      py::arg("name"),
      "the matrix product kernel of the compiled models (Mlp, the tools' models): 'portable' "
      "(the default; each entry summed in increasing k, the same bits on every x86-64 CPU) or "
      "'openblas' (OpenBLAS's kernels for this CPU, whose bits depend on it); ValueError otherwise");
  m.def(
      "gemm_kernel", [] { return std::string(GemmKernelName(GetGemmKernel())); },
      "the matrix product kernel in use: 'portable' or 'openblas'");
  m.def(
      "arithmetic_provenance",
      [] {
        py::dict out;
        for (const auto& [name, value] : ArithmeticProvenance()) out[py::str(name)] = value;
        return out;
      },
      "what decides the last bits of results in this process, as the tools record it in every "
      "result file: blas_library, blas_core, blas_config, blas_path, gemm_kernel, "
      "gemm_kernel_detail, tanh_libm and libm_build ('fma (...)' where glibc runs its FMA/AVX2 "
      "builds of exp and log, as the committed results did; 'other (...)' otherwise)");
  if (LibmBuild() != "fma") {
    PyErr_WarnEx(PyExc_RuntimeWarning,
                 "hypergrad: glibc runs its non-FMA build of exp and log here (the CPU lacks FMA "
                 "or AVX2, or GLIBC_TUNABLES hides them): results differ in the last bits from "
                 "those on CPUs with FMA and AVX2 (hypergrad.arithmetic_provenance())",
                 1);
  }

  py::class_<Result>(m, "HypergradientResult",
                     "Every hypergradient of one run; besides these, the optimizer's own: d_v0, v_T, "
                     "d_gamma (sgd); d_m0, d_s0, m_T, s_T, d_beta1, d_beta2, d_eps (adam); d_s0, d_m0, "
                     "s_T, m_T, d_rho, d_mu, d_eps (rmsprop)",
                     py::dynamic_attr())
      .def_readonly("optimizer", &Result::optimizer)
      .def_readonly("d_w0", &Result::d_w0, "df/dw0")
      .def_readonly("d_alpha", &Result::d_alpha, "df/dalpha, the shape of alpha")
      .def_readonly("d_theta", &Result::d_theta, "df/dtheta (num_theta values; empty without mixed)")
      .def_readonly("w_T", &Result::w_T)
      .def_readonly("f", &Result::f, "the meta-objective at w_T")
      .def_readonly("reversal_exact", &Result::reversal_exact,
                    "the initial state came back bit for bit and every recomputed gradient had its forward bits")
      .def_readonly("nonreproducible_step", &Result::nonreproducible_step,
                    "the first step (in the reverse pass) whose gradient changed bits, or -1")
      .def_readonly("info_bits", &Result::info_bits, "bits held by the information buffer after training")
      .def_readonly("extra_bytes", &Result::extra_bytes, "bytes held beyond w and the moments after training");

  m.def("hypergradients", &ComputeSgdHypergradients, py::arg("gradient"), py::arg("hvp"), py::arg("meta_gradient"),
        py::arg("w0"), py::arg("alpha"), py::arg("gamma"), py::arg("v0") = py::none(),
        py::arg("blocks") = py::none(), py::arg("buffer") = "fast", py::arg("optimizer") = "sgd",
        py::arg("mixed") = py::none(), py::arg("num_theta") = 0,
        R"doc(Exact hypergradients of SGD with momentum, run forward then backward in exact arithmetic.

gradient(w, t) -> (loss, g): the training loss of step t and its gradient at w
hvp(w, u, t) -> H(w) u of the same loss
meta_gradient(w_T) -> (f, df_dw), or (f, df_dw, df_dtheta) with mixed
alpha, gamma: arrays of shape (T,) or (T, B), each gamma in [1e-6, 0.999999];
blocks: int array (P,) of block indices in [0, P) (B blocks)
mixed(w, u, t) -> d/dtheta <grad_w L_t(w, theta), u>, num_theta values: hyperparameters theta
inside the training loss; their hypergradient is r.d_theta (empty without mixed)
The callbacks get read-only copies of w and u (safe to keep); their results must be finite
numbers, else ValueError naming the callback and the step.
Memory does not grow with T beyond the information buffer (about log2(1/gamma) bits per
parameter per step). The callbacks must be bit-reproducible. For Adam: adam_hypergradients; for RMSprop:
rmsprop_hypergradients; for any registered optimizer by name: optimizer_hypergradients (this call is
optimizer_hypergradients("sgd", ..., u0=v0, gamma=gamma)).)doc");
  m.def("adam_hypergradients", &ComputeAdamHypergradients, py::arg("gradient"), py::arg("hvp"),
        py::arg("meta_gradient"), py::arg("w0"), py::arg("alpha"), py::arg("beta1"), py::arg("beta2"),
        py::arg("eps") = 1e-8, py::arg("blocks") = py::none(), py::arg("buffer") = "fast",
        py::arg("mixed") = py::none(), py::arg("num_theta") = 0,
        R"doc(Exact hypergradients of Adam, run forward then backward in exact arithmetic.

m <- beta1 m + (1 - beta1) g;  s <- beta2 s + (1 - beta2) g^2;  w <- w - alpha mhat / (sqrt(shat) + eps)
with mhat, shat bias-corrected by the products of the betas so far, m0 = s0 = 0.
gradient, hvp, meta_gradient, blocks, buffer, mixed, num_theta: as hypergradients(); alpha,
beta1, beta2: arrays of shape (T,) or (T, B), each beta in [1e-6, 0.999999]. Memory: about log2(1/beta1) + log2(1/beta2) bits per
parameter per step. Returns d_w0, d_m0, d_s0, d_alpha, d_beta1, d_beta2, d_eps, d_theta, w_T, m_T, s_T.)doc");
  m.def("rmsprop_hypergradients", &ComputeRmspropHypergradients, py::arg("gradient"), py::arg("hvp"),
        py::arg("meta_gradient"), py::arg("w0"), py::arg("alpha"), py::arg("rho"), py::arg("mu"),
        py::arg("eps") = 1e-8, py::arg("blocks") = py::none(), py::arg("buffer") = "fast",
        py::arg("mixed") = py::none(), py::arg("num_theta") = 0,
        R"doc(Exact hypergradients of RMSprop with momentum, run forward then backward in exact arithmetic.

s <- rho s + (1 - rho) g^2;  m <- mu m + (1 - mu) g / sqrt(s + eps);  w <- w - alpha m,  s0 = m0 = 0.
gradient, hvp, meta_gradient, blocks, buffer, mixed, num_theta: as hypergradients(); alpha, rho,
mu: arrays of shape (T,) or (T, B), each in [1e-6, 0.999999]. Returns d_w0, d_s0, d_m0, d_alpha,
d_rho, d_mu, d_eps, d_theta, w_T, s_T, m_T.)doc");

  m.def("optimizer_hypergradients", &ComputeOptimizerHypergradients, py::arg("optimizer"), py::arg("gradient"),
        py::arg("hvp"), py::arg("meta_gradient"), py::arg("w0"), py::arg("alpha"), py::arg("u0") = py::none(),
        py::arg("blocks") = py::none(), py::arg("buffer") = "fast", py::arg("mixed") = py::none(),
        py::arg("num_theta") = 0,
        R"doc(Exact hypergradients of any registered optimizer (hypergrad.optimizers()), by name.

optimizer: "sgd", "adam", "rmsprop", ... (unknown names: ValueError listing the registered ones)
gradient, hvp, meta_gradient, w0, blocks, buffer, mixed, num_theta: as hypergradients()
alpha: array of shape (T,) or (T, B)
u0: the initial moments, a 1-D array of K*P values in the optimizer's order (its "moments"), or
None for zeros
**hyperparameters: the optimizer's own by name, e.g. gamma=...; beta1=..., beta2=..., eps=...;
rho=..., mu=..., eps=...: a schedule as an array of alpha's shape or one number for every step
and block, a scalar as a number; those not given take the registry's default. A name the
optimizer does not take, or a value outside its range, is a ValueError naming it.
Returns d_w0, d_alpha, d_theta, w_T, f, ..., and d_<moment>0, <moment>_T, d_<hyperparameter>
for the optimizer's own moments and hyperparameters.)doc");
  m.def("optimizers", &OptimizerTable,
        R"doc(The registered optimizers, in order: {name: {"summary", "default_alpha", "moments",
"hyperparameters": {name: {"per_step", "default", "min", "max", "help"}}}}. per_step: a (T, B)
schedule (True) or one number; [min, max]: the range every entry point accepts.)doc");

  m.def("to_fixed", [](const py::object& x_arg) {
    const Array x = Numbers(x_arg, "x");
    Require1D(x, "x");
    const FixedPointVector v = FixedPointVector::FromDoubles(ToVector(x));
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(v.size()));
    std::memcpy(out.mutable_data(), v.raw().data(), v.size() * sizeof(std::int64_t));
    return out;
  }, py::arg("x"), "Fixed point of a 1-D array of numbers (units of 2^-52, truncated toward zero); "
        "OverflowError for |x| >= 2048");
  m.def("from_fixed", [](const py::object& i_arg) {
    const py::array a = AsArray(i_arg);
    Require1D(a, "i");
    const std::vector<std::int64_t> i = Integers(a, "i");
    py::array_t<double> out(static_cast<py::ssize_t>(i.size()));
    for (std::size_t k = 0; k < i.size(); ++k) out.mutable_data()[k] = ToDouble(i[k]);
    return out;
  }, py::arg("i"), "The float64 values of a 1-D integer array in units of 2^-52");
  m.def("momentum_ratio", [](double gamma) {
    CheckDecay(gamma, "gamma");  // the range every entry point applies
    const DecayRatio r = DecayToRatio(gamma);
    return py::make_tuple(r.n, r.d);
  }, py::arg("gamma"), "The ratio n/d applied exactly for momentum gamma in [1e-6, 0.999999] (the authors' rule)");

  py::class_<InfoBuffer>(m, "InfoBuffer", "Per element, a stack of digits (the information buffer)")
      .def(py::init([](const std::string& kind, std::size_t size) { return MakeInfoBuffer(ParseBufferKind(kind), size); }),
           py::arg("kind") = "fast", py::arg("size"))
      .def("push", &InfoBuffer::Push, py::arg("i"), py::arg("digit"), py::arg("radix"))
      .def("pop", &InfoBuffer::Pop, py::arg("i"), py::arg("radix"))
      .def_property_readonly("information_bits", &InfoBuffer::InformationBits)
      .def_property_readonly("allocated_bytes", &InfoBuffer::AllocatedBytes)
      .def_property_readonly("empty", &InfoBuffer::Empty)
      .def("__len__", &InfoBuffer::size);
  m.def("multiply_by_ratio", [](const py::object& v, const py::object& n, const py::object& d, InfoBuffer& b) {
    ApplyRatio(v, n, d, b, false);
  }, py::arg("values"), py::arg("n"), py::arg("d"), py::arg("buffer"),
        "Algorithm 3 in place on a writeable, C-contiguous 1-D int64 array (any other is refused): "
        "values *= n/d with integers n, d in [1, 65536], lost digits into buffer");
  m.def("divide_by_ratio", [](const py::object& v, const py::object& n, const py::object& d, InfoBuffer& b) {
    ApplyRatio(v, n, d, b, true);
  }, py::arg("values"), py::arg("n"), py::arg("d"), py::arg("buffer"), "The exact inverse of multiply_by_ratio");

  py::class_<PyMlp>(m, "Mlp", "The built-in tanh MLP with log-softmax outputs on user data")
      .def(py::init(&PyMlp::Make), py::arg("layers"), py::arg("inputs"), py::arg("labels"),
           py::arg("l2") = std::vector<double>{}, py::arg("threads") = 1, py::arg("tanh") = "libm",
           "threads: for each pass, 1 to 256 (the same bits for any number); inputs, l2: finite; tanh: 'libm' (glibc's) or "
           "'polynomial' (vectorised, within 4 ulp of glibc's)")
      .def_property_readonly("num_params", [](const PyMlp& p) { return p.mlp->num_params(); })
      .def("gradient", &PyMlp::Gradient, py::arg("w"), py::arg("rows"), "(loss, g) on the given rows")
      .def("hvp", &PyMlp::Hvp, py::arg("w"), py::arg("u"), py::arg("rows"), "H(w) u on the given rows (exact)")
      .def("evaluate", &PyMlp::Evaluate, py::arg("w"), "(mean NLL, gradient) on all rows")
      .def("layer_blocks", &PyMlp::LayerBlocks, "block index per parameter: W0, b0, W1, b1, ...");
}
