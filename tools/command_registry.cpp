// The subcommand registry: see command_registry.hpp.
#include "tools/command_registry.hpp"

namespace tessel::tools {

std::vector<command_info>& registered_commands() {
  // A function-local static, so registrations from other files' static initialisers find it constructed.
  static std::vector<command_info> commands;
  return commands;
}

}  // namespace tessel::tools
