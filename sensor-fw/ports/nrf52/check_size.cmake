# SPDX-License-Identifier: Apache-2.0
# Prints the ELF's flash/RAM use and fails above the budget.
# Inputs: SIZE (arm-none-eabi-size), ELF, FLASH_MAX, RAM_MAX (bytes).
execute_process(COMMAND ${SIZE} -B ${ELF} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "size failed")
endif()
string(REGEX MATCH "\n *([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)" m "${out}")
set(text ${CMAKE_MATCH_1})
set(data ${CMAKE_MATCH_2})
set(bss ${CMAKE_MATCH_3})
math(EXPR flash "${text} + ${data}")
math(EXPR ram "${data} + ${bss}")
message("${out}")
get_filename_component(name ${ELF} NAME)
message("${name}: flash ${flash} / ${FLASH_MAX} bytes, static RAM ${ram} / ${RAM_MAX} bytes (incl. stack)")
if(flash GREATER FLASH_MAX OR ram GREATER RAM_MAX)
  message(FATAL_ERROR "firmware over budget (flash ≤ ${FLASH_MAX}, RAM ≤ ${RAM_MAX})")
endif()
