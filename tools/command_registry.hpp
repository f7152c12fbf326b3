// The `tessel` CLI's subcommand registry. Each subcommand lives in its own file and registers itself with a
// namespace-scope command_registration, so main.cpp never changes when one is added. Every tool source is
// compiled straight into the executable (not a static library), so the linker cannot drop a registration.
//
// Thread safety: registration happens during static initialisation; afterwards the registry is only read.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace tessel::tools {

/// Runs a parsed subcommand; returns the process exit code (docs/tools.md: 0 ok, 1 usage, 2+ errc value).
using run_function = std::function<int()>;

/// Adds a subcommand's options to `app` (already named and described) and returns what runs it. The
/// returned function reads the option values bound during setup, so it runs only after parsing succeeded.
using setup_function = run_function (*)(CLI::App& app);

struct command_info {
  std::string_view name;
  std::string_view description;
  setup_function setup;
};

/// Every registered subcommand, in registration order (which across files is unspecified: sort for display).
[[nodiscard]] std::vector<command_info>& registered_commands();

/// Declare one at namespace scope in the subcommand's file: `const command_registration reg{{"bench", ...}};`
struct command_registration {
  explicit command_registration(command_info info) { registered_commands().push_back(info); }
};

}  // namespace tessel::tools
