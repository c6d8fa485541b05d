// The Python module `hypergrad` (pybind11): exact hypergradients of any deterministic model a
// researcher writes in Python, plus thin wrappers of the built-in MLP, the information buffers,
// Algorithm 3 and fixed-point conversion. numpy arrays in and out; C++ errors arrive as Python
// exceptions with the same messages (ValueError for bad arguments, OverflowError for a run that
// leaves the fixed-point range, naming the step and parameter).
//
//   r = hypergrad.hypergradients(gradient, hvp, meta_gradient, w0, alpha, gamma,
//                                v0=None, blocks=None, buffer="fast", optimizer="sgd")
//   r = hypergrad.adam_hypergradients(gradient, hvp, meta_gradient, w0, alpha, beta1, beta2,
//                                     eps=1e-8, blocks=None, buffer="fast")
//
// The model is two callbacks: gradient(w, t) -> (loss, g) and hvp(w, u, t) -> H(w)·u, both of
// the training loss of step t. They must be bit-reproducible (the reverse pass calls gradient
// again at the same w and needs the same bits); a callback that is not gives
// r.reversal_exact == False and a RuntimeWarning naming the step, never a silent wrong answer.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "blas_threads.h"
#include "exact_momentum.h"
#include "fixed_point.h"
#include "info_buffer.h"
#include "mlp.h"
#include "rational.h"
#include "reversible_adam.h"
#include "reversible_sgd.h"

namespace py = pybind11;

namespace hypergrad::python {
namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A read-only numpy view of C++ memory that lives as long as the call (no copy).
py::array_t<double> View(std::span<const double> x) {
  py::array_t<double> a({static_cast<py::ssize_t>(x.size())}, {static_cast<py::ssize_t>(sizeof(double))},
                        x.data(), py::none());
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

std::vector<double> ToVector(const Array& a) { return {a.data(), a.data() + a.size()}; }

// A 1-D float64 array of `n` values returned by callback `what`, copied into `out`.
void CopyResult(const py::handle& value, std::span<double> out, const std::string& what) {
  Array a;
  try {
    a = value.cast<Array>();
  } catch (const py::cast_error&) {
    throw std::invalid_argument(what + " did not return an array of numbers");
  }
  if (a.ndim() != 1 || static_cast<std::size_t>(a.size()) != out.size()) {
    throw std::invalid_argument(what + " returned " + std::to_string(a.size()) + " values in " +
                                std::to_string(a.ndim()) + " dimensions, expected a 1-D array of " +
                                std::to_string(out.size()));
  }
  std::memcpy(out.data(), a.data(), out.size() * sizeof(double));
}

// A callback's (loss, array) pair: the loss returned, the array copied into `out`.
// `form` names the pair in messages, e.g. "(loss, g)".
double LossAndArray(const py::object& result, std::span<double> out, const std::string& what,
                    const std::string& form) {
  if (!py::isinstance<py::tuple>(result) && !py::isinstance<py::list>(result)) {
    throw std::invalid_argument(what + " must return " + form);
  }
  const py::tuple pair = result.cast<py::tuple>();
  if (pair.size() != 2) throw std::invalid_argument(what + " must return " + form);
  CopyResult(pair[1], out, what);
  return pair[0].cast<double>();
}

std::uint64_t Fingerprint(std::span<const double> g) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the bits
  const auto* bytes = reinterpret_cast<const unsigned char*>(g.data());
  for (std::size_t i = 0; i < g.size() * sizeof(double); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

// A Model whose loss, gradient and Hessian-vector product are Python callables of (w, t). Batch
// t carries only the step number. Every forward gradient's fingerprint is kept (8 bytes per
// step), so the reverse pass can name the first step whose recomputed gradient has other bits.
class CallbackModel final : public Model {
 public:
  CallbackModel(py::function gradient, py::function hvp, std::size_t params, std::size_t steps)
      : gradient_(std::move(gradient)), hvp_(std::move(hvp)), params_(params), forward_(steps, 0),
        seen_(steps, false) {}

  std::size_t num_params() const override { return params_; }

  double Gradient(std::span<const double> w, const Batch& batch, std::span<double> grad) const override {
    const std::size_t t = batch.rows.at(0);
    const double loss = CallGradient(w, t, grad);
    forward_[t] = Fingerprint(grad);
    seen_[t] = true;
    return loss;
  }

  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp, std::span<double>) const override {
    const std::size_t t = batch.rows.at(0);
    const double loss = CallGradient(w, t, grad);
    if (seen_[t] && Fingerprint(grad) != forward_[t] && first_mismatch_ < 0) {
      first_mismatch_ = static_cast<long long>(t);
    }
    const py::object result = hvp_(View(w), View(u), t);
    CopyResult(result, hvp, "hvp(w, u, t=" + std::to_string(t) + ")");
    return loss;
  }

  // The largest step (the first met in the reverse pass) whose gradient changed bits, or -1.
  long long first_mismatch() const { return first_mismatch_; }

 private:
  double CallGradient(std::span<const double> w, std::size_t t, std::span<double> grad) const {
    return LossAndArray(gradient_(View(w), t), grad, "gradient(w, t=" + std::to_string(t) + ")",
                        "(loss, g)");
  }

  py::function gradient_, hvp_;
  std::size_t params_;
  mutable std::vector<std::uint64_t> forward_;
  mutable std::vector<bool> seen_;
  mutable long long first_mismatch_ = -1;
};

// What both optimizers' results share.
struct ResultBase {
  py::array_t<double> d_w0, d_alpha, w_T;
  double f = 0.0;
  bool reversal_exact = false;
  double info_bits = 0.0;
  std::size_t extra_bytes = 0;
  long long nonreproducible_step = -1;
};

struct Result : ResultBase {  // SGD with momentum
  py::array_t<double> d_v0, d_gamma, v_T;
};

struct AdamResult : ResultBase {
  py::array_t<double> d_m0, d_s0, d_beta1, d_beta2, m_T, s_T;
  double d_eps = 0.0;
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

ParameterBlocks MakeBlocks(const py::object& blocks, std::size_t params) {
  if (blocks.is_none()) return ParameterBlocks::Single(params);
  const auto b = blocks.cast<py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>>();
  if (b.ndim() != 1 || static_cast<std::size_t>(b.size()) != params) {
    throw std::invalid_argument("blocks must be an integer array of one block index per parameter (" +
                                std::to_string(params) + ")");
  }
  ParameterBlocks out;
  std::int64_t most = -1;
  for (py::ssize_t k = 0; k < b.size(); ++k) {
    if (b.data()[k] < 0) throw std::invalid_argument("blocks: index " + std::to_string(k) + " is negative");
    most = std::max(most, b.data()[k]);
    out.block_of.push_back(static_cast<std::uint32_t>(b.data()[k]));
  }
  for (std::int64_t j = 0; j <= most; ++j) out.names.push_back("block " + std::to_string(j));
  out.Validate();
  return out;
}

// A 1-D array of n values like w0 (or zeros if none), for v0.
std::vector<double> LikeW0(const py::object& arg, std::size_t n, const char* name) {
  if (arg.is_none()) return std::vector<double>(n, 0.0);
  const auto v = arg.cast<Array>();
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

// Trains `run` (ReversibleSgd or ReversibleAdam) from `start`, evaluates the meta-objective at
// w_T and runs training backwards; fills the fields every result has and returns the
// hypergradients and the moments u_T as they were before the reverse pass.
template <class Trainer, class... Start>
auto TrainAndReverse(Trainer& run, const CallbackModel& model, const py::function& meta_gradient,
                     const std::vector<py::ssize_t>& schedule_shape, ResultBase& r,
                     const Start&... start) {
  run.Train(start...);
  const auto n = static_cast<py::ssize_t>(run.weights().size());
  r.w_T = Owned(run.weights(), {n});
  std::vector<double> d_w(run.weights().size());
  r.f = LossAndArray(meta_gradient(View(run.weights())), d_w, "meta_gradient(w_T)", "(f, df_dw)");
  r.info_bits = run.information_bits_after_train();
  r.extra_bytes = run.extra_bytes_after_train();
  std::vector<double> moments(run.moments().begin(), run.moments().end());
  auto h = run.Reverse(d_w);
  r.nonreproducible_step = model.first_mismatch();
  r.reversal_exact = h.reversal.exact && r.nonreproducible_step < 0;
  r.d_w0 = Owned(h.d_w0, {n});
  r.d_alpha = Owned(h.d_alpha, schedule_shape);
  if (!r.reversal_exact) {
    const std::string where = r.nonreproducible_step >= 0
        ? "gradient(w, t) returned other bits in the reverse pass than in the forward pass at step t = " +
              std::to_string(r.nonreproducible_step)
        : std::string("the reverse pass did not recover the initial state exactly");
    PyErr_WarnEx(PyExc_RuntimeWarning,
                 ("hypergradients are not exact: " + where +
                  " (the callbacks must give bit-identical results for the same w and t)").c_str(),
                 1);
  }
  return std::pair{std::move(h), std::move(moments)};
}

std::vector<py::ssize_t> ShapeOf(const Array& a) { return {a.shape(), a.shape() + a.ndim()}; }

Result ComputeHypergradients(py::function gradient, py::function hvp, py::function meta_gradient,
                      const Array& w0, const Array& alpha, const Array& gamma, const py::object& v0_arg,
                      const py::object& blocks_arg, const std::string& buffer,
                      const std::string& optimizer) {
  if (optimizer != "sgd") {
    throw std::invalid_argument("optimizer '" + optimizer + "': hypergradients() is SGD with momentum ('sgd'); "
                                "for Adam call adam_hypergradients(gradient, hvp, meta_gradient, w0, alpha, "
                                "beta1, beta2, eps)");
  }
  const std::size_t n = CheckW0(w0);
  const std::vector<double> v0 = LikeW0(v0_arg, n, "v0");
  const ParameterBlocks blocks = MakeBlocks(blocks_arg, n);
  const std::size_t iters = ScheduleSteps({&alpha, &gamma}, {"alpha", "gamma"}, blocks.num_blocks());
  Schedule schedule{iters, blocks.num_blocks(), ToVector(alpha), ToVector(gamma)};
  schedule.Validate();
  auto model = std::make_shared<CallbackModel>(gradient, hvp, n, iters);
  BatchSchedule steps = [](std::size_t t) { return Batch{{t}}; };
  ReversibleSgd sgd({model, blocks, std::move(schedule), steps},
                    SgdOptions{.method = ReversalMethod::kReversible, .buffer = ParseBufferKind(buffer)});
  Result r;
  const auto [h, v_T] = TrainAndReverse(sgd, *model, meta_gradient, ShapeOf(alpha), r, ToVector(w0), v0);
  r.v_T = Owned(v_T, {static_cast<py::ssize_t>(n)});
  r.d_v0 = Owned(h.d_v0, {static_cast<py::ssize_t>(n)});
  r.d_gamma = Owned(h.d_gamma, ShapeOf(alpha));
  return r;
}

AdamResult ComputeAdamHypergradients(py::function gradient, py::function hvp, py::function meta_gradient,
                                     const Array& w0, const Array& alpha, const Array& beta1,
                                     const Array& beta2, double eps, const py::object& blocks_arg,
                                     const std::string& buffer) {
  const std::size_t n = CheckW0(w0);
  const ParameterBlocks blocks = MakeBlocks(blocks_arg, n);
  const std::size_t iters =
      ScheduleSteps({&alpha, &beta1, &beta2}, {"alpha", "beta1", "beta2"}, blocks.num_blocks());
  AdamSchedule schedule{iters, blocks.num_blocks(), ToVector(alpha), ToVector(beta1), ToVector(beta2), eps};
  schedule.Validate();
  auto model = std::make_shared<CallbackModel>(gradient, hvp, n, iters);
  BatchSchedule steps = [](std::size_t t) { return Batch{{t}}; };
  ReversibleAdam adam({model, blocks, std::move(schedule), steps},
                      TrainingOptions{.method = ReversalMethod::kReversible, .buffer = ParseBufferKind(buffer)});
  AdamResult r;
  const auto [h, u_T] = TrainAndReverse(adam, *model, meta_gradient, ShapeOf(alpha), r, ToVector(w0));
  const auto size = static_cast<py::ssize_t>(n);
  r.m_T = Owned(std::span(u_T).first(n), {size});
  r.s_T = Owned(std::span(u_T).last(n), {size});
  r.d_m0 = Owned(h.d_m0, {size});
  r.d_s0 = Owned(h.d_s0, {size});
  r.d_beta1 = Owned(h.d_beta1, ShapeOf(alpha));
  r.d_beta2 = Owned(h.d_beta2, ShapeOf(alpha));
  r.d_eps = h.d_eps;
  return r;
}

// The built-in MLP on user data (numpy arrays), for gradients, HVPs and loss evaluations.
struct PyMlp {
  std::shared_ptr<const Mlp> mlp;

  static PyMlp Make(const std::vector<std::size_t>& layers, const Array& inputs,
                    const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& labels,
                    const std::vector<double>& l2, unsigned threads, const std::string& tanh) {
    if (threads == 0) throw std::invalid_argument("threads must be at least 1");
    if (inputs.ndim() != 2) throw std::invalid_argument("inputs must be a 2-D array (rows × features)");
    if (labels.ndim() != 1 || labels.size() != inputs.shape(0)) {
      throw std::invalid_argument("labels must be a 1-D array with one label per row of inputs");
    }
    if (layers.size() < 2) throw std::invalid_argument("layers: at least two sizes are needed");
    std::vector<std::size_t> y;
    for (py::ssize_t i = 0; i < labels.size(); ++i) {
      if (labels.data()[i] < 0) throw std::invalid_argument("labels: label of row " + std::to_string(i) + " is negative");
      y.push_back(static_cast<std::size_t>(labels.data()[i]));
    }
    auto data = std::make_shared<const Dataset>(
        MakeDataset(ToVector(inputs), static_cast<std::size_t>(inputs.shape(1)), y, layers.back()));
    return {std::make_shared<const Mlp>(
        MlpOptions{layers, l2, false, false, threads, ParseTanhKernel(tanh)}, data)};
  }

  static Batch Rows(const std::vector<std::size_t>& rows) { return Batch{rows}; }

  std::vector<double> Check(const Array& w) const {
    if (w.ndim() != 1 || static_cast<std::size_t>(w.size()) != mlp->num_params()) {
      throw std::invalid_argument("w must be a 1-D array of " + std::to_string(mlp->num_params()) + " values");
    }
    return ToVector(w);
  }

  py::tuple Gradient(const Array& w, const std::vector<std::size_t>& rows) const {
    const std::vector<double> x = Check(w);
    std::vector<double> g(x.size());
    const double loss = mlp->Gradient(x, Rows(rows), g);
    return py::make_tuple(loss, Owned(g, {static_cast<py::ssize_t>(g.size())}));
  }

  py::array_t<double> Hvp(const Array& w, const Array& u, const std::vector<std::size_t>& rows) const {
    const std::vector<double> x = Check(w), d = Check(u);
    std::vector<double> g(x.size()), hv(x.size());
    mlp->GradientAndHvp(x, Rows(rows), d, g, hv, {});
    return Owned(hv, {static_cast<py::ssize_t>(hv.size())});
  }

  // Mean NLL on all training rows and its gradient, as the C++ tools compute it.
  py::tuple Evaluate(const Array& w) const {
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

std::vector<MomentumRatio> Ratios(const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& n,
                                  const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& d) {
  if (n.size() != d.size()) throw std::invalid_argument("numerators and denominators differ in length");
  std::vector<MomentumRatio> r(static_cast<std::size_t>(n.size()));
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = {n.data()[i], d.data()[i]};
  return r;
}

// Algorithm 3 on an int64 array (units of 2^-52), in place.
void ApplyRatio(py::array_t<std::int64_t, py::array::c_style> values,
                const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& n,
                const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& d,
                InfoBuffer& buffer, bool inverse) {
  if (values.ndim() != 1) throw std::invalid_argument("values must be a 1-D int64 array");
  FixedPointVector v(static_cast<std::size_t>(values.size()));
  std::memcpy(v.raw().data(), values.data(), v.size() * sizeof(std::int64_t));
  const std::vector<MomentumRatio> ratios = Ratios(n, d);
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
        "OpenBLAS's thread count (default 1 after import; results depend on it)");
  m.def("blas_threads", &BlasThreads);

  py::class_<ResultBase>(m, "ResultBase", "What both optimizers' results share")
      .def_readonly("d_w0", &ResultBase::d_w0, "df/dw0")
      .def_readonly("d_alpha", &ResultBase::d_alpha, "df/dalpha, the shape of alpha")
      .def_readonly("w_T", &ResultBase::w_T)
      .def_readonly("f", &ResultBase::f, "the meta-objective at w_T")
      .def_readonly("reversal_exact", &ResultBase::reversal_exact,
                    "the initial state came back bit for bit and every recomputed gradient had its forward bits")
      .def_readonly("nonreproducible_step", &ResultBase::nonreproducible_step,
                    "the first step (in the reverse pass) whose gradient changed bits, or -1")
      .def_readonly("info_bits", &ResultBase::info_bits, "bits held by the information buffer after training")
      .def_readonly("extra_bytes", &ResultBase::extra_bytes, "bytes held beyond w and the moments after training");
  py::class_<Result, ResultBase>(m, "HypergradientResult", "What hypergradients() returns (SGD with momentum)")
      .def_readonly("d_v0", &Result::d_v0, "df/dv0")
      .def_readonly("d_gamma", &Result::d_gamma, "df/dgamma, the shape of gamma")
      .def_readonly("v_T", &Result::v_T);
  py::class_<AdamResult, ResultBase>(m, "AdamHypergradientResult", "What adam_hypergradients() returns")
      .def_readonly("d_m0", &AdamResult::d_m0, "df/dm0")
      .def_readonly("d_s0", &AdamResult::d_s0, "df/ds0")
      .def_readonly("d_beta1", &AdamResult::d_beta1, "df/dbeta1, the shape of beta1")
      .def_readonly("d_beta2", &AdamResult::d_beta2, "df/dbeta2, the shape of beta2")
      .def_readonly("d_eps", &AdamResult::d_eps, "df/deps")
      .def_readonly("m_T", &AdamResult::m_T)
      .def_readonly("s_T", &AdamResult::s_T);

  m.def("hypergradients", &ComputeHypergradients, py::arg("gradient"), py::arg("hvp"), py::arg("meta_gradient"),
        py::arg("w0"), py::arg("alpha"), py::arg("gamma"), py::arg("v0") = py::none(),
        py::arg("blocks") = py::none(), py::arg("buffer") = "fast", py::arg("optimizer") = "sgd",
        R"doc(Exact hypergradients of SGD with momentum, run forward then backward in exact arithmetic.

gradient(w, t) -> (loss, g): the training loss of step t and its gradient at w
hvp(w, u, t) -> H(w) u of the same loss
meta_gradient(w_T) -> (f, df_dw)
alpha, gamma: arrays of shape (T,) or (T, B); blocks: int array (P,) of block indices (B blocks)
Memory does not grow with T beyond the information buffer (about log2(1/gamma) bits per
parameter per step). The callbacks must be bit-reproducible. For Adam: adam_hypergradients.)doc");
  m.def("adam_hypergradients", &ComputeAdamHypergradients, py::arg("gradient"), py::arg("hvp"),
        py::arg("meta_gradient"), py::arg("w0"), py::arg("alpha"), py::arg("beta1"), py::arg("beta2"),
        py::arg("eps") = 1e-8, py::arg("blocks") = py::none(), py::arg("buffer") = "fast",
        R"doc(Exact hypergradients of Adam, run forward then backward in exact arithmetic.

m <- beta1 m + (1 - beta1) g;  s <- beta2 s + (1 - beta2) g^2;  w <- w - alpha mhat / (sqrt(shat) + eps)
with mhat, shat bias-corrected by the products of the betas so far, m0 = s0 = 0.
gradient, hvp, meta_gradient, blocks, buffer: as hypergradients(); alpha, beta1, beta2: arrays
of shape (T,) or (T, B), 0 < beta < 1. Memory: about log2(1/beta1) + log2(1/beta2) bits per
parameter per step. Returns d_w0, d_m0, d_s0, d_alpha, d_beta1, d_beta2, d_eps, w_T, m_T, s_T.)doc");

  m.def("to_fixed", [](const Array& x) {
    const FixedPointVector v = FixedPointVector::FromDoubles(ToVector(x));
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(v.size()));
    std::memcpy(out.mutable_data(), v.raw().data(), v.size() * sizeof(std::int64_t));
    return out;
  }, py::arg("x"), "Fixed point (units of 2^-52, truncated toward zero); OverflowError for |x| >= 2048");
  m.def("from_fixed", [](const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& i) {
    py::array_t<double> out(i.size());
    for (py::ssize_t k = 0; k < i.size(); ++k) out.mutable_data()[k] = ToDouble(i.data()[k]);
    return out;
  }, py::arg("i"));
  m.def("momentum_ratio", [](double gamma) {
    const MomentumRatio r = MomentumToRatio(gamma);
    return py::make_tuple(r.n, r.d);
  }, py::arg("gamma"), "The ratio n/d applied exactly for momentum gamma (the authors' rule)");

  py::class_<InfoBuffer>(m, "InfoBuffer", "Per element, a stack of digits (the information buffer)")
      .def(py::init([](const std::string& kind, std::size_t size) { return MakeInfoBuffer(ParseBufferKind(kind), size); }),
           py::arg("kind") = "fast", py::arg("size"))
      .def("push", &InfoBuffer::Push, py::arg("i"), py::arg("digit"), py::arg("radix"))
      .def("pop", &InfoBuffer::Pop, py::arg("i"), py::arg("radix"))
      .def_property_readonly("information_bits", &InfoBuffer::InformationBits)
      .def_property_readonly("allocated_bytes", &InfoBuffer::AllocatedBytes)
      .def_property_readonly("empty", &InfoBuffer::Empty)
      .def("__len__", &InfoBuffer::size);
  m.def("multiply_by_ratio", [](py::array_t<std::int64_t, py::array::c_style> v, const py::object& n,
                                const py::object& d, InfoBuffer& b) {
    ApplyRatio(v, n.cast<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>(),
               d.cast<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>(), b, false);
  }, py::arg("values"), py::arg("n"), py::arg("d"), py::arg("buffer"),
        "Algorithm 3 in place on an int64 array: values *= n/d, lost digits into buffer");
  m.def("divide_by_ratio", [](py::array_t<std::int64_t, py::array::c_style> v, const py::object& n,
                              const py::object& d, InfoBuffer& b) {
    ApplyRatio(v, n.cast<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>(),
               d.cast<py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>>(), b, true);
  }, py::arg("values"), py::arg("n"), py::arg("d"), py::arg("buffer"), "The exact inverse of multiply_by_ratio");

  py::class_<PyMlp>(m, "Mlp", "The built-in tanh MLP with log-softmax outputs on user data")
      .def(py::init(&PyMlp::Make), py::arg("layers"), py::arg("inputs"), py::arg("labels"),
           py::arg("l2") = std::vector<double>{}, py::arg("threads") = 1, py::arg("tanh") = "libm",
           "threads: for each pass (the same bits for any number); tanh: 'libm' (glibc's) or "
           "'polynomial' (vectorised, within 4 ulp of glibc's)")
      .def_property_readonly("num_params", [](const PyMlp& p) { return p.mlp->num_params(); })
      .def("gradient", &PyMlp::Gradient, py::arg("w"), py::arg("rows"), "(loss, g) on the given rows")
      .def("hvp", &PyMlp::Hvp, py::arg("w"), py::arg("u"), py::arg("rows"), "H(w) u on the given rows (exact)")
      .def("evaluate", &PyMlp::Evaluate, py::arg("w"), "(mean NLL, gradient) on all rows")
      .def("layer_blocks", &PyMlp::LayerBlocks, "block index per parameter: W0, b0, W1, b1, ...");
}
