#include "common/cli_checks.h"

#include "optimizers/registry.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "models/gemm.h"
#include "models/gemm_portable.h"
#include "models/registry.h"
#include "arithmetic/rational.h"

namespace hypergrad::experiments {
namespace {

std::string Number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

}  // namespace

CLI::Validator WholeNumber(std::uint64_t low, std::uint64_t high) {
  const std::string range = "a whole number in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::uint64_t value = 0;
        bool ok = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
        for (const char c : text) {
          if (!ok) break;
          ok = !__builtin_mul_overflow(value, std::uint64_t{10}, &value) &&
               !__builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value);
        }
        if (!ok || value < low || value > high) return "expected " + range + ", got '" + text + "'";
        return {};
      },
      range);
}

CLI::Validator RealNumber(double low, double high, bool open) {
  const std::string range = open ? "a number in (" + Number(low) + ", " + Number(high) + ")"
                                 : "a number in [" + Number(low) + ", " + Number(high) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = text.empty() ? NAN : std::strtod(text.c_str(), &end);
        const bool parsed = !text.empty() && end != nullptr && *end == '\0' && std::isfinite(x);
        const bool inside = parsed && (open ? (x > low && x < high) : (x >= low && x <= high));
        if (!inside) return "expected " + range + ", got '" + text + "'";
        return {};
      },
      range);
}

CLI::Option* AddSeedOption(CLI::App& app, std::uint64_t& seed, const std::string& help) {
  return app.add_option("--seed", seed, help + " (0 to 2^32 - 1)")
      ->transform(WholeNumber(0, kMaxSeed))
      ->capture_default_str();
}

CLI::Option* AddPassThreadsOption(CLI::App& app, unsigned& threads) {
  return app.add_option("--threads", threads,
                        "threads splitting each training and reverse step of the one run (results "
                        "are the same bits for any number; at most as many run as the CPUs the "
                        "process may use; unlike the figure targets, where --threads runs "
                        "independent runs side by side)")
      ->transform(WholeNumber(1, 256))
      ->capture_default_str();
}

CLI::Option* AddBufferOption(CLI::App& app, std::string& buffer) {
  return app.add_option("--buffer", buffer, "information buffer: exact or fast")
      ->check(CLI::IsMember({"exact", "fast"}))
      ->capture_default_str();
}

void AddJsonAndQuietFlags(CLI::App& app, bool& json, bool& quiet) {
  app.add_flag("--json", json, "print one JSON object on stdout");
  app.add_flag("--quiet", quiet, "no progress lines on stderr");
}

CLI::Option* AddGemmOption(CLI::App& app, std::string& name, std::string& variant) {
  CLI::Option* variant_option = app.add_option("--gemm-variant", variant,
                 "instruction set of the portable kernel: auto (the widest this CPU runs), "
                 "scalar, sse2, avx2 or avx512; all give the same bits (for checking that)")
      ->check(CLI::IsMember({"auto", "scalar", "sse2", "avx2", "avx512"}))
      ->each([](const std::string& value) {
        try {
          ForcePortableGemmVariant(ParsePortableGemmVariant(value));
        } catch (const std::invalid_argument& e) {
          throw CLI::ValidationError("--gemm-variant", e.what());
        }
      })
      ->capture_default_str();
  return app.add_option("--gemm", name,
                        "matrix product kernel: portable (each entry summed in increasing k: "
                        "products of the same bits on every x86-64 CPU, and so whole results on "
                        "every CPU with FMA and AVX2, whose glibc builds of exp, log and tanh agree; "
                        "every committed result) or openblas (OpenBLAS's kernels for this CPU: "
                        "the last bits depend on the CPU)")
      ->check(CLI::IsMember({"openblas", "portable"}))
      ->each([variant_option, &variant](const std::string& value) {
        // --gemm-variant picks the portable kernel's instruction set: OpenBLAS would ignore it.
        // (CLI11 runs the options' callbacks in the order they were added: the variant first.)
        if (value == "openblas" && variant_option->count() > 0 && variant != "auto") {
          throw CLI::ValidationError("--gemm-variant " + variant +
                                     " chooses the portable kernel's instruction set; --gemm openblas "
                                     "does not use it");
        }
        SetGemmKernel(ParseGemmKernel(value));
      })
      ->capture_default_str();
}

void CheckFitsInMemory(double bytes, const std::string& what) {
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory) {
    char text[160];
    std::snprintf(text, sizeof text, " need about %.3g GiB of memory; this machine has %.3g GiB",
                  bytes / 1073741824.0, memory / 1073741824.0);
    throw std::invalid_argument(what + text);
  }
}

void RefuseOtherOptimizersFlags(const CLI::App& app, const std::string& optimizer) {
  const OptimizerInfo& chosen = FindOptimizer(optimizer);
  const auto takes = [](const OptimizerInfo& info, const std::string& name) {
    return std::any_of(info.flags.begin(), info.flags.end(),
                       [&](const OptimizerFlag& f) { return f.name == name; });
  };
  for (const OptimizerInfo& info : Optimizers()) {
    for (const OptimizerFlag& flag : info.flags) {
      const CLI::Option* option = app.get_option_no_throw("--" + flag.name);
      if (option == nullptr || option->count() == 0 || takes(chosen, flag.name)) continue;
      std::string owners;  // every optimizer that takes the flag
      for (const OptimizerInfo& other : Optimizers()) {
        if (takes(other, flag.name)) owners += (owners.empty() ? "" : " or ") + other.name;
      }
      throw CLI::ValidationError("--" + flag.name, "applies to --optimizer " + owners +
                                 " only, not to --optimizer " + optimizer);
    }
  }
}

void AddOptimizerOptions(CLI::App& app, OptimizerFlags& flags) {
  app.final_callback([&app, &flags] {
    RefuseOtherOptimizersFlags(app, flags.optimizer);
    // The chosen optimizer's own range (a flag several optimizers take was checked against the
    // union of their ranges while parsing).
    for (const OptimizerFlag& flag : FindOptimizer(flags.optimizer).flags) {
      const auto given = flags.given.find(flag.name);
      if (given == flags.given.end() || (given->second >= flag.min && given->second <= flag.max)) {
        continue;
      }
      const CLI::Option* option = app.get_option("--" + flag.name);
      throw CLI::ValidationError("--" + flag.name, "expected a number in " + flag.RangeText() +
                                 " for --optimizer " + flags.optimizer + ", got '" +
                                 option->as<std::string>() + "'");
    }
  });
  std::string choices;
  std::vector<std::string> names;
  for (const OptimizerInfo& info : Optimizers()) {
    choices += (choices.empty() ? "" : "; ") + info.name + ": " + info.summary;
    names.push_back(info.name);
  }
  app.add_option("--optimizer", flags.optimizer, choices)
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  // Each flag once: the optimizers that take it in the registry's order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const OptimizerFlag*>> takers;
  for (const OptimizerInfo& info : Optimizers()) {
    for (const OptimizerFlag& flag : info.flags) {
      auto [it, inserted] = takers.try_emplace(flag.name);
      if (inserted) order.push_back(flag.name);
      it->second.push_back(&flag);
    }
  }
  for (const std::string& name : order) {
    const std::vector<const OptimizerFlag*>& list = takers.at(name);
    double low = list[0]->min, high = list[0]->max;
    bool same_range = true;
    for (const OptimizerFlag* flag : list) {
      low = std::min(low, flag->min);
      high = std::max(high, flag->max);
      same_range = same_range && flag->min == list[0]->min && flag->max == list[0]->max;
    }
    // The help: each optimizer's, with its range where they differ and its default.
    std::string help;
    for (const OptimizerFlag* flag : list) {
      const auto preset = flags.values.find(name);
      const double default_value = preset != flags.values.end() ? preset->second : flag->default_value;
      help += (help.empty() ? "" : "; ") + flag->help + " [" +
              (same_range ? "" : "range " + flag->RangeText() + ", ") + "default " +
              Number(default_value) + "]";
    }
    app.add_option_function<double>(
           "--" + name, [&flags, name](double value) { flags.given[name] = value; }, help)
        ->check(RealNumber(low, high));
  }
}

std::map<std::string, double> OptimizerFlags::Chosen() const {
  std::map<std::string, double> chosen;
  for (const OptimizerFlag& flag : FindOptimizer(optimizer).flags) {
    const auto given_value = given.find(flag.name);
    const auto tool_value = values.find(flag.name);
    chosen[flag.name] = given_value != given.end()  ? given_value->second
                        : tool_value != values.end() ? tool_value->second
                                                     : flag.default_value;
  }
  return chosen;
}

void AddModelOptions(CLI::App& app, ModelFlags& flags,
                     const std::map<std::string, std::string>& default_note) {
  std::string choices;
  std::vector<std::string> names;
  for (const ModelInfo& info : Models()) {
    choices += (choices.empty() ? "" : "; ") + info.name + ": " + info.summary;
    names.push_back(info.name);
  }
  app.add_option("--model", flags.model, choices)->check(CLI::IsMember(names))->capture_default_str();
  // Each flag once: its help the models' helps joined, its check and default the first's.
  std::vector<std::string> order;
  std::map<std::string, std::pair<const ModelFlag*, std::string>> seen;
  for (const ModelInfo& info : Models()) {
    for (const ModelFlag& flag : info.flags) {
      auto [it, inserted] = seen.try_emplace(flag.name, &flag, flag.help + " (--model " + info.name + ")");
      if (inserted) {
        order.push_back(flag.name);
      } else {
        it->second.second += "; " + flag.help + " (--model " + info.name + ")";
      }
    }
  }
  for (const std::string& name : order) {
    const auto& [flag, help] = seen.at(name);
    const auto note = default_note.find(name);
    const std::string default_text = note != default_note.end() ? note->second
                                                                 : "default " + flag->default_value;
    const ModelFlag* checked = flag;
    app.add_option_function<std::string>(
           "--" + name, [&flags, name](const std::string& value) { flags.given[name] = value; },
           help + " [" + default_text + "]")
        ->check(CLI::Validator([checked](std::string& text) { return checked->check ? checked->check(text) : std::string(); },
                               ""));
  }
  // (AddOptimizerOptions holds the one final callback.)
  app.parse_complete_callback([&flags] {
    const ModelInfo& chosen = FindModel(flags.model);
    for (const auto& [name, value] : flags.given) {
      bool takes = false;
      for (const ModelFlag& flag : chosen.flags) takes = takes || flag.name == name;
      if (takes) continue;
      std::string owners;  // every model that takes the flag
      for (const ModelInfo& info : Models()) {
        for (const ModelFlag& flag : info.flags) {
          if (flag.name == name) owners += (owners.empty() ? "" : " or ") + info.name;
        }
      }
      throw CLI::ValidationError("--" + name, "applies to --model " + owners +
                                 " only, not to --model " + flags.model);
    }
  });
}

std::map<std::string, std::string> ModelFlags::Chosen() const {
  std::map<std::string, std::string> chosen;
  for (const ModelFlag& flag : FindModel(model).flags) {
    const auto given_value = given.find(flag.name);
    const auto tool_value = tool_defaults.find(flag.name);
    chosen[flag.name] = given_value != given.end() ? given_value->second
                        : tool_value != tool_defaults.end() ? tool_value->second
                                                            : flag.default_value;
  }
  return chosen;
}

}  // namespace hypergrad::experiments
