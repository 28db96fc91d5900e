// The sq_run_args pointer fields by the names the library's messages use: shared by the op harness and the
// multi-GPU tests.
#pragma once

#include <stdexcept>
#include <string>

#include "smoothquant/smoothquant.h"

namespace sqt {

inline const char* const kArgFields[] = {"act",          "weight",         "weight_scale", "bias",
                                         "smooth",       "act_scale_scratch", "out",       "act_scale",
                                         "weight_zero_point", "weight_sums", "act_zero_point", "act_sums",
                                         "absmax",       "residual",       "residual_out", "norm_weight"};

inline void set_arg(sq_run_args& a, const std::string& f, void* p) {
  if (f == "act") a.act = p;
  else if (f == "weight") a.weight = p;
  else if (f == "weight_scale") a.weight_scale = p;
  else if (f == "bias") a.bias = p;
  else if (f == "smooth") a.smooth = p;
  else if (f == "act_scale_scratch") a.act_scale_scratch = p;
  else if (f == "out") a.out = p;
  else if (f == "act_scale") a.act_scale = p;
  else if (f == "weight_zero_point") a.weight_zero_point = p;
  else if (f == "weight_sums") a.weight_sums = static_cast<const int32_t*>(p);
  else if (f == "act_zero_point") a.act_zero_point = p;
  else if (f == "act_sums") a.act_sums = static_cast<int32_t*>(p);
  else if (f == "absmax") a.absmax = p;
  else if (f == "residual") a.residual = p;
  else if (f == "residual_out") a.residual_out = p;
  else if (f == "norm_weight") a.norm_weight = p;
  else throw std::runtime_error("unknown sq_run_args field " + f);
}

inline const void* get_arg(const sq_run_args& a, const std::string& f) {
  if (f == "act") return a.act;
  if (f == "weight") return a.weight;
  if (f == "weight_scale") return a.weight_scale;
  if (f == "bias") return a.bias;
  if (f == "smooth") return a.smooth;
  if (f == "act_scale_scratch") return a.act_scale_scratch;
  if (f == "out") return a.out;
  if (f == "act_scale") return a.act_scale;
  if (f == "weight_zero_point") return a.weight_zero_point;
  if (f == "weight_sums") return a.weight_sums;
  if (f == "act_zero_point") return a.act_zero_point;
  if (f == "act_sums") return a.act_sums;
  if (f == "absmax") return a.absmax;
  if (f == "residual") return a.residual;
  if (f == "residual_out") return a.residual_out;
  if (f == "norm_weight") return a.norm_weight;
  throw std::runtime_error("unknown sq_run_args field " + f);
}

}  // namespace sqt
