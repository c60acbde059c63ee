// Built-in exit reason names, used only when the recording's kvm_exit format
// carries no __print_symbolic table (the kernel's own table always wins).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace kvmlens {

const std::map<int64_t, std::string>& builtin_vmx_exit_reasons();
const std::map<int64_t, std::string>& builtin_svm_exit_reasons();

}  // namespace kvmlens
