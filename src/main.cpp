// SPDX-License-Identifier: Apache-2.0
//
// vigil: the command line parses here and every module is wired in
// src/app/ (gateway.cpp for the running process, main_app.cpp for commands).
#include "app/main_app.h"

int main(int argc, char** argv) { return vigil::app::main(argc, argv); }
