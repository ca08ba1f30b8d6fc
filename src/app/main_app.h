// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace vigil::app {
// Parses the command line (CLI11) and runs one subcommand; returns the exit code.
int main(int argc, char** argv);
}  // namespace vigil::app
