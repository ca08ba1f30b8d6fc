# SPDX-License-Identifier: Apache-2.0
# Drives `vigil-virtual-sensor --gatt-serve` with a script of line commands
# and checks one answer per command; checks --make-test-image's output.
# Inputs: CLI, WORK (a scratch directory).
cmake_policy(SET CMP0007 NEW)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${CLI} --make-test-image --version 1.2.3 --size 4096 --bad --out ${WORK}/bad.bin
  RESULT_VARIABLE rc)
file(SIZE ${WORK}/bad.bin size)
file(READ ${WORK}/bad.bin head LIMIT 17 HEX)
if(NOT rc EQUAL 0 OR NOT size EQUAL 4096 OR NOT head STREQUAL "5647484f535446570302010054534f4801")
  message(FATAL_ERROR "--make-test-image: rc ${rc}, ${size} bytes, starts ${head}")
endif()
file(WRITE ${WORK}/in.txt "booted\nread 0013\nwrite 0021 0700000078000000b400fc00\nread 0022\nwrite 0021 0800000005000000b400fc00\nadverts\nwrite 0011 09\nread 0011\nbogus\nreboot\n")
execute_process(COMMAND ${CLI} --gatt-serve --address C0:FF:EE:00:00:01 --key 000102030405060708090a0b0c0d0e0f
    --state-dir ${WORK}/sensor --version 2.0.1
  INPUT_FILE ${WORK}/in.txt OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "--gatt-serve exited ${rc}")
endif()
string(REPLACE "\n" ";" lines "${out}")
list(REMOVE_ITEM lines "")
set(expect
  "booted 2.0.1 confirmed"
  "00000000000001000200000000000000"
  "ok"
  "0700000078000000b400fc0001000200"
  "err 13"
  "ADVERT" "ADVERT" "ADVERT" "ADVERT" "ADVERT"
  "err 13"
  "err 02"
  "err 06"
  "booted 2.0.1 confirmed")
list(LENGTH lines n)
list(LENGTH expect m)
if(NOT n EQUAL m)
  message(FATAL_ERROR "expected ${m} lines, got ${n}:\n${out}")
endif()
foreach(i RANGE 0 13)
  list(GET lines ${i} got)
  list(GET expect ${i} want)
  if(want STREQUAL "ADVERT")
    if(NOT got MATCHES "^0201061[0-9a-f]")
      message(FATAL_ERROR "line ${i}: not an advertisement: ${got}")
    endif()
  elseif(NOT got STREQUAL want)
    message(FATAL_ERROR "line ${i}: expected '${want}', got '${got}'\n${out}")
  endif()
endforeach()
