# SPDX-License-Identifier: Apache-2.0
#
# One owner per table (docs/ARCHITECTURE.md, "Tables and owners"): every
# table is created, altered and written by the module that owns it; others
# call its typed functions. Run as a unit test:
#
#   cmake -DSRC_DIR=<repo>/src -DDOC=<repo>/docs/ARCHITECTURE.md -P table_owners.cmake
#
# It reads the owners from the documentation's table (rows
# "| `table` | `owner` | readers | known exceptions |"; a module named in
# backticks in the last column may write the table until it is fixed) and
# finds every SQL statement in src/<module>/ that creates, alters, drops,
# indexes, inserts into, updates or deletes from a table. It fails on:
#   - a write (or DDL) by a module that is neither the owner nor a listed exception,
#   - a table written or created in src/ that the documentation does not list.
# A listed table that nothing creates, and an exception that no longer
# occurs, are reported, not failed (so work landing in several commits does
# not break anyone's build); drop the row or the exception then.

cmake_minimum_required(VERSION 3.25)

if(NOT SRC_DIR OR NOT DOC)
  message(FATAL_ERROR "usage: cmake -DSRC_DIR=... -DDOC=... -P table_owners.cmake")
endif()

# ---- the documented owners ----
file(STRINGS ${DOC} doc_lines ENCODING UTF-8)
set(in_section FALSE)
set(tables "")
foreach(line IN LISTS doc_lines)
  if(line MATCHES "^## ")
    if(line MATCHES "^## Tables and owners")
      set(in_section TRUE)
    else()
      set(in_section FALSE)
    endif()
    continue()
  endif()
  if(NOT in_section)
    continue()
  endif()
  if(line MATCHES "^\\| `([a-z_][a-z0-9_]*)` \\| `([a-z]+)` \\|[^|]*\\|([^|]*)\\|")
    set(t ${CMAKE_MATCH_1})
    set(owner_${t} ${CMAKE_MATCH_2})
    set(extra "${CMAKE_MATCH_3}")
    string(REGEX MATCHALL "`[a-z]+`" ex "${extra}")
    string(REPLACE "`" "" ex "${ex}")
    set(except_${t} ${ex})
    set(seen_except_${t} "")
    list(APPEND tables ${t})
  endif()
endforeach()
list(LENGTH tables n_tables)
if(n_tables LESS 5)
  message(FATAL_ERROR "${DOC}: no 'Tables and owners' table found (rows \"| `table` | `owner` | readers | exceptions |\")")
endif()

# ---- the statements in src/ ----
set(ws "[ \t\r\n]+")
set(id "([a-z_][a-z0-9_]*)")
set(patterns
    "INSERT${ws}(OR${ws}[A-Z]+${ws})?INTO${ws}${id}"
    "REPLACE${ws}INTO${ws}${id}"
    "UPDATE${ws}${id}[ \t\r\n\"]+SET[ \t]"
    "DELETE${ws}FROM${ws}${id}"
    "CREATE${ws}(TEMP${ws}|TEMPORARY${ws})?TABLE${ws}(IF${ws}NOT${ws}EXISTS${ws})?${id}"
    "ALTER${ws}TABLE${ws}${id}"
    "DROP${ws}TABLE${ws}(IF${ws}EXISTS${ws})?${id}"
    "CREATE${ws}(UNIQUE${ws})?INDEX${ws}(IF${ws}NOT${ws}EXISTS${ws})?[a-z_0-9]+${ws}ON${ws}${id}")
set(creates "")
set(errors "")
file(GLOB_RECURSE files RELATIVE ${SRC_DIR} ${SRC_DIR}/*.cpp ${SRC_DIR}/*.h)
list(SORT files)
foreach(f IN LISTS files)
  if(NOT f MATCHES "^([a-z]+)/")
    continue()
  endif()
  set(module ${CMAKE_MATCH_1})
  file(READ ${SRC_DIR}/${f} text)
  foreach(p IN LISTS patterns)
    string(REGEX MATCHALL "${p}" hits "${text}")
    foreach(hit IN LISTS hits)
      string(REGEX MATCH "${p}" m "${hit}")
      # The table is the last group that is a name (copied first: if(MATCHES)
      # overwrites CMAKE_MATCH_<n>).
      set(groups "")
      foreach(i RANGE 1 9)
        list(APPEND groups "${CMAKE_MATCH_${i}}")
      endforeach()
      set(t "")
      foreach(g IN LISTS groups)
        if(g MATCHES "^[a-z_][a-z0-9_]*$")
          set(t ${g})
        endif()
      endforeach()
      if(t STREQUAL "")
        continue()
      endif()
      if(hit MATCHES "^CREATE" AND NOT hit MATCHES "INDEX")
        list(APPEND creates ${t})
      endif()
      if(NOT DEFINED owner_${t})
        list(APPEND errors "src/${f}: table '${t}' is not in the 'Tables and owners' table of ${DOC}")
      elseif(module STREQUAL owner_${t})
        # the owner
      elseif(module IN_LIST except_${t})
        list(APPEND seen_except_${t} ${module})
      else()
        list(APPEND errors
             "src/${f}: module '${module}' writes table '${t}', which '${owner_${t}}' owns (\"${hit}\"): call the owner's typed function instead")
      endif()
    endforeach()
  endforeach()
endforeach()

foreach(t IN LISTS tables)
  if(NOT t IN_LIST creates)
    message(STATUS "note: table '${t}' is listed, but nothing in src/ creates it (yet?): drop its row from ${DOC} if it is gone")
  endif()
  foreach(m IN LISTS except_${t})
    if(NOT m IN_LIST seen_except_${t})
      message(STATUS "note: '${m}' no longer writes '${t}': drop it from the exceptions in ${DOC}")
    endif()
  endforeach()
endforeach()

list(REMOVE_DUPLICATES errors)
if(errors)
  list(JOIN errors "\n  " text)
  message(FATAL_ERROR "One owner per table, violated:\n  ${text}")
endif()
message(STATUS "tables and owners: ${n_tables} tables, each written only by its owner (and the documented exceptions)")
