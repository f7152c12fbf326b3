// The `tessel` command-line tool: builds one CLI11 app from the registered subcommands and runs the chosen one.
// Exit codes (docs/tools.md): 0 success, 1 usage error, 2 and up the tessel::errc value of the failure.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tessel/error.hpp"

#include "tools/command_registry.hpp"

namespace {

constexpr int exit_usage = 1;

}  // namespace

int main(int argc, char** argv) {
  using tessel::tools::command_info;
  CLI::App app{"tessel: inspect, test and benchmark tessel state stores", "tessel"};
  app.require_subcommand(1);

  std::vector<command_info> commands = tessel::tools::registered_commands();
  std::sort(commands.begin(), commands.end(),
            [](const command_info& a, const command_info& b) { return a.name < b.name; });
  // One runner per subcommand; only the one the user picked is called.
  std::vector<std::pair<CLI::App*, tessel::tools::run_function>> runners;
  for (const command_info& command : commands) {
    CLI::App* sub = app.add_subcommand(std::string(command.name), std::string(command.description));
    runners.emplace_back(sub, command.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 has its own exit codes per parse error; the tool promises exactly one for all of them.
    (void)app.exit(e);
    return exit_usage;
  }

  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const std::exception& e) {
    // Only std::bad_alloc from workload set-up can reach here; the store itself never throws.
    std::cerr << "tessel: " << e.what() << '\n';
    return static_cast<int>(tessel::errc::no_memory);
  }
  return exit_usage;
}
